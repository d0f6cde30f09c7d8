"""Children of a program recorded with `memscope run --follow-fork`: every
child that runs Python (multiprocessing workers of each start method, Python
programs started by subprocess or exec) records to FILE.PID beside the
parent's capture, wherever it works; a child that execs another program
leaves nothing; the parent's stats and report list its children; and the
program behaves as it does without memscope."""
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT, memscope

WORKER_LINE = 6  # bytearray(n) in POOL

POOL = textwrap.dedent("""\
    import json, multiprocessing as mp, os, sys, time

    def work(n):
        time.sleep(0.2)               # so that each worker takes a task
        os.chdir(sys.argv[2])         # a child that changes directory
        block = bytearray(n)
        return os.getpid(), len(block)

    if __name__ == "__main__":
        mp.set_start_method(sys.argv[1])
        pool = mp.Pool(2)
        results = pool.map(work, [3_000_000, 5_000_000], chunksize=1)
        pool.close()
        pool.join()
        with open("pids.json", "w") as f:
            json.dump(results, f)
        print(sorted(size for _, size in results))
    """)

CHILD = textwrap.dedent("""\
    import os, sys
    data = bytearray(7_000_000)
    print("child", sys.argv[1:], os.environ.get("PYTHONPATH"),
          sorted(k for k in os.environ if k.startswith(("MEMSCOPE_RUN", "MEMSCOPE_PYTHONPATH"))))
    sys.exit(3)
    """)


def stats(capture):
    return json.loads(memscope("stats", capture, "--json").stdout)


def line_bytes(capture, line, suffix):
    out = memscope("table", capture, "--at", "total", "--limit", "0", "--json").stdout
    return sum(r["bytes"] for r in json.loads(out)["rows"]
               if r["line"] == line and r["file"].endswith(suffix))


def descendants(capture):
    """{pid: (capture, stats)} of every recorded descendant, read through
    each capture's list of children."""
    found = {}
    for child in stats(capture)["children"]:
        if child["capture_found"]:
            found[child["pid"]] = (child["capture"], stats(child["capture"]))
            found.update(descendants(child["capture"]))
    return found


def run_plain(tmp_path, *args):
    return subprocess.run([sys.executable, *map(str, args)], cwd=tmp_path, capture_output=True,
                          text=True)


def test_without_follow_fork_children_record_nothing(tmp_path):
    (tmp_path / "prog.py").write_text(POOL)
    (tmp_path / "elsewhere").mkdir()
    memscope("run", "-o", "cap.msc", "prog.py", "spawn", tmp_path / "elsewhere", cwd=tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["cap.msc", "elsewhere", "pids.json", "prog.py"]
    assert stats(tmp_path / "cap.msc")["children"] == []


@pytest.mark.parametrize("method", ["spawn", "forkserver", "fork"])
def test_pool_workers_record_their_own_captures(tmp_path, method):
    (tmp_path / "prog.py").write_text(POOL)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    plain = run_plain(tmp_path, "prog.py", method, elsewhere)
    proc = memscope("run", "--follow-fork", "-o", "cap.msc", "prog.py", method, elsewhere,
                    cwd=tmp_path)
    assert (proc.stdout, proc.returncode) == (plain.stdout, plain.returncode) == (
        "[3000000, 5000000]\n", 0)
    assert os.listdir(elsewhere) == []
    root = tmp_path / "cap.msc"
    recorded = descendants(root)
    sizes, largest = {}, {}  # a worker may take both tasks
    for pid, size in json.loads((tmp_path / "pids.json").read_text()):
        sizes[pid] = sizes.get(pid, 0) + size
        largest[pid] = max(largest.get(pid, 0), size)
    for pid, size in sizes.items():
        path = tmp_path / f"cap.msc.{pid}"
        assert path.exists()
        assert recorded[pid][0] == str(path)  # absolute, beside the parent's
        assert line_bytes(path, WORKER_LINE, "prog.py") >= size
        worker = recorded[pid][1]
        assert worker["pid"] == pid and worker["complete"]
        parent = worker["parent_capture"]
        assert parent == str(root) or os.path.basename(parent).startswith("cap.msc.")
    # the parent's own lines hold none of the workers' blocks
    assert line_bytes(root, WORKER_LINE, "prog.py") == 0
    if method == "spawn":
        listed = {c["pid"]: c for c in stats(root)["children"]}
        for pid, size in largest.items():
            assert listed[pid]["peak_bytes"] >= size
            assert listed[pid]["peak_bytes"] == recorded[pid][1]["peak_bytes"]
            assert "--multiprocessing-fork" in listed[pid]["command"]


def test_a_python_subprocess_records_its_own_capture(tmp_path):
    (tmp_path / "child.py").write_text(CHILD)
    (tmp_path / "prog.py").write_text(textwrap.dedent("""\
        import os, subprocess, sys
        env = dict(os.environ, PYTHONPATH="/somewhere")
        done = subprocess.run([sys.executable, "child.py", "x"], env=env,
                              capture_output=True, text=True)
        print(done.returncode, repr(done.stdout), repr(done.stderr))
        print(sorted(k for k in os.environ if k.startswith(("MEMSCOPE_RUN", "MEMSCOPE_PYTHONPATH"))))
        """))
    plain = run_plain(tmp_path, "prog.py")
    proc = memscope("run", "--follow-fork", "-o", "cap.msc", "prog.py", cwd=tmp_path)
    assert proc.stdout == plain.stdout
    assert proc.stdout.splitlines() == [
        "3 \"child ['x'] /somewhere []\\n\" ''", "[]"]
    root = stats(tmp_path / "cap.msc")
    [child] = root["children"]
    capture = tmp_path / f"cap.msc.{child['pid']}"
    assert child["capture"] == str(capture) and child["capture_found"]
    assert child["command"] == [sys.executable, "child.py", "x"]
    assert child["peak_bytes"] >= 7_000_000
    assert line_bytes(capture, 2, "child.py") >= 7_000_000
    own = stats(capture)
    assert own["parent_pid"] == root["pid"]
    assert own["parent_capture"] == str(tmp_path / "cap.msc")
    assert own["argv"] == [str(tmp_path / "child.py"), "x"]
    text = memscope("stats", tmp_path / "cap.msc").stdout
    assert f"pid {child['pid']} at " in text
    assert f"capture {capture}" in text
    assert f"Child of pid {root['pid']}, whose capture is {tmp_path / 'cap.msc'}" in \
        memscope("stats", capture).stdout


@pytest.mark.parametrize("how", [
    "os.execv(sys.executable, [sys.executable, 'child.py', 'y'])",
    "os.execve(sys.executable, [sys.executable, 'child.py', 'y'], dict(os.environ))",
])
def test_a_forked_child_that_execs_python_records_the_program(tmp_path, how):
    (tmp_path / "child.py").write_text(CHILD)
    (tmp_path / "prog.py").write_text(textwrap.dedent(f"""\
        import os, sys
        pid = os.fork()
        if pid == 0:
            {how}
        _, status = os.waitpid(pid, 0)
        print(pid, os.waitstatus_to_exitcode(status))
        """))
    proc = memscope("run", "--follow-fork", "-o", "cap.msc", "prog.py", cwd=tmp_path)
    pid, code = proc.stdout.split()[-2:]
    assert code == "3"
    assert proc.stdout.startswith("child ['y'] None []\n")
    capture = tmp_path / f"cap.msc.{pid}"
    assert sorted(os.listdir(tmp_path)) == ["cap.msc", capture.name, "child.py", "prog.py"]
    assert line_bytes(capture, 2, "child.py") >= 7_000_000
    own = stats(capture)
    assert own["parent_capture"] == str(tmp_path / "cap.msc") and own["complete"]


def test_fork_and_exec_of_another_program_leaves_no_file(tmp_path):
    (tmp_path / "prog.py").write_text(textwrap.dedent("""\
        import os
        pid = os.fork()
        if pid == 0:
            os.execv("/bin/true", ["/bin/true"])
        _, status = os.waitpid(pid, 0)
        print(pid, status)
        """))
    proc = memscope("run", "--follow-fork", "-o", "cap.msc", "prog.py", cwd=tmp_path)
    pid, status = proc.stdout.split()
    assert status == "0"
    assert sorted(os.listdir(tmp_path)) == ["cap.msc", "prog.py"]
    [child] = stats(tmp_path / "cap.msc")["children"]
    assert child["pid"] == int(pid)
    assert child["capture_found"] is False and child["peak_bytes"] is None


def test_subprocesses_that_are_not_python_get_nothing_added(tmp_path):
    (tmp_path / "prog.py").write_text(textwrap.dedent("""\
        import subprocess
        out = subprocess.run(["env"], capture_output=True, text=True, env={"A": "1"}).stdout
        print(out.strip())
        """))
    proc = memscope("run", "--follow-fork", "-o", "cap.msc", "prog.py", cwd=tmp_path)
    assert proc.stdout == "A=1\n"
    [child] = stats(tmp_path / "cap.msc")["children"]
    assert child["command"] == ["env"] and child["capture"] is None
    assert "no capture (not a Python program)" in memscope("stats", tmp_path / "cap.msc").stdout


def test_a_failed_exec_raises_as_it_does_without_memscope(tmp_path):
    (tmp_path / "prog.py").write_text(textwrap.dedent("""\
        import os, subprocess
        try:
            subprocess.run(["/no/such/program"])
        except FileNotFoundError as e:
            print("subprocess", e.errno)
        pid = os.fork()
        if pid == 0:
            try:
                os.execv("/no/such/program", ["x"])
            except FileNotFoundError as e:
                print("exec", e.errno, flush=True)
            block = bytearray(2_000_000)
            os._exit(0)
        os.waitpid(pid, 0)
        os.execv("/no/such/program", ["x"])
        """))
    plain = run_plain(tmp_path, "prog.py")
    proc = memscope("run", "--follow-fork", "-o", "cap.msc", "prog.py", cwd=tmp_path,
                    check=False)
    assert (proc.stdout, proc.returncode) == (plain.stdout, plain.returncode) == (
        "subprocess 2\nexec 2\n", 1)
    tail = re.sub(r"\n\s+\^+", "", plain.stderr).splitlines()[-3:]
    assert re.sub(r"\n\s+\^+", "", proc.stderr).splitlines()[-3:] == tail
    # the forked child whose exec failed goes on recording (a subprocess that
    # failed to start is a child too where fork_exec starts it, not where
    # posix_spawn fails, as 3.13's subprocess may use)
    child = stats(tmp_path / "cap.msc")["children"][-1]
    assert line_bytes(child["capture"], 12, "prog.py") >= 2_000_000


def test_the_html_report_lists_the_children(tmp_path):
    (tmp_path / "child.py").write_text(CHILD)
    (tmp_path / "prog.py").write_text(
        "import subprocess, sys\nsubprocess.run([sys.executable, 'child.py'])\n")
    memscope("run", "--follow-fork", "-o", "cap.msc", "prog.py", cwd=tmp_path)
    memscope("report", tmp_path / "cap.msc", "-o", tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    data = json.loads(re.search(r'id="memscope-data">(.*?)</script>', html, re.S).group(1))
    [child] = data["children"]
    assert child["capture"] == str(tmp_path / f"cap.msc.{child['pid']}")
    assert child["peak_bytes"] >= 7_000_000


def test_a_child_that_cannot_record_warns_and_runs(tmp_path):
    """A child whose capture cannot be created (here: its parent's folder is
    gone) says so once and runs exactly as it would: same output, same exit
    code, the environment it was given."""
    (tmp_path / "child.py").write_text(CHILD)
    boot = ROOT / "python" / "memscope" / "_boot"
    env = dict(os.environ, PYTHONPATH=str(boot), MEMSCOPE_PYTHONPATH="/given",
               MEMSCOPE_RUN_OUTPUT=str(tmp_path / "gone" / "cap.msc"),
               MEMSCOPE_RUN_FLAGS="follow-fork", MEMSCOPE_RUN_PARENT=f"1:{tmp_path}/gone/cap.msc")
    proc = subprocess.run([sys.executable, "child.py", "w"], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert (proc.stdout, proc.returncode) == ("child ['w'] /given []\n", 3)
    [line] = proc.stderr.splitlines()
    assert re.match(r"memscope: warning: not recording child \d+: .*No such file", line), line
    assert os.listdir(tmp_path) == ["child.py"]


@pytest.mark.parametrize("follow", [(), ("--follow-fork",)])
def test_fork_warns_only_when_the_program_has_threads(tmp_path, follow):
    """From 3.12 os.fork warns in a multi-threaded process: the recorder's
    own writer thread must not make a single-threaded program warn, and a
    program with threads warns as it does without memscope, on its line."""
    (tmp_path / "prog.py").write_text(textwrap.dedent("""\
        import os, threading, time
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        t = threading.Thread(target=time.sleep, args=(0.3,))
        t.start()
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        t.join()
        print("ok")
        """))

    def warnings_of(stderr):
        return [re.sub(r"pid=\d+", "pid=N", line) for line in stderr.splitlines()
                if not line.startswith(("memscope: capture", "  memscope "))]

    plain = run_plain(tmp_path, "prog.py")
    proc = memscope("run", *follow, "-o", "cap.msc", "prog.py", cwd=tmp_path)
    assert proc.stdout == plain.stdout == "ok\n"
    assert warnings_of(proc.stderr) == warnings_of(plain.stderr)
    if sys.version_info >= (3, 12):
        assert any("prog.py:8: DeprecationWarning" in line for line in warnings_of(proc.stderr))
