"""Long-running services: recording switched on and off by a signal the user
chooses (--toggle-on), and heap snapshots on a chosen signal (--heap-signal),
driven from outside as an operator would, with kill."""
import json
import os
import signal
import subprocess
import sys
import time

from conftest import CLI, memscope

SERVICE = """
import os, sys, time
kept = []
print("ready", flush=True)
while not os.path.exists(sys.argv[1]):
    kept.append(bytearray(10_000))
    time.sleep(0.002)
print("done")
"""


def start(tmp_path, *options):
    script = tmp_path / "service.py"
    script.write_text(SERVICE)
    stop = tmp_path / "stop"
    proc = subprocess.Popen([str(CLI), "run", *options, str(script), str(stop)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, MEMSCOPE_PYTHON=sys.executable))
    assert proc.stdout.readline() == "ready\n"
    return proc, stop


def wait_for(predicate, what):
    for _ in range(3000):
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def stats(path):
    proc = memscope("stats", path, "--json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else {}


def complete(path):
    return stats(path).get("complete", False)


def test_toggle_on_records_only_between_signals(tmp_path):
    proc, stop = start(tmp_path, "--toggle-on", "USR1", "-o", "svc.msc")
    first, second = tmp_path / "svc.msc.1", tmp_path / "svc.msc.2"
    time.sleep(0.2)
    assert not first.exists() and not (tmp_path / "svc.msc").exists()
    proc.send_signal(signal.SIGUSR1)              # on
    wait_for(first.exists, "the first recording")
    wait_for(lambda: stats(first).get("allocations", 0) > 200, "the first recording to grow")
    proc.send_signal(signal.SIGUSR1)              # off
    wait_for(lambda: complete(first), "the first recording to end")
    proc.send_signal(signal.SIGUSR1)              # on again
    wait_for(second.exists, "the second recording")
    stop.touch()                                  # the program ends while recording
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out) == (0, "done\n")
    assert f"memscope: recording to '{first}'" in err
    assert f"memscope: recording to '{second}'" in err
    assert complete(second)
    # What the first recording saw the loop allocate is still held at its end.
    rows = json.loads(memscope("table", first, "--at", "exit", "--json").stdout)["rows"]
    assert (rows[0]["function"], rows[0]["line"]) == ("<module>", 6)


def test_heap_snapshot_on_a_chosen_signal(tmp_path):
    proc, stop = start(tmp_path, "--heap-signal", "HUP", "--heap-on-signal", "svc.heap",
                       "-o", "svc.msc")
    wait_for(lambda: stats(tmp_path / "svc.msc").get("allocations", 0) > 200,
             "the service to get going")
    proc.send_signal(signal.SIGHUP)
    snapshot = tmp_path / "svc.heap.1"
    wait_for(lambda: snapshot.exists() and memscope("heap", snapshot, check=False).returncode == 0,
             "the heap snapshot")
    stop.touch()
    out, _ = proc.communicate(timeout=60)
    assert (proc.returncode, out) == (0, "done\n")
    kinds = json.loads(memscope("heap", snapshot, "--by", "kind", "--limit", "0", "--json").stdout)
    assert any(r["name"] == "bytearray" and r["count"] >= 1 for r in kinds["rows"])


def test_signal_options_refuse_what_they_cannot_use(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text("print(1)\n")
    bad = memscope("run", "--toggle-on", "BOGUS", script, check=False)
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr.splitlines()[0] == ("memscope: --toggle-on wants a signal such as USR1, "
                                          "HUP or a real-time signal's number, not 'BOGUS'")
    same = memscope("run", "--toggle-on", "USR2", "--heap-on-signal", "x.heap", script,
                    check=False)
    assert same.returncode == 2
    assert same.stderr.splitlines()[0] == ("memscope: --toggle-on and --heap-on-signal need "
                                           "two different signals (choose the heap's with "
                                           "--heap-signal)")
