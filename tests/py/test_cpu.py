"""run --cpu samples every Python thread's stack for CPU and wall time in the
same capture as the memory: the CPU-hot line gets the CPU samples while the
allocating line gets the memory; a sleeping line has wall time but no CPU
time; every thread is sampled; a capture without --cpu has no samples; and
a program that profiles itself with SIGPROF keeps its own timer."""
import json
import os
import subprocess
import sys

from conftest import CLI, ROOT, memscope

HOT_AND_ALLOC = """\
def hot(n):
    s = 0
    for i in range(n): s += i * i
    return s

def alloc(n):
    return [bytearray(4096) for _ in range(n)]

hot(4_000_000)
kept = alloc(20_000)
print("done")
"""


def time_rows(capture, metric, by="line"):
    out = memscope("table", capture, "--metric", metric, "--by", by, "--limit", "0", "--json")
    return json.loads(out.stdout)


def seconds_of(report, key, **where):
    return sum(r[key] for r in report["rows"]
               if all(r[k] == v for k, v in where.items()))


def test_hot_line_has_the_cpu_and_alloc_line_the_memory(run_script, tmp_path):
    capture, proc = run_script(HOT_AND_ALLOC, extra=["--cpu"])
    assert proc.stdout == "done\n"
    script = str(tmp_path / "prog.py")
    cpu = time_rows(capture, "cpu")
    total = cpu["total_cpu_seconds"]
    hot = [r for r in cpu["rows"] if r["file"] == script and r["line"] == 3]
    assert total > 0.2
    assert hot and hot[0]["cpu_seconds"] >= 0.8 * total
    samples = sum(r["samples"] for r in cpu["rows"])
    assert hot[0]["samples"] >= 0.8 * samples
    peak = json.loads(memscope("table", capture, "--json").stdout)["rows"]
    assert (peak[0]["file"], peak[0]["line"]) == (script, 7)
    assert peak[0]["bytes"] >= 20_000 * 4096


def test_sleeping_line_has_wall_time_not_cpu(run_script, tmp_path):
    capture, _ = run_script("""\
import time
def nap():
    time.sleep(0.5)
x = sum(range(10))
nap()
""", extra=["--cpu"])
    script = str(tmp_path / "prog.py")
    wall = seconds_of(time_rows(capture, "wall"), "wall_seconds", file=script, line=3)
    cpu = seconds_of(time_rows(capture, "cpu"), "cpu_seconds", file=script, line=3)
    assert 0.4 <= wall <= 0.7
    assert cpu < 0.05


def test_every_thread_is_sampled(run_script, tmp_path):
    capture, _ = run_script("""\
import threading
def spin_a(n):
    s = 0
    for i in range(n): s += i
def spin_b(n):
    s = 0
    for i in range(n): s -= i
threads = [threading.Thread(target=spin_a, args=(3_000_000,)),
           threading.Thread(target=spin_b, args=(3_000_000,))]
for t in threads: t.start()
for t in threads: t.join()
""", extra=["--cpu"])
    by_function = time_rows(capture, "cpu", by="function")
    assert seconds_of(by_function, "cpu_seconds", function="spin_a") > 0.05
    assert seconds_of(by_function, "cpu_seconds", function="spin_b") > 0.05
    threads = json.loads(memscope("stats", capture, "--json").stdout)["threads"]
    assert threads >= 3


def test_cpu_rate_sets_the_sample_rate(run_script):
    capture, _ = run_script("def hot(n):\n    for i in range(n): pass\nhot(3_000_000)\n",
                            extra=["--cpu-rate", "20"])
    slow = sum(r["samples"] for r in time_rows(capture, "wall")["rows"])
    wall = time_rows(capture, "wall")["total_wall_seconds"]
    # 20 a second, give or take the first and the last.
    assert wall * 20 * 0.5 <= slow <= wall * 20 * 1.5 + 2


def test_no_samples_without_cpu(run_script):
    capture, _ = run_script(HOT_AND_ALLOC)
    proc = memscope("table", capture, "--metric", "cpu", check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and str(capture) in proc.stderr
    assert "CPU samples" in proc.stderr
    assert "Time" not in memscope("lines", capture).stdout


def test_lines_has_a_time_column(run_script, tmp_path):
    capture, _ = run_script(HOT_AND_ALLOC, extra=["--cpu"])
    out = memscope("lines", capture, "--source", tmp_path / "prog.py").stdout.splitlines()
    header = next(line for line in out if line.startswith("Line #"))
    assert "Time" in header
    hot = next(line for line in out if "for i in range(n): s += i * i" in line)
    assert " s " in hot  # seconds in the Time column


def test_program_with_its_own_sigprof_timer_keeps_working(run_script, tmp_path):
    capture, proc = run_script("""\
import signal, time
ticks = 0
def on_prof(sig, frame):
    global ticks
    ticks += 1
signal.signal(signal.SIGPROF, on_prof)
signal.setitimer(signal.ITIMER_PROF, 0.01, 0.01)
def hot(n):
    for i in range(n): pass
deadline = time.monotonic() + 20
while ticks < 30 and time.monotonic() < deadline:
    hot(100_000)
signal.setitimer(signal.ITIMER_PROF, 0, 0)
print("ticks", ticks >= 30, signal.getsignal(signal.SIGPROF) is on_prof)
""", extra=["--cpu"])
    assert proc.stdout == "ticks True True\n"
    assert time_rows(capture, "cpu")["total_cpu_seconds"] > 0.1


def test_fork_child_takes_no_samples_and_exits_cleanly(run_script):
    capture, proc = run_script("""\
import os
def hot(n):
    for i in range(n): pass
pid = os.fork()
if pid == 0:
    hot(1_000_000)
    os._exit(7)
_, status = os.waitpid(pid, 0)
hot(1_000_000)
print(os.waitstatus_to_exitcode(status))
""", extra=["--cpu"])
    assert proc.stdout == "7\n"
    assert time_rows(capture, "cpu")["total_cpu_seconds"] > 0


def test_tracker_cpu(tmp_path):
    capture = tmp_path / "t.msc"
    env = dict(os.environ, PYTHONPATH=str(CLI.parent.parent / "python"))
    subprocess.run([sys.executable, "-c", f"""\
import memscope
def hot(n):
    for i in range(n): pass
with memscope.Tracker({str(capture)!r}, cpu=True, cpu_rate=200):
    hot(3_000_000)
"""], check=True, env=env, cwd=ROOT)
    rows = time_rows(capture, "cpu", by="function")
    assert seconds_of(rows, "cpu_seconds", function="hot") >= 0.8 * rows["total_cpu_seconds"]


def test_profile_decorator_has_a_time_column(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(CLI.parent.parent / "python"))
    script = tmp_path / "prof.py"
    script.write_text("""\
import memscope
@memscope.profile(cpu=True)
def work(n):
    s = 0
    for i in range(n): s += i * i
    keep = [bytearray(1000) for _ in range(1000)]
    return s
work(2_000_000)
""")
    out = subprocess.run([sys.executable, script], check=True, env=env, cwd=tmp_path,
                         capture_output=True, text=True).stdout.splitlines()
    header = next(line for line in out if line.startswith("Line #"))
    assert header.split()[-3:] == ["Time", "Line", "Contents"]
    hot = next(line for line in out if "for i in range(n)" in line)
    assert " s " in hot


def test_exports_carry_the_samples(run_script, tmp_path):
    capture, _ = run_script(HOT_AND_ALLOC, extra=["--cpu"])
    cpu_seconds = json.loads(memscope("stats", capture, "--json").stdout)["cpu_seconds"]
    speedscope = json.loads(memscope("export", capture, "--format", "speedscope",
                                     "--metric", "cpu").stdout)
    profile = speedscope["profiles"][0]
    assert profile["unit"] == "nanoseconds" and profile["name"] == "CPU time"
    assert abs(sum(profile["weights"]) / 1e9 - cpu_seconds) < 1e-3
    hot = [i for i, f in enumerate(speedscope["shared"]["frames"])
           if f["name"] == "hot" and f.get("line") == 3]
    on_hot = sum(w for s, w in zip(profile["samples"], profile["weights"]) if s[-1] in hot)
    assert on_hot >= 0.8 * sum(profile["weights"])
    folded = memscope("export", capture, "--format", "collapsed", "--metric", "wall").stdout
    wall = json.loads(memscope("stats", capture, "--json").stdout)["wall_seconds"]
    weights = [int(line.rsplit(" ", 1)[1]) for line in folded.splitlines()]
    assert abs(sum(weights) / 1e9 - wall) < 1e-3
    assert any(";hot (" in line and line.endswith(tuple("0123456789"))
               for line in folded.splitlines())

    # pprof: gzipped profile.proto; its string table names the sample types.
    import gzip
    out = tmp_path / "p.pb.gz"
    memscope("export", capture, "--format", "pprof", "-o", out)
    raw = gzip.decompress(out.read_bytes())
    for name in (b"alloc_space", b"inuse_space", b"cpu", b"wall", b"nanoseconds"):
        assert name in raw
    plain, _ = run_script(HOT_AND_ALLOC, extra=["--force"])
    memscope("export", plain, "--format", "pprof", "-o", tmp_path / "q.pb.gz")
    assert b"nanoseconds" not in gzip.decompress((tmp_path / "q.pb.gz").read_bytes())
    proc = memscope("export", plain, "--format", "speedscope", "--metric", "cpu", check=False)
    assert proc.returncode == 2 and "no CPU samples" in proc.stderr


def test_native_time_is_told_from_python_time(run_script, tmp_path):
    """numpy's matrix product runs in native code; a Python loop in the
    interpreter."""
    capture, _ = run_script("""\
import numpy as np
a = np.random.rand(500, 500)
def native_work():
    for _ in range(40): b = a @ a
def python_work(n):
    s = 0
    for i in range(n): s += i
native_work()
python_work(3_000_000)
""", extra=["--cpu"], env={"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
    rows = time_rows(capture, "cpu")["rows"]
    script = str(tmp_path / "prog.py")
    native = next(r for r in rows if r["file"] == script and r["line"] == 4)
    python = next(r for r in rows if r["file"] == script and r["line"] == 7)
    assert native["native_cpu_seconds"] >= 0.8 * native["cpu_seconds"] > 0
    assert python["native_cpu_seconds"] <= 0.2 * python["cpu_seconds"]
    stats = json.loads(memscope("stats", capture, "--json").stdout)
    assert 0 < stats["native_cpu_seconds"] < stats["cpu_seconds"]


def test_program_taking_the_sampling_signal_stops_sampling(run_script):
    """memscope samples with the highest free real-time signal; a program
    that installs its own handler there gets it, and sampling stops with
    one line."""
    capture, proc = run_script("""\
import signal, time
got = []
def spin(n):
    for i in range(n): pass
spin(500_000)
signal.signal(signal.SIGRTMAX, lambda s, f: got.append(s))
time.sleep(0.1)
spin(1_000_000)
print("handler", signal.getsignal(signal.SIGRTMAX) is not signal.SIG_DFL)
""", extra=["--cpu"])
    assert proc.stdout == "handler True\n"
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "CPU sampling stopped" in warnings[0]
    assert json.loads(memscope("stats", capture, "--json").stdout)["cpu_samples"] > 0
