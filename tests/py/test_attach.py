"""memscope attach from a user's side: a Python process started without
memscope, allocating in a loop, is recorded and snapshotted from outside,
and goes on and ends exactly as it would have; what cannot be attached to is
refused in one line."""
import json
import os
import platform
import signal
import subprocess
import sys
import time

import pytest

from conftest import memscope

pytestmark = pytest.mark.skipif(platform.machine() != "x86_64",
                                reason="attach calls into a process on x86-64")

SERVICE = """
import os, sys, time
kept = [None] * 100_000

def handle(i):
    kept[i] = bytearray(10_000)

handle(0)
print("ready", flush=True)
i = 1
while not os.path.exists(sys.argv[1]):
    handle(i)
    i += 1
    time.sleep(0.002)
print("done", kept.count(None) == len(kept) - i)
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

    # The capture names the program's own command line, not the bootstrap's.
    stats = json.loads(memscope("stats", capture, "--json").stdout)
    assert stats["argv"] == [str(tmp_path / "service.py"), str(tmp_path / "stop")]
    rows = json.loads(memscope("table", capture, "--at", "exit", "--json").stdout)["rows"]
    top = rows[0]
    assert (top["file"], top["function"], top["line"]) == (str(tmp_path / "service.py"),
                                                            "handle", 6)
    # Every bytearray made while recording is still held: an object and its
    # 10,001-byte buffer each (the list never grows: however short the
    # recording, no storage of its counts at the line). The stop request
    # allocates nothing while recording, wherever in handle() it ran.
    made = top["allocations"] // 2
    assert made >= 1 and top["allocations"] == 2 * made
    assert top["bytes"] == made * sys.getsizeof(bytearray(10_000))


def test_attach_duration_stops_by_itself(service, tmp_path):
    proc, finish = service
    capture = tmp_path / "short.msc"
    memscope("attach", proc.pid, "-o", capture, "--duration", "0.3")
    # The recording ends on its own: the capture is closed, complete.
    def complete():
        stats = memscope("stats", capture, "--json", check=False)
        return stats.returncode == 0 and json.loads(stats.stdout)["complete"]
    wait_for(complete, "a finished capture")
    refused = memscope("attach", proc.pid, "--stop", check=False)
    assert refused.returncode == 2
    assert refused.stderr == f"memscope: process {proc.pid}: not recording\n"
    assert finish() == (0, "done True\n", "")


def test_attach_stop_then_start_again(service, tmp_path):
    """A recording stopped early with --stop leaves its --duration timer
    behind; when it fires, the next recording goes on."""
    proc, finish = service
    first, second = tmp_path / "first.msc", tmp_path / "second.msc"
    memscope("attach", proc.pid, "-o", first, "--duration", "0.5")
    memscope("attach", proc.pid, "--stop")
    memscope("attach", proc.pid, "-o", second)
    time.sleep(1.0)  # past the first recording's 0.5 s
    stopped = memscope("attach", proc.pid, "--stop")
    assert stopped.stdout == f"memscope: stopped recording process {proc.pid} into {second}\n"
    assert finish() == (0, "done True\n", "")
    for capture in (first, second):
        assert json.loads(memscope("stats", capture, "--json").stdout)["complete"]


def test_attach_stop_leaves_the_programs_own_recording(tmp_path):
    """A recording the program started itself is the program's to stop:
    --stop refuses it, and the program's own stop still works."""
    import memscope as package
    script, stop = tmp_path / "own.py", tmp_path / "stop"
    script.write_text(
        "import os, sys, time\n"
        f"sys.path.insert(0, {os.path.dirname(os.path.dirname(package.__file__))!r})\n"
        "import memscope\n"
        "with memscope.Tracker(sys.argv[2]):\n"
        "    print('ready', flush=True)\n"
        "    while not os.path.exists(sys.argv[1]):\n"
        "        time.sleep(0.002)\n"
        "print('done')\n")
    capture = tmp_path / "own.msc"
    proc = subprocess.Popen([sys.executable, str(script), str(stop), str(capture)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        refused = memscope("attach", proc.pid, "--stop", check=False)
        assert refused.returncode == 2
        assert refused.stderr == (f"memscope: process {proc.pid}: its recording into '{capture}' "
                                  "was started by the program, which stops it (--stop ends what "
                                  "attach started)\n")
    finally:
        stop.touch()
        out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out, err) == (0, "done\n", "")
    assert json.loads(memscope("stats", capture, "--json").stdout)["complete"]


def test_attach_heap_snapshot(service, tmp_path):
    proc, finish = service
    heap = tmp_path / "svc.heap"
    out = memscope("attach", proc.pid, "--heap", heap).stdout
    assert out.splitlines()[0] == f"memscope: wrote a heap snapshot of process {proc.pid} to {heap}"
    kinds = json.loads(memscope("heap", heap, "--by", "kind", "--limit", "0", "--json").stdout)
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


ARITHMETIC = """
import os, sys
def series():
    x = 0.0
    for i in range(1, 3000):
        x += 1.0 / (i * i) + (i % 7) * 0.125
    return x
expected = series()
print("ready", flush=True)
rounds = same = 0
while not os.path.exists(sys.argv[1]):
    rounds += 1
    same += series() == expected
print("consistent" if same == rounds > 0 else f"{rounds - same} of {rounds} differ")
print(*sorted(globals()))
"""


def test_attach_leaves_registers_as_they_were(tmp_path):
    """The main thread is stopped wherever it happens to be, in the middle
    of floating-point work, again and again: every register, vector ones
    included, must come back as it was, and the program's globals too."""
    script, stop = tmp_path / "arith.py", tmp_path / "stop"
    script.write_text(ARITHMETIC)
    proc = subprocess.Popen([sys.executable, str(script), str(stop)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        for _ in range(25):
            asked = memscope("attach", proc.pid, "--stop", check=False)
            assert asked.stderr == f"memscope: process {proc.pid}: not recording\n"
        stop.touch()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # Nothing of the requests is left in the program's namespace either.
    names = "__annotations__ __builtins__ __cached__ __doc__ __file__ __loader__ __name__ " \
            "__package__ __spec__ expected os rounds same series sys"
    assert (proc.returncode, out, err) == (0, f"consistent\n{names}\n", "")


BLOCKED = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
buf = ctypes.create_string_buffer(64)
print("ready", flush=True)
got = libc.read(0, buf, 64)   # the C call itself: no retry on EINTR
print(got, ctypes.get_errno() if got < 0 else buf.raw[:got], flush=True)
"""


def test_attach_to_a_thread_blocked_in_a_system_call(tmp_path):
    """A main thread blocked in read() cannot answer until the read returns;
    the read itself must go on as if nothing happened (restarted, not
    failed with EINTR), and the queued request then runs."""
    script, heap = tmp_path / "blocked.py", tmp_path / "late.heap"
    script.write_text(BLOCKED)
    proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        time.sleep(0.2)   # into the read
        asked = memscope("attach", proc.pid, "--heap", heap, "--timeout", "0.5", check=False)
        assert asked.returncode == 2
        assert asked.stderr.startswith(f"memscope: process {proc.pid} did not answer within "
                                       f"0.5 s: its main thread is not running Python code")
        out, err = proc.communicate("hello\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (proc.returncode, out, err) == (0, "6 b'hello\\n'\n", "")
    # The request stayed queued and ran at the next bytecode.
    kinds = json.loads(memscope("heap", heap, "--by", "kind", "--json").stdout)
    assert any(row["name"] == "str" and row["count"] > 1000 for row in kinds["rows"])


def test_attach_leaves_a_stopped_process_stopped(service, tmp_path):
    proc, finish = service
    os.kill(proc.pid, signal.SIGSTOP)
    wait_for(lambda: process_state(proc.pid) == "T", "the process to stop")
    refused = memscope("attach", proc.pid, "--heap", tmp_path / "no.heap", check=False)
    assert (refused.returncode, refused.stderr) == (
        2, f"memscope: process {proc.pid} refused the request (it is stopped (send it SIGCONT "
           f"first))\n")
    assert process_state(proc.pid) == "T"
    assert not (tmp_path / "no.heap").exists()
    os.kill(proc.pid, signal.SIGCONT)
    assert finish() == (0, "done True\n", "")


def process_state(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]
