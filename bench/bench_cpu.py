#!/usr/bin/env python3
"""What `memscope run --cpu` adds to a recording, next to py-spy.

Runs every workload in ``bench/workloads`` interleaved, N times each, under:

* ``memscope``: ``memscope run`` (exact recording, no CPU sampling): the
  baseline the CPU sampler adds to;
* ``cpu100``: ``memscope run --cpu`` (100 samples a second per thread);
* ``cpu1000``: ``memscope run --cpu-rate 1000``, ten times the samples, so
  the per-sample cost stands out of the machine's noise;
* ``plain`` and ``pyspy`` (``py-spy record -r 100``, from the bench venv):
  the reference a sampling profiler sets.

Each run's cost is the CPU time of the whole process tree (user + system,
every thread: the sampled threads' signal handlers, the sampling thread,
the drains, the writer), from ``getrusage(RUSAGE_CHILDREN)``. The report
gives median ratios per workload and their geometric mean, and the cost of
one sample: (CPU at 1000 Hz - CPU without sampling) / samples taken, which
times 100 samples a second per busy thread is the overhead at the default
rate. Example::

    python3 bench/bench_cpu.py --reps 5
"""
import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
WORKLOAD_DIR = os.path.join(BENCH_DIR, "workloads")
WORKLOADS = ["json_roundtrip", "object_sim", "string_build", "dict_churn", "threaded",
             "large_peak", "deep_stacks"]
MODES = ["plain", "pyspy", "memscope", "cpu100", "cpu1000"]


def command(mode, args, script, capture):
    """The argv that runs ``script`` under ``mode``."""
    py = args.python
    if mode == "plain":
        return [py, script]
    if mode == "pyspy":
        return [os.path.join(os.path.dirname(py), "py-spy"), "record", "-r", "100", "-f", "raw",
                "-o", capture, "--", py, script]
    rate = {"memscope": [], "cpu100": ["--cpu"], "cpu1000": ["--cpu-rate", "1000"]}[mode]
    return [args.memscope, "run", *rate, "-o", capture, "--force", script]


def run_once(mode, workload, args, tmpdir):
    """CPU seconds of the process tree, and the capture (memscope modes)."""
    script = os.path.join(WORKLOAD_DIR, workload + ".py")
    capture = os.path.join(tmpdir, f"{workload}.{mode}")
    env = dict(os.environ, MEMSCOPE_PYTHON=args.python)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command(mode, args, script, capture), check=True, env=env, cwd=WORKLOAD_DIR,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, capture


def samples_of(args, capture):
    out = subprocess.run([args.memscope, "stats", capture, "--json"], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out)["cpu_samples"]


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--workloads", nargs="+", default=WORKLOADS, choices=WORKLOADS)
    p.add_argument("--memscope", default=os.path.join(REPO_DIR, "bin", "memscope"))
    p.add_argument("--python", help="interpreter with py-spy beside it (default: the bench "
                   "venv of requirements/bench.txt)")
    args = p.parse_args()
    if not args.python:
        venv = subprocess.run(["bash", os.path.join(REPO_DIR, "scripts", "venv.sh"), "3.11",
                               os.path.join(REPO_DIR, "requirements", "bench.txt")],
                              check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
        args.python = os.path.join(venv, "bin", "python")

    cpu = {(w, m): [] for w in args.workloads for m in MODES}
    per_sample = {w: [] for w in args.workloads}
    with tempfile.TemporaryDirectory(prefix="memscope-bench-cpu-") as tmpdir:
        for rep in range(args.reps):
            for w in args.workloads:
                for m in MODES:
                    seconds, capture = run_once(m, w, args, tmpdir)
                    cpu[w, m].append(seconds)
                    if m == "cpu1000":
                        n = samples_of(args, capture)
                        base = cpu[w, "memscope"][-1]
                        per_sample[w].append((seconds - base) / n * 1e9 if n else 0.0)
                    print(f"rep {rep + 1}/{args.reps} {w:15s} {m:9s} cpu {seconds:7.3f} s",
                          file=sys.stderr, flush=True)

    med = {k: statistics.median(v) for k, v in cpu.items()}
    print("| workload | uninstrumented CPU s | py-spy / plain | memscope / plain | "
          "--cpu / memscope | --cpu-rate 1000 / memscope | ns per sample |")
    print("|---|---|---|---|---|---|---|")
    cols = {"spy": [], "ms": [], "c100": [], "c1000": []}
    for w in args.workloads:
        spy = med[w, "pyspy"] / med[w, "plain"]
        ms = med[w, "memscope"] / med[w, "plain"]
        c100 = med[w, "cpu100"] / med[w, "memscope"]
        c1000 = med[w, "cpu1000"] / med[w, "memscope"]
        for k, v in zip(cols, (spy, ms, c100, c1000)):
            cols[k].append(v)
        print(f"| {w} | {med[w, 'plain']:.3f} | {spy:.3f}x | {ms:.2f}x | {c100:.3f}x | "
              f"{c1000:.3f}x | {statistics.median(per_sample[w]):,.0f} |")
    print(f"| **geometric mean** | | **{geomean(cols['spy']):.3f}x** | "
          f"**{geomean(cols['ms']):.2f}x** | **{geomean(cols['c100']):.3f}x** | "
          f"**{geomean(cols['c1000']):.3f}x** | |")
    cost = statistics.median([statistics.median(v) for v in per_sample.values()])
    print(f"\nMedian cost of one sample: {cost:,.0f} ns of CPU; at 100 samples a second per "
          f"busy thread that is {cost * 100 / 1e9 * 100:.2f}% of one core.")


if __name__ == "__main__":
    main()
