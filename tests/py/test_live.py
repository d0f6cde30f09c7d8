"""memscope live from a user's side: piped, it prints plain blocks and ends
with the program; on a terminal (a pseudo-terminal driven by pexpect) it
redraws in place and quits on q; a file that is not a capture gets one line."""
import json
import os
import re
import platform
import subprocess
import sys
import time

import pexpect
import pytest

from conftest import CLI, memscope

GROWING = """
import os, sys, time
kept = []
while not os.path.exists(sys.argv[1]):
    kept.append(bytearray(50_000))
    time.sleep(0.005)
"""


def test_piped_view_of_a_finished_capture(run_script):
    capture, _ = run_script("kept = [bytearray(100_000) for _ in range(40)]\n")
    out = memscope("live", capture).stdout
    stats = json.loads(memscope("stats", capture, "--json").stdout)
    assert "\033" not in out
    assert out.startswith(f"memscope live: {capture}  (ended, ")
    heap = re.search(r"^Heap now +(\S+ \S+) +peak (\S+ \S+) at", out, re.M)
    assert heap, out
    mib = f"{stats['leaked_bytes'] / 2**20:.1f} MiB"
    assert heap.groups() == (mib, f"{stats['peak_bytes'] / 2**20:.1f} MiB")
    live = out.split("Live now, by line:\n")[1].splitlines()
    assert re.match(r" +3\.8 MiB +0 B  \S*prog\.py:1 in <(listcomp|module)>$", live[1]), live


def test_terminal_view_follows_a_running_program_and_quits_on_q(tmp_path):
    script = tmp_path / "grow.py"
    script.write_text(GROWING)
    capture, stop = tmp_path / "grow.msc", tmp_path / "stop"
    env = dict(os.environ, MEMSCOPE_PYTHON=sys.executable)
    program = subprocess.Popen([str(CLI), "run", "-o", str(capture), str(script), str(stop)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(3000):
            if capture.exists() and capture.stat().st_size > 64:
                break
            time.sleep(0.01)
        view = pexpect.spawn(str(CLI), ["live", str(capture), "--interval", "0.2"],
                             encoding="utf-8", timeout=30, dimensions=(40, 160))
        view.expect(r"\(recording, ")
        view.expect(r"grow\.py:5 in <module>")
        # Redrawn in place: the screen is cleared before each refresh.
        view.expect_exact("\033[H\033[2J")
        view.expect("q quits")
        view.send("q")
        view.expect(pexpect.EOF)
        view.close()
        assert view.exitstatus == 0
    finally:
        stop.touch()
        program.communicate(timeout=60)
    assert program.returncode == 0


def test_not_a_capture(tmp_path):
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello, this is not a capture\n")
    proc = memscope("live", bogus, check=False)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert len(proc.stderr.splitlines()) == 1
    assert proc.stderr.startswith(f"memscope: cannot read '{bogus}': ")


def test_live_pid_attaches_watches_and_stops(tmp_path):
    if platform.machine() != "x86_64":
        pytest.skip("attach calls into a process on x86-64")
    script = tmp_path / "grow.py"
    script.write_text(GROWING)
    capture, stop = tmp_path / "svc.msc", tmp_path / "stop"
    program = subprocess.Popen([sys.executable, str(script), str(stop)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        view = pexpect.spawn(str(CLI), ["live", "--pid", str(program.pid), "-o", str(capture),
                                        "--interval", "0.2"],
                             encoding="utf-8", timeout=60, dimensions=(40, 160))
        view.expect(r"\(recording, ")
        view.expect(r"grow\.py:5 in <module>")
        view.expect("q quits")
        view.send("q")
        view.expect(f"memscope: stopped recording process {program.pid}; the capture is "
                    f"{capture}")
        view.expect(pexpect.EOF)
        view.close()
        assert view.exitstatus == 0
    finally:
        stop.touch()
        out, err = program.communicate(timeout=60)
    assert (program.returncode, out, err) == (0, "", "")
    rows = json.loads(memscope("table", capture, "--at", "exit", "--json").stdout)["rows"]
    assert (rows[0]["function"], rows[0]["line"]) == ("<module>", 5)


def test_names_are_escaped(run_script):
    capture, _ = run_script(
        "def make():\n    return bytearray(2_000_000)\n"
        "make.__code__ = make.__code__.replace(co_name='\\x1b]0;pwn\\x07', "
        "co_qualname='\\x1b]0;pwn\\x07')\nkept = make()\n")
    out = memscope("live", capture).stdout
    assert "\x1b" not in out and "\x07" not in out
    assert "in \\x1b]0;pwn\\x07" in out
