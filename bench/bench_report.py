"""Time and peak RSS of `memscope report` on captures of growing length.

Records one churning workload (a sliding window of dicts, strings and bytes
objects from a few call sites, so the live set and the number of distinct
stacks stay the same whatever the length) at sizes chosen to give about
10^6, 10^7 and 10^8 allocation and free events, then times `memscope report`
on each: wall time, events per second, the report process's peak RSS and
the HTML's size. Prints a Markdown table.

    /usr/bin/python3 bench/bench_report.py            # 1e6, 1e7, 1e8 events
    /usr/bin/python3 bench/bench_report.py --events 1e6 1e7
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, "bin", "memscope")

WORKLOAD = """\
import sys
from collections import deque

def make_row(i):
    return {"id": i, "name": "row%d" % i}

def make_blob(i):
    return bytes(64 + i % 512)

def churn(n, window):
    for i in range(n):
        window.append(make_row(i) if i % 3 else make_blob(i))

churn(int(sys.argv[1]), deque(maxlen=5000))
"""


def record(tmp, iterations, name):
    script = os.path.join(tmp, "churn.py")
    with open(script, "w") as f:
        f.write(WORKLOAD)
    capture = os.path.join(tmp, name + ".msc")
    env = dict(os.environ, MEMSCOPE_PYTHON=sys.executable)
    subprocess.run([CLI, "run", "--force", "-o", capture, script, str(iterations)],
                   check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stats = json.loads(subprocess.run([CLI, "stats", capture, "--json"], check=True,
                                      capture_output=True, text=True).stdout)
    return capture, stats["allocations"] + stats["frees"]


def run_measured(args):
    """(seconds, peak RSS bytes) of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    if child.returncode != 0:
        sys.exit(f"{' '.join(args)} failed")
    return elapsed, usage.ru_maxrss * 1024


def mib(n):
    return f"{n / 1048576:,.1f} MiB"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", nargs="+", type=float, default=[1e6, 1e7, 1e8])
    parser.add_argument("--reps", type=int, default=1, help="timed runs per size (best kept)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="memscope-bench-report-") as tmp:
        _, calib = record(tmp, 100_000, "calibrate")
        per_iteration = calib / 100_000
        print("| events | capture | `memscope report` | events/s | peak RSS | HTML |")
        print("|---:|---:|---:|---:|---:|---:|")
        for target in args.events:
            capture, events = record(tmp, int(target / per_iteration), "churn")
            html = os.path.join(tmp, "churn.html")
            runs = [run_measured([CLI, "report", capture, "-o", html, "--force"])
                    for _ in range(args.reps)]
            seconds, rss = min(runs)
            print(f"| {events:,} | {mib(os.path.getsize(capture))} | {seconds:.2f} s "
                  f"| {events / seconds / 1e6:.1f} M | {mib(rss)} "
                  f"| {os.path.getsize(html) / 1024:,.0f} KiB |", flush=True)
            os.unlink(capture)


if __name__ == "__main__":
    main()
