"""The traced program is never hung or crashed by the recorder: tracemalloc
running beside it in either start order (with the two tools agreeing),
subinterpreters, and Tracker start/stop from several threads. Each program
runs in a child process with a time limit, so a hang fails the test instead
of stalling the suite."""
import glob
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from conftest import CLI, ROOT, _TREE, memscope

LIMIT_S = 120  # far beyond what each child needs; only a hang reaches it


def run_child(tmp_path, source, *args):
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(source))
    env = dict(os.environ, PYTHONPATH=str(_TREE / "python"))
    try:
        return subprocess.run([sys.executable, str(script), *map(str, args)], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=LIMIT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the program hung for {LIMIT_S} s")


def table(capture):
    return json.loads(memscope("table", capture, "--at", "exit", "--by", "line",
                               "--limit", "0", "--json").stdout)["rows"]


BESIDE_TRACEMALLOC = """\
    import json, sys, tracemalloc
    import memscope

    order, capture = sys.argv[1], sys.argv[2]
    if order == "tracemalloc-first":
        tracemalloc.start(1)
        tracker = memscope.Tracker(capture).start()
    else:
        tracker = memscope.Tracker(capture).start()
        tracemalloc.start(1)

    # Code objects made while both record: naming each one in memscope used
    # to allocate through the Python allocators from inside tracemalloc's
    # locked section.
    held = []
    for i in range(300):
        namespace = {}
        exec(f"def f{i}():\\n    return [bytearray(1000) for _ in range(50)]", namespace)
        held.append(namespace[f"f{i}"]())
    blobs = [bytearray(200_000) for _ in range(100)]  # BLOBS

    snapshot = tracemalloc.take_snapshot()
    line = next(n for n, text in enumerate(open(__file__), 1) if text.endswith("# BLOBS\\n"))
    traced = sum(s.size for s in snapshot.statistics("lineno")
                 if s.traceback[0].filename == __file__ and s.traceback[0].lineno == line)
    if order == "tracemalloc-first":
        tracker.stop()
        tracemalloc.stop()
    else:
        tracemalloc.stop()
        tracker.stop()
    print(json.dumps({"line": line, "traced": traced}))
    """


@pytest.mark.parametrize("order", ["tracemalloc-first", "memscope-first"])
def test_beside_tracemalloc_no_hang_and_the_same_bytes(tmp_path, order):
    capture = tmp_path / "both.msc"
    proc = run_child(tmp_path, BESIDE_TRACEMALLOC, order, capture)
    assert proc.returncode == 0, proc.stderr
    truth = json.loads(proc.stdout)
    assert truth["traced"] >= 100 * 200_000
    ours = sum(r["bytes"] for r in table(capture)
               if r["file"].endswith("child.py") and r["line"] == truth["line"])
    assert abs(ours - truth["traced"]) <= 0.01 * truth["traced"], (ours, truth)


SUBINTERPRETERS = """\
    import os, pickle, sys
    import _testcapi
    import memscope

    tracker = memscope.Tracker(sys.argv[1]).start()
    keep = [bytearray(1000) for _ in range(100)]
    # test_capi's test_subinterps, and an allocating function: imports and
    # exceptions handled inside the subinterpreter (a hook's PyErr_Clear
    # used to wipe one mid-raise).
    r, w = os.pipe()
    code = '''if 1:
        import sys, builtins, pickle
        with open({:d}, "wb") as f:
            pickle.dump(id(sys.modules), f)
            pickle.dump(id(builtins), f)
        def f():
            return [bytearray(100) for _ in range(500)]
        x = f()
        '''.format(w)
    with open(r, "rb") as f:
        assert _testcapi.run_in_subinterp(code) == 0
        assert pickle.load(f) != id(sys.modules)
    own_gil = None
    try:
        import _interpreters as own_gil  # 3.13
    except ImportError:
        try:
            import _xxsubinterpreters as own_gil  # 3.12
        except ImportError:
            pass
    if own_gil is not None:  # an interpreter with a GIL of its own
        interp = own_gil.create()
        own_gil.run_string(interp, "x = [bytearray(100) for _ in range(500)]")
        own_gil.destroy(interp)
    try:
        raise KeyError("pending")
    except KeyError as e:
        assert e.args == ("pending",)
    tracker.stop()
    print("ok")
    """


def test_subinterpreters_run_under_the_recorder(tmp_path):
    capture = tmp_path / "sub.msc"
    proc = run_child(tmp_path, SUBINTERPRETERS, capture)
    assert proc.returncode == 0 and proc.stdout == "ok\n", proc.stderr
    rows = table(capture)
    assert any(r["file"].endswith("child.py") and r["bytes"] >= 100_000 for r in rows)


def test_subinterpreters_under_memscope_run(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text("import _testcapi\n"
                      "assert _testcapi.run_in_subinterp('x = [bytearray(10) for _ in range(99)]') == 0\n"
                      "print('ok')\n")
    proc = memscope("run", "-o", tmp_path / "prog.msc", script, cwd=tmp_path, timeout=LIMIT_S)
    assert proc.stdout.endswith("ok\n")


THREADS_START_STOP = """\
    import os, sys, threading
    import memscope

    out = sys.argv[1]
    errors, done = [], []
    barrier = threading.Barrier(4)

    def worker(n):
        barrier.wait()
        for i in range(30):
            try:
                tracker = memscope.Tracker(os.path.join(out, f"t{n}-{i}.msc")).start()
            except RuntimeError:
                continue  # another thread's capture is running
            junk = [bytearray(100) for _ in range(200)]
            try:
                done.append(tracker.stop())
            except RuntimeError as e:
                errors.append(e)
            del junk

    def allocator():
        barrier.wait()
        for _ in range(2000):
            [str(i) for i in range(50)]

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    threads.append(threading.Thread(target=allocator))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tracker = memscope.Tracker(os.path.join(out, "last.msc")).start()
    try:
        memscope.Tracker(os.path.join(out, "extra.msc")).start()
    except RuntimeError as e:
        print("extra start:", e)
    tracker.stop()
    print(len(done), len(errors))
    """


def test_start_stop_from_several_threads(tmp_path):
    proc = run_child(tmp_path, THREADS_START_STOP, tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("extra start: memscope is already recording")
    stopped, errors = map(int, lines[1].split())
    assert stopped >= 1
    assert not (tmp_path / "extra.msc").exists()
    captures = sorted(tmp_path.glob("t*.msc"))
    assert len(captures) == stopped
    for c in captures:
        memscope("stats", c, "--json")


def test_an_unsupported_interpreter_is_refused_in_one_line(tmp_path):
    old = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.10.*/bin/python3")))
    if not old:
        pytest.skip("no CPython 3.10 to try")
    proc = subprocess.run([old[-1], "-c", "import memscope"], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(_TREE / "python")),
                          timeout=LIMIT_S)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: memscope supports CPython 3.11, 3.12 and 3.13")
    assert "3.10." in last
    # memscope run's launcher: the same line, and a usage error's exit code
    run = memscope("run", "-o", tmp_path / "x.msc", "-c", "print(1)", check=False,
                   env={"MEMSCOPE_PYTHON": old[-1]}, timeout=LIMIT_S)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.strip().splitlines() == [last.split(": ", 1)[1]]
    # and the build: one line before any compiler error
    build = subprocess.run(["make", "-s", "-C", str(ROOT), f"PYTHON={old[-1]}", "py-supported"],
                           capture_output=True, text=True, timeout=LIMIT_S)
    assert build.returncode != 0
    assert build.stderr.splitlines()[0] == (
        "memscope: the extension supports CPython 3.11, 3.12 and 3.13 with the GIL, not "
        + last.rsplit(" ", 1)[1] + " (docs/versions.md)")


AFTER_TRACEMALLOC_STOPS = """\
    import sys, tracemalloc
    import memscope

    tracemalloc.start()
    with memscope.Tracker(sys.argv[1]):
        pass
    tracemalloc.stop()  # puts back the allocators it found, without memscope's
    with memscope.Tracker(sys.argv[2]):
        blobs = [bytearray(100_000) for _ in range(50)]  # BLOBS
    print(next(n for n, text in enumerate(open(__file__), 1) if text.endswith("# BLOBS\\n")))
    """


def test_recording_again_after_tracemalloc_stopped(tmp_path):
    first, second = tmp_path / "first.msc", tmp_path / "second.msc"
    proc = run_child(tmp_path, AFTER_TRACEMALLOC_STOPS, first, second)
    assert proc.returncode == 0, proc.stderr
    line = int(proc.stdout)
    ours = sum(r["bytes"] for r in table(second)
               if r["file"].endswith("child.py") and r["line"] == line)
    assert 50 * 100_000 <= ours <= 50 * 100_000 * 1.01


def regrtest(*args, limit=LIMIT_S):
    """Totals and result lines of CPython's regression test runner."""
    try:
        proc = subprocess.run(list(args), capture_output=True, text=True, timeout=limit,
                              env=dict(os.environ, MEMSCOPE_PYTHON=sys.executable))
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(map(str, args))} hung for {limit} s")
    return [l for l in proc.stdout.splitlines()
            if l.startswith(("Total tests:", "Result:", "FAIL:", "ERROR:"))], proc.returncode


# CPython's own tests of what the recorder touches: tracemalloc beside it
# (test_tracemalloc used to hang in TestCAPI), the collector, weak references,
# generators (inlined frames), and threads in subinterpreters.
CPYTHON_TESTS = [["test_tracemalloc", "test_gc", "test_weakref", "test_generators"],
                 ["test_threading", "-m", "SubinterpThreadingTests"]]


def outcome(result):
    """(tests run, passed) from regrtest's lines: a test that failed and then
    passed when run again (-w) passed; some of CPython's tests time threads
    and fail now and then on a loaded machine, with or without a recorder."""
    (lines, code) = result
    totals = [l for l in lines if l.startswith("Total tests:")]
    run = re.search(r"run=(\d+)", totals[0]).group(1) if totals else None
    return run, code == 0 and bool(lines) and lines[-1].endswith("SUCCESS")


@pytest.mark.parametrize("tests", CPYTHON_TESTS, ids=lambda t: t[0])
def test_cpython_tests_pass_under_memscope_run_as_they_pass_plain(tmp_path, tests):
    plain = regrtest(sys.executable, "-m", "test", "-w", *tests)
    if not outcome(plain)[1]:
        pytest.skip(f"CPython's own tests fail here without memscope: {plain}")
    assert outcome(plain)[0] not in (None, "0"), plain
    traced = regrtest(str(CLI), "run", "-o", tmp_path / "cpython.msc", "-m", "test", "-w", *tests)
    assert outcome(traced) == outcome(plain), (traced, plain)
