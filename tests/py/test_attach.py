"""memscope attach from a user's side: a Python process started without
memscope, allocating in a loop, is recorded and snapshotted from outside,
and goes on and ends exactly as it would have; what cannot be attached to is
refused in one line."""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import memscope

pytestmark = pytest.mark.skipif(shutil.which("gdb") is None, reason="attach needs gdb")

SERVICE = """
import os, sys, time
kept = []

def handle(i):
    kept.append(bytearray(10_000))

print("ready", flush=True)
i = 0
while not os.path.exists(sys.argv[1]):
    handle(i)
    i += 1
    time.sleep(0.002)
print("done", len(kept) == i)
"""


@pytest.fixture
def service(tmp_path):
    script = tmp_path / "service.py"
    script.write_text(SERVICE)
    stop = tmp_path / "stop"
    proc = subprocess.Popen([sys.executable, str(script), str(stop)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    assert proc.stdout.readline() == "ready\n"

    def finish():
        stop.touch()
        out, err = proc.communicate(timeout=60)
        return proc.returncode, out, err
    yield proc, finish
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def wait_for(predicate, what):
    for _ in range(3000):
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def test_attach_records_a_running_process(service, tmp_path):
    proc, finish = service
    capture = tmp_path / "svc.msc"
    started = memscope("attach", proc.pid, "-o", capture)
    assert started.stdout.splitlines()[0] == (f"memscope: recording process {proc.pid} into "
                                              f"{capture} (until it exits, or attach --stop)")
    # Let the loop run recorded for a while, then stop from outside.
    wait_for(lambda: capture.stat().st_size > 4096, "the capture to grow")
    stopped = memscope("attach", proc.pid, "--stop")
    assert stopped.stdout == f"memscope: stopped recording process {proc.pid} into {capture}\n"
    code, out, err = finish()
    assert (code, out, err) == (0, "done True\n", "")

    rows = json.loads(memscope("table", capture, "--at", "exit", "--json").stdout)["rows"]
    top = rows[0]
    assert (top["file"], top["function"], top["line"]) == (str(tmp_path / "service.py"),
                                                            "handle", 6)
    # Every bytearray made while recording is still held: an object and its
    # 10,001-byte buffer each, and the list's storage as it grows.
    made = top["allocations"] // 2
    assert made >= 1
    assert 10_001 * made <= top["bytes"] <= 10_200 * made


def test_attach_duration_stops_by_itself(service, tmp_path):
    proc, finish = service
    capture = tmp_path / "short.msc"
    memscope("attach", proc.pid, "-o", capture, "--duration", "0.3")
    # The recording ends on its own: the capture becomes readable and stops growing.
    wait_for(lambda: memscope("stats", capture, check=False).returncode == 0, "a finished capture")
    refused = memscope("attach", proc.pid, "--stop", check=False)
    assert refused.returncode == 2
    assert refused.stderr == f"memscope: process {proc.pid}: not recording\n"
    assert finish() == (0, "done True\n", "")


def test_attach_heap_snapshot(service, tmp_path):
    proc, finish = service
    heap = tmp_path / "svc.heap"
    out = memscope("attach", proc.pid, "--heap", heap).stdout
    assert out.splitlines()[0] == f"memscope: wrote a heap snapshot of process {proc.pid} to {heap}"
    kinds = json.loads(memscope("heap", heap, "--by", "kind", "--json").stdout)
    rows = {row["name"]: row for row in kinds["rows"]}
    assert rows["bytearray"]["count"] >= 1
    assert finish() == (0, "done True\n", "")


def test_attach_refuses_what_it_cannot_attach_to(tmp_path):
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        proc = memscope("attach", sleeper.pid, check=False)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == (f"memscope: process {sleeper.pid} is not a CPython 3.11 or newer "
                           f"interpreter\n")
    gone = memscope("attach", sleeper.pid, check=False)
    assert (gone.returncode, gone.stderr) == (2, f"memscope: no process {sleeper.pid}\n")
    bad = memscope("attach", "12x", check=False)
    assert bad.returncode == 2
    assert bad.stderr.splitlines()[0] == "memscope: attach wants a process id, not '12x'"


def test_attach_never_overwrites(service, tmp_path):
    proc, finish = service
    existing = tmp_path / "kept.msc"
    existing.write_text("mine")
    refused = memscope("attach", proc.pid, "-o", existing, check=False)
    assert refused.returncode == 2
    assert refused.stderr == (f"memscope: '{existing}' already exists (use --force to replace "
                              f"a regular file)\n")
    assert existing.read_text() == "mine"
    assert finish() == (0, "done True\n", "")
