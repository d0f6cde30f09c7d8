"""memscope run --heap-at-exit / --heap-on-signal: heap snapshots of a
recorded program as its main module finishes (even on an exception) and on
each SIGUSR2, numbered; the program's behaviour is unchanged."""
import os
import signal

import pytest

from conftest import memscope

PROGRAM = '''
import os, signal, sys
class Keep:
    pass
keep = [Keep() for _ in range(1234)]
if "signal" in sys.argv:
    os.kill(os.getpid(), signal.SIGUSR2)
    keep += [Keep() for _ in range(100)]
    os.kill(os.getpid(), signal.SIGUSR2)
if "raise" in sys.argv:
    raise ValueError("boom")
print("done", len(keep))
'''


def keep_count(snapshot):
    out = memscope("heap", snapshot, "--by", "type", "--limit", "0").stdout
    row = next(line for line in out.splitlines() if line.endswith(" __main__.Keep"))
    return int(row.split()[1])


def test_heap_at_exit(run_script, tmp_path):
    heap = tmp_path / "exit.heap"
    _, proc = run_script(PROGRAM, extra=("--heap-at-exit", heap))
    assert proc.stdout == "done 1234\n"
    assert keep_count(heap) == 1234
    assert f"heap snapshot written to '{heap}'" in proc.stderr


def test_heap_at_exit_after_an_uncaught_exception(run_script, tmp_path):
    heap = tmp_path / "exit.heap"
    _, proc = run_script(PROGRAM, "raise", extra=("--heap-at-exit", heap), check=False)
    assert proc.returncode == 1 and "ValueError: boom" in proc.stderr
    assert keep_count(heap) == 1234


def test_heap_on_signal_numbers_each_snapshot(run_script, tmp_path):
    heap = tmp_path / "sig.heap"
    _, proc = run_script(PROGRAM, "signal", extra=("--heap-on-signal", heap))
    assert proc.stdout == "done 1334\n"
    assert keep_count(f"{heap}.1") == 1234
    assert keep_count(f"{heap}.2") == 1334
    assert not os.path.exists(f"{heap}.3")


def test_sigusr2_untouched_without_the_option(run_script):
    source = "import signal\nprint(signal.getsignal(signal.SIGUSR2) == signal.SIG_DFL)\n"
    _, proc = run_script(source)
    assert proc.stdout == "True\n"


def test_unwritable_heap_path_warns_and_runs_on(run_script, tmp_path):
    heap = tmp_path / "no" / "such" / "dir.heap"
    _, proc = run_script(PROGRAM, extra=("--heap-at-exit", heap))
    assert proc.returncode == 0 and proc.stdout == "done 1234\n"
    assert "memscope: warning: no heap snapshot" in proc.stderr
