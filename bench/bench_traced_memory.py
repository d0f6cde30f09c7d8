#!/usr/bin/env python3
"""What ``memscope.get_traced_memory()`` costs with a million live blocks,
next to ``tracemalloc.get_traced_memory()`` in the same situation.

Each tool runs in a fresh interpreter that records (memscope's Tracker, or
``tracemalloc.start()``) while it allocates N live objects, then times its
first call (with the growth of the process's RSS across it) and the best
per-call time of R rounds of C calls. ``--baseline DIR`` adds a run of
another build's package (``DIR/python``), to compare with what it replaces.
Example::

    python bench/bench_traced_memory.py --blocks 1000000 --baseline /tmp/memscope-main
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)

CHILD = """\
import json, os, sys, time
tool, blocks, calls, rounds, capture = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                                         int(sys.argv[4]), sys.argv[5])

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

if tool == "tracemalloc":
    import tracemalloc
    tracemalloc.start()
    call, stop = tracemalloc.get_traced_memory, tracemalloc.stop
else:
    import memscope
    tracker = memscope.Tracker(capture, force=True).start()
    call, stop = memscope.get_traced_memory, tracker.stop

live = [object() for _ in range(blocks)]
before = rss()
start = time.perf_counter()
current, peak = call()
first = time.perf_counter() - start
growth = rss() - before
best = float("inf")
for _ in range(rounds):
    start = time.perf_counter()
    for _ in range(calls):
        call()
    best = min(best, (time.perf_counter() - start) / calls)
stop()
print(json.dumps({"first_s": first, "rss_growth": growth, "per_call_s": best,
                  "current": current}))
"""


def run(tool, tree, args, tmp):
    env = dict(os.environ, PYTHONPATH=os.path.join(tree, "python"))
    out = subprocess.run([args.python, "-c", CHILD, tool, str(args.blocks), str(args.calls),
                          str(args.rounds), os.path.join(tmp, "bench.msc")],
                         env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--blocks", type=int, default=1_000_000, help="live objects at the calls")
    p.add_argument("--calls", type=int, default=10_000, help="calls per timed round")
    p.add_argument("--rounds", type=int, default=5, help="timed rounds; the best is kept")
    p.add_argument("--reps", type=int, default=3, help="fresh processes per tool; the median")
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--baseline", help="another build's tree (its python/ has the package)")
    args = p.parse_args()
    tools = [("memscope", REPO_DIR, "memscope")]
    if args.baseline:
        tools.append(("memscope", args.baseline, "memscope, --baseline build"))
    tools.append(("tracemalloc", REPO_DIR, "tracemalloc"))
    rows = {label: [] for _, _, label in tools}
    with tempfile.TemporaryDirectory(prefix="memscope-bench-") as tmp:
        for _ in range(args.reps):  # interleaved, so load spikes hit every tool
            for tool, tree, label in tools:
                rows[label].append(run(tool, tree, args, tmp))
    print(f"{args.blocks:,} live blocks; median of {args.reps} processes; "
          f"per call: best of {args.rounds} rounds of {args.calls:,} calls\n")
    print("| tool | first call | per call | RSS growth at the first call | current bytes |")
    print("|---|---:|---:|---:|---:|")
    for label, runs in rows.items():
        def med(key):
            return sorted(r[key] for r in runs)[len(runs) // 2]
        print(f"| {label} | {med('first_s') * 1e6:,.1f} µs | {med('per_call_s') * 1e9:,.0f} ns "
              f"| {med('rss_growth') / 2**20:.2f} MiB | {med('current'):,} |")


if __name__ == "__main__":
    main()
