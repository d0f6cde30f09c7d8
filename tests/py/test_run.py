"""`memscope run` end to end: known allocations land on the right lines with
the right bytes, and the traced program behaves exactly as it does without
memscope (output, exit code, tracebacks, argv, signals, threads, fork)."""
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap

import pytest

from conftest import memscope


def table(capture, at="peak", by="line", limit=0):
    out = memscope("table", capture, "--at", at, "--by", by, "--limit", limit, "--json").stdout
    return json.loads(out)["rows"]


def stats(capture):
    return json.loads(memscope("stats", capture, "--json").stdout)


def line_bytes(rows, line, file_suffix="prog.py"):
    """Bytes of every row at one line of the program (all functions)."""
    return sum(r["bytes"] for r in rows if r["line"] == line and r["file"].endswith(file_suffix))


KNOWN = textwrap.dedent("""\
    def make_blob():
        return bytearray(50_000_000)

    def make_list():
        return [None] * 1_000_000

    blob = make_blob()
    items = make_list()
    del blob
    del items
    """)


def test_known_allocations_at_peak(run_script):
    capture, _ = run_script(KNOWN)
    rows = table(capture)
    top = rows[0]
    assert (top["file"].endswith("prog.py"), top["function"], top["line"]) == \
        (True, "make_blob", 2)
    assert 50_000_000 <= top["bytes"] <= 50_000_000 * 1.001
    # A list of 1M slots holds a pointer array of 8 MB (plus its header).
    assert 8_000_000 <= line_bytes(rows, 5) <= 8_000_000 * 1.001
    s = stats(capture)
    assert 58_000_000 <= s["peak_bytes"] <= 58_000_000 * 1.01
    assert s["top"][0]["line"] == 2
    assert s["complete"] is True


def test_freed_memory_is_not_leaked(run_script):
    capture, _ = run_script(KNOWN)
    leaked = table(capture, at="exit")
    assert line_bytes(leaked, 2) == 0 and line_bytes(leaked, 5) == 0
    total = table(capture, at="total")
    assert line_bytes(total, 2) >= 50_000_000


def test_grouping_by_function_and_file(run_script):
    capture, _ = run_script(KNOWN)
    by_func = table(capture, by="function")
    assert by_func[0]["function"] == "make_blob" and by_func[0]["line"] is None
    by_file = table(capture, by="file")
    assert by_file[0]["file"].endswith("prog.py") and by_file[0]["function"] is None


TRACEMALLOC_AGREEMENT = textwrap.dedent("""\
    import json, os, sys
    TRACE = os.environ.get("AGREE_TRACEMALLOC")
    if TRACE:
        import tracemalloc
        tracemalloc.start(1)

    def per_line(snapshot):
        out = {}
        for stat in snapshot.statistics("lineno"):
            frame = stat.traceback[0]
            if frame.filename == __file__:
                out[frame.lineno] = out.get(frame.lineno, 0) + stat.size
        return out

    blobs = [bytes(1000) + bytes([i % 256]) for i in range(20000)]
    names = ["item-%d" % i for i in range(50000)]
    table = {"k%d" % i: str(i) * 3 for i in range(30000)}
    scratch = [bytearray(10000) for _ in range(2000)]
    if TRACE:
        at_peak = per_line(tracemalloc.take_snapshot())
    del scratch
    if TRACE:
        at_exit = per_line(tracemalloc.take_snapshot())
        with open(TRACE, "w") as f:
            json.dump({"peak": at_peak, "exit": at_exit}, f)
    """)


def test_agrees_with_tracemalloc_within_one_percent(run_script, tmp_path):
    capture, _ = run_script(TRACEMALLOC_AGREEMENT)
    truth = tmp_path / "tracemalloc.json"
    subprocess.run([sys.executable, tmp_path / "prog.py"], check=True,
                   env=dict(os.environ, AGREE_TRACEMALLOC=str(truth)))
    expected = json.loads(truth.read_text())
    for view in ("peak", "exit"):
        rows = table(capture, at=view)
        checked = 0
        for line, size in expected[view].items():
            if size < 100_000:
                continue  # tiny lines: interpreter noise, not the program's data
            ours = line_bytes(rows, int(line))
            assert abs(ours - size) <= 0.01 * size, (view, line, ours, size)
            checked += 1
        assert checked >= 3 if view == "exit" else checked >= 4


def test_deep_recursion_beyond_the_depth_cap(run_script):
    capture, proc = run_script(textwrap.dedent("""\
        import sys
        sys.setrecursionlimit(5000)
        def dive(n):
            if n == 0:
                return bytearray(3_000_000)
            return dive(n - 1)
        keep = dive(400)
        print("ok")
        """), extra=("--depth", "64"))
    assert proc.stdout == "ok\n"
    assert 3_000_000 <= line_bytes(table(capture), 5) <= 3_000_100


def test_stacks_cut_at_the_cap_keep_their_innermost_lines(run_script):
    """Consecutive stacks deeper than the cap, differing only in their
    innermost frames or only beyond the cap: every allocation at its line,
    exactly (sys.getsizeof is the ground truth of a bytearray's two blocks)."""
    capture, proc = run_script(textwrap.dedent("""\
        import sys
        keep, at = [None] * 2404, iter(range(2404))
        def dive(n):
            if n == 0:
                for i in range(300):
                    keep[next(at)] = bytearray(1000)
                    keep[next(at)] = bytearray(2000)
                return
            if n == 30:
                keep[next(at)] = bytearray(500)
            dive(n - 1)
        for depth in (40, 60, 40, 80):
            dive(depth)
        print(*(sys.getsizeof(bytearray(n)) for n in (1000, 2000, 500)))
        """), extra=("--depth", "16"))
    sizes = [int(x) for x in proc.stdout.split()]
    rows = table(capture, at="exit")
    for line, size, count in ((6, sizes[0], 1200), (7, sizes[1], 1200), (10, sizes[2], 4)):
        assert line_bytes(rows, line) == size * count, line


def test_threads_allocating_concurrently_balance_exactly(run_script):
    capture, proc = run_script(textwrap.dedent("""\
        import threading
        def work(k):
            for i in range(20000):
                x = [k] * (i % 50 + 1)
                s = "t%d-%d" % (k, i)
                del x, s
        threads = [threading.Thread(target=work, args=(k,), name=f"worker-{k}")
                   for k in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        print("done")
        """))
    assert proc.stdout == "done\n"
    total = table(capture, at="total")
    exit_rows = table(capture, at="exit")
    for line in (4, 5):
        allocated = [r for r in total if r["line"] == line and r["function"] == "work"]
        assert sum(r["allocations"] for r in allocated) >= 4 * 20000
        assert line_bytes(exit_rows, line) == 0
    assert stats(capture)["threads"] >= 5


def test_generators_and_exceptions_keep_their_lines(run_script):
    capture, _ = run_script(textwrap.dedent("""\
        def chunks():
            for i in range(3):
                yield bytearray(2_000_000)
        kept = list(chunks())
        try:
            raise ValueError(bytearray(4_000_000))
        except ValueError as e:
            err = e
        """))
    rows = table(capture)
    assert 6_000_000 <= line_bytes(rows, 3) <= 6_000_300
    assert 4_000_000 <= line_bytes(rows, 6) <= 4_001_000  # plus the exception object


def test_exit_code_of_sys_exit(run_script):
    capture, proc = run_script("import sys\nprint('bye')\nsys.exit(3)\n", check=False)
    assert proc.returncode == 3
    assert proc.stdout == "bye\n"
    assert stats(capture)["complete"] is True


def test_uncaught_exception_traceback_is_the_programs(run_script, tmp_path):
    source = "def f():\n    raise KeyError('boom')\nf()\n"
    capture, proc = run_script(source, check=False)
    plain = subprocess.run([sys.executable, "prog.py"], cwd=tmp_path, capture_output=True,
                           text=True)
    assert proc.returncode == plain.returncode == 1
    traceback = proc.stderr.split("memscope: capture written")[0]
    assert traceback == plain.stderr
    assert "_launch" not in traceback
    assert stats(capture)["complete"] is True


def test_program_sees_what_plain_python_gives_it(run_script, tmp_path):
    source = textwrap.dedent("""\
        import os, pickle, sys
        class Point:
            pass
        print(sys.argv)
        print(__name__, __file__)
        print(sys.path[0] == os.path.dirname(os.path.abspath(__file__)))
        print(os.environ.get("PYTHONPATH"))
        print(pickle.loads(pickle.dumps(Point())).__class__.__module__)
        print(sys.stdin.read())
        if __name__ == "__main__":
            print("main block")
        """)
    capture, proc = run_script(source, "a b", "--flag", check=False)
    plain = subprocess.run([sys.executable, tmp_path / "prog.py", "a b", "--flag"],
                           cwd=tmp_path, capture_output=True, text=True, input="")
    assert proc.returncode == 0
    assert proc.stdout == plain.stdout


def test_module_and_code_modes(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "tool.py").write_text("import sys\nblob = bytearray(5_000_000)\nprint(__name__, sys.argv[1:])\n")
    proc = memscope("run", "-o", tmp_path / "m.msc", "-m", "pkg.tool", "x", cwd=tmp_path)
    assert proc.stdout == "__main__ ['x']\n"
    rows = table(tmp_path / "m.msc")
    assert rows[0]["file"].endswith("tool.py") and rows[0]["line"] == 2
    proc = memscope("run", "-o", tmp_path / "c.msc", "-c",
                    "import sys; b = bytearray(6_000_000); print(sys.argv)", "y", cwd=tmp_path)
    assert proc.stdout == "['-c', 'y']\n"
    assert table(tmp_path / "c.msc")[0]["bytes"] >= 6_000_000


def test_existing_capture_is_never_overwritten_without_force(run_script, tmp_path):
    capture, _ = run_script("x = 1\n")
    before = capture.read_bytes()
    proc = memscope("run", "-o", capture, tmp_path / "prog.py", check=False)
    assert proc.returncode == 2
    assert "already exists" in proc.stderr and "--force" in proc.stderr
    assert capture.read_bytes() == before
    memscope("run", "-o", capture, "--force", tmp_path / "prog.py")
    assert stat.S_IMODE(capture.stat().st_mode) == 0o600


def kill_self(sig):
    return textwrap.dedent(f"""\
        import os, signal, time
        data = bytearray(20_000_000)
        time.sleep(0.5)
        os.kill(os.getpid(), signal.{sig})
        time.sleep(5)
        """)


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL"])
def test_killed_program_leaves_a_readable_capture(run_script, sig):
    capture, proc = run_script(kill_self(sig), check=False)
    assert proc.returncode == -getattr(signal, sig)
    read = memscope("stats", capture, "--json")
    assert "warning" in read.stderr and "without a trailer" in read.stderr
    s = json.loads(read.stdout)
    assert s["complete"] is False
    assert s["peak_bytes"] >= 20_000_000


def test_fork_child_never_writes_into_the_parents_capture(run_script, tmp_path):
    source = textwrap.dedent("""\
        import os
        pid = os.fork()
        if pid == 0:
            child_data = bytearray(30_000_000)
            os._exit(0)
        os.waitpid(pid, 0)
        parent_data = bytearray(10_000_000)
        print(pid)
        """)
    capture, proc = run_script(source)
    rows = table(capture, at="total")
    assert line_bytes(rows, 4) == 0
    assert line_bytes(rows, 7) >= 10_000_000

    followed = tmp_path / "followed.msc"
    proc = memscope("run", "-o", followed, "--follow-fork", tmp_path / "prog.py", cwd=tmp_path)
    child = tmp_path / f"followed.msc.{proc.stdout.strip()}"
    assert child.exists()
    assert line_bytes(table(child, at="total"), 4) >= 30_000_000
    assert line_bytes(table(followed, at="total"), 4) == 0


def test_gc_runs_and_marks_are_recorded(run_script):
    capture, _ = run_script(textwrap.dedent("""\
        import gc
        class Node:
            def __init__(self): self.me = self
        for _ in range(1000):
            Node()
        gc.collect()
        """))
    s = stats(capture)
    assert s["gc"][2]["runs"] >= 1
    # 1000 self-referencing instances, collected by automatic and explicit runs
    assert sum(g["collected"] for g in s["gc"]) >= 1000


def test_lines_report_shows_each_source_line(run_script):
    capture, _ = run_script(KNOWN)
    out = memscope("lines", capture).stdout
    lines = out.splitlines()
    assert lines[2].split()[:2] == ["Line", "#"]
    row = next(l for l in lines if l.rstrip().endswith("blob = make_blob()"))
    assert row.split()[0] == "7" and "47.7 MiB" in row
    row = next(l for l in lines if l.rstrip().endswith("return bytearray(50_000_000)"))
    assert "47.7 MiB" in row


def test_usage_errors_exit_2_with_one_line(tmp_path):
    for args in (["run"], ["run", "missing.py"], ["table", "x.msc", "--at", "noon"],
                 ["stats"], ["frobnicate"], ["stats", tmp_path / "missing.msc"]):
        proc = memscope(*args, check=False, cwd=tmp_path)
        assert proc.returncode == 2, args
        assert proc.stderr.startswith("memscope: ") or proc.stderr.startswith("usage:"), args
        assert "Traceback" not in proc.stderr
    assert memscope("--help").stdout.startswith("usage: memscope")
    assert "examples:" in memscope("table", "--help").stdout


def test_dynamic_code_objects_are_told_apart(run_script):
    """Code objects made and freed in a loop reuse addresses; each allocation
    must still be charged to the code that made it."""
    capture, _ = run_script(textwrap.dedent("""\
        keep = []
        for i in range(400):
            ns = {}
            src = "def f(n):\\n    return bytearray(n)\\n"
            exec(compile(src, "gen%d.py" % (i % 2), "exec"), ns)
            keep.append(ns["f"](1000 + i))
            del ns
        """))
    rows = table(capture, at="total")
    for parity in (0, 1):
        # each call: a bytearray object (56 bytes) and its buffer (n + 1)
        data = sum(56 + 1000 + i + 1 for i in range(parity, 400, 2))
        got = sum(r["bytes"] for r in rows
                  if r["file"] == f"gen{parity}.py" and r["function"] == "f")
        assert got == data, (parity, got, data)


def test_allocations_made_without_the_gil_balance(run_script):
    """zlib compresses with the GIL released and allocates through the RAW
    domain: those events must carry the thread's Python stack and pair up
    with their frees."""
    capture, _ = run_script(textwrap.dedent("""\
        import os, threading, zlib
        data = os.urandom(1 << 20)
        def squeeze():
            for _ in range(3):
                zlib.compress(data, 9)
        threads = [threading.Thread(target=squeeze) for _ in range(2)]
        for t in threads: t.start()
        for t in threads: t.join()
        """))
    total = [r for r in table(capture, at="total") if r["line"] == 5]
    assert sum(r["allocations"] for r in total) >= 6 * 4  # deflate state and windows, per call
    assert sum(r["bytes"] for r in total) >= 6 * 256 * 1024
    assert line_bytes(table(capture, at="exit"), 5) == 0


def test_daemon_threads_allocating_through_shutdown(run_script):
    capture, proc = run_script(textwrap.dedent("""\
        import threading
        def churn():
            while True:
                x = [str(i) for i in range(100)]
        for _ in range(3):
            threading.Thread(target=churn, daemon=True).start()
        big = bytearray(5_000_000)
        print("main done")
        """))
    assert proc.returncode == 0 and proc.stdout == "main done\n"
    assert stats(capture)["peak_bytes"] >= 5_000_000


@pytest.fixture
def tiny_disk(tmp_path):
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", mount],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    yield mount
    subprocess.run(["umount", mount])


def test_disk_full_stops_recording_and_the_program_runs_on(tiny_disk, tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent("""\
        import sys
        total = 0
        for i in range(1_000_000):
            total += len(bytes(i % 4099))
        print("total", total)
        sys.exit(4)
        """))
    proc = memscope("run", "-o", tiny_disk / "cap.msc", script, check=False)
    assert proc.returncode == 4
    assert proc.stdout == "total %d\n" % sum(i % 4099 for i in range(1_000_000))
    assert proc.stderr.count("recording stopped") == 1
    assert "Traceback" not in proc.stderr
    read = memscope("stats", tiny_disk / "cap.msc", "--json")  # what fit reads back
    assert "warning" in read.stderr
    assert json.loads(read.stdout)["allocations"] > 1000


@pytest.mark.parametrize("source, status", [
    ("def f():\n    raise KeyboardInterrupt\nf()\n", -signal.SIGINT),
    ("x = (1,\n", 1),
])
def test_interrupt_and_syntax_error_end_as_without_memscope(run_script, tmp_path, source, status):
    capture, proc = run_script(source, check=False)
    plain = subprocess.run([sys.executable, tmp_path / "prog.py"], cwd=tmp_path,
                           capture_output=True, text=True)
    assert proc.returncode == plain.returncode == status
    assert proc.stderr.split("memscope: capture written")[0] == plain.stderr


def test_coroutines_keep_their_lines(run_script):
    capture, _ = run_script(textwrap.dedent("""\
        import asyncio
        async def fetch(i):
            await asyncio.sleep(0)
            return bytearray(1_000_000)
        async def main():
            return await asyncio.gather(*(fetch(i) for i in range(5)))
        results = asyncio.run(main())
        """))
    rows = table(capture)
    assert 5_000_000 <= line_bytes(rows, 4) <= 5_001_000
    assert any(r["function"] == "fetch" and r["line"] == 4 for r in rows)


PROBE = textwrap.dedent("""\
    import os, sys, traceback
    main = sys.modules["__main__"]
    for name, value in sorted(vars(main).items()):
        if name == "__loader__":
            value = (type(value).__name__, getattr(value, "name", None),
                     getattr(value, "path", None))
        elif name == "__builtins__":
            value = type(value).__name__
        elif name == "__spec__" and value is not None:
            value = (value.name, value.origin, value.parent)
        elif name.startswith("__"):
            pass
        else:
            continue
        print(name, repr(value))
    print("argv", sys.argv, "orig_argv", sys.orig_argv[1:])
    print("path0", sys.path[0])
    print("env", sorted((k, v) for k, v in os.environ.items()
                        if k.startswith(("MEMSCOPE_RUN", "PYTHONPATH"))))
    print("sitecustomize", getattr(sys.modules.get("sitecustomize"), "MARK", None))
    print("code", sys._getframe().f_code.co_filename)
    print("frames", len(traceback.extract_stack()))
    traceback.print_stack()
    if len(sys.argv) > 1:
        raise ValueError(sys.argv[1:])
    """)


def _plain_and_recorded(tmp_path, cwd, prog, env=None):
    """Runs prog (a python3 command line after the interpreter) plain and
    under memscope run from cwd; returns both CompletedProcesses."""
    full_env = dict(os.environ, **(env or {}))
    plain = subprocess.run([sys.executable, *prog], cwd=cwd, capture_output=True, text=True,
                           env=full_env)
    recorded = memscope("run", "-o", tmp_path / "probe.msc", *prog, cwd=cwd, check=False,
                        env=env)
    recorded.stderr = recorded.stderr.split("memscope: capture written")[0]
    return plain, recorded


@pytest.mark.parametrize("mode", ["script", "symlink", "module", "code", "sitecustomize"])
def test_main_module_is_the_one_python_makes(tmp_path, mode):
    """__file__, __loader__, __spec__, __annotations__, sys.argv, sys.path[0],
    the environment, the stack the program sees and its uncaught traceback
    are python3's; the user's own sitecustomize still runs."""
    pkg = tmp_path / "src" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "probe.py").write_text(PROBE)
    (tmp_path / "probe_link.py").symlink_to(pkg / "probe.py")
    prog = {"script": ["src/pkg/probe.py", "a b"],
            "symlink": ["probe_link.py", "x"],
            "module": ["-m", "pkg.probe", "y"],
            "code": ["-c", PROBE, "z"],
            "sitecustomize": ["src/pkg/probe.py", "s"]}[mode]
    cwd = tmp_path / "src" if mode == "module" else tmp_path
    env = None
    if mode == "sitecustomize":
        site_dir = tmp_path / "site"
        site_dir.mkdir()
        (site_dir / "sitecustomize.py").write_text("MARK = 'users'\n")
        env = {"PYTHONPATH": str(site_dir)}
    plain, recorded = _plain_and_recorded(tmp_path, cwd, prog, env)
    assert plain.returncode == recorded.returncode == 1
    assert recorded.stdout == plain.stdout
    assert recorded.stderr == plain.stderr
    assert "__annotations__ {}" in plain.stdout


def test_lines_finds_the_script_from_another_directory(tmp_path):
    (tmp_path / "prog.py").write_text("blob = bytearray(3_000_000)\n")
    capture = tmp_path / "prog.msc"
    memscope("run", "-o", capture, "prog.py", cwd=tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = memscope("lines", capture, cwd=elsewhere).stdout
    assert "blob = bytearray(3_000_000)" in out
    assert "<source not available>" not in out
    assert table(capture)[0]["file"] == str(tmp_path / "prog.py")


def test_a_capture_that_cannot_be_written_stops_the_program_before_it_starts(tmp_path):
    (tmp_path / "prog.py").write_text("open('ran', 'w').close()\n")
    proc = memscope("run", "-o", tmp_path / "missing" / "x.msc", "prog.py", cwd=tmp_path,
                    check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("memscope: cannot write capture: ")
    assert not (tmp_path / "ran").exists()
