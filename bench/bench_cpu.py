#!/usr/bin/env python3
"""What `memscope run --cpu` adds to a recording, next to py-spy.

Runs every workload in ``bench/workloads`` interleaved, N times each, under:

* ``memscope``: ``memscope run`` (exact recording, no CPU sampling): the
  baseline the CPU sampler adds to;
* ``cpu100``: ``memscope run --cpu`` (100 samples a second per thread);
* ``cpu2000``: ``memscope run --cpu-rate 2000``, twenty times the samples,
  so the per-sample cost stands out of the machine's noise;
* ``plain`` and ``pyspy`` (``py-spy record -r 100``, from the bench venv):
  the reference a sampling profiler sets.

Two costs per run: the CPU time of the workload's own threads in its work
section (``bench-elapsed ... cpu=``: what the signal handlers and the
drains, which run on those threads, add), and the CPU time of the whole
process tree (user + system of every thread, the sampling thread and the
writer included, and py-spy's own process), from
``getrusage(RUSAGE_CHILDREN)``. The report gives median ratios per
workload and their geometric mean, and the cost of one sample: (in-process
CPU at 2000 Hz - without sampling) / samples taken, which times 100 samples
a second per busy thread is the overhead at the default rate. Example::

    python3 bench/bench_cpu.py --reps 5
"""
import argparse
import json
import math
import os
import re
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
MODES = ["plain", "pyspy", "memscope", "cpu100", "cpu2000"]


def command(mode, args, script, capture):
    """The argv that runs ``script`` under ``mode``."""
    py = args.python
    if mode == "plain":
        return [py, script]
    if mode == "pyspy":
        return [os.path.join(os.path.dirname(py), "py-spy"), "record", "-r", "100", "-f", "raw",
                "-o", capture, "--", py, script]
    rate = {"memscope": [], "cpu100": ["--cpu"], "cpu2000": ["--cpu-rate", "2000"]}[mode]
    return [args.memscope, "run", *rate, "-o", capture, "--force", script]


ELAPSED_RE = re.compile(r"^bench-elapsed [0-9.]+ cpu=([0-9.]+) ", re.M)


def run_once(mode, workload, args, tmpdir):
    """(in-process CPU s, process-tree CPU s, the capture of memscope modes)."""
    script = os.path.join(WORKLOAD_DIR, workload + ".py")
    capture = os.path.join(tmpdir, f"{workload}.{mode}")
    env = dict(os.environ, MEMSCOPE_PYTHON=args.python)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(command(mode, args, script, capture), check=True, env=env,
                          cwd=WORKLOAD_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    tree = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return float(ELAPSED_RE.search(proc.stderr).group(1)), tree, capture


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

    inproc = {(w, m): [] for w in args.workloads for m in MODES}
    tree = {(w, m): [] for w in args.workloads for m in MODES}
    samples = {w: [] for w in args.workloads}
    with tempfile.TemporaryDirectory(prefix="memscope-bench-cpu-") as tmpdir:
        for rep in range(args.reps):
            for w in args.workloads:
                for m in MODES:
                    work, whole, capture = run_once(m, w, args, tmpdir)
                    inproc[w, m].append(work)
                    tree[w, m].append(whole)
                    if m == "cpu2000":
                        samples[w].append(samples_of(args, capture))
                    print(f"rep {rep + 1}/{args.reps} {w:15s} {m:9s} work cpu {work:7.3f} s"
                          f"  process cpu {whole:7.3f} s", file=sys.stderr, flush=True)

    per_sample = {}
    for title, cpu in (("In process: CPU time of the workload's threads", inproc),
                       ("Whole process tree: CPU time of every thread and process", tree)):
        med = {k: statistics.median(v) for k, v in cpu.items()}
        print(f"\n**{title}** (median of {args.reps})\n")
        print("| workload | uninstrumented CPU s | py-spy / plain | memscope / plain | "
              "--cpu / memscope | --cpu-rate 2000 / memscope |")
        print("|---|---|---|---|---|---|")
        cols = {"spy": [], "ms": [], "c100": [], "c2000": []}
        for w in args.workloads:
            row = (med[w, "pyspy"] / med[w, "plain"], med[w, "memscope"] / med[w, "plain"],
                   med[w, "cpu100"] / med[w, "memscope"], med[w, "cpu2000"] / med[w, "memscope"])
            for k, v in zip(cols, row):
                cols[k].append(v)
            print(f"| {w} | {med[w, 'plain']:.3f} | {row[0]:.3f}x | {row[1]:.2f}x | "
                  f"{row[2]:.3f}x | {row[3]:.3f}x |")
            if cpu is inproc:
                n = statistics.median(samples[w])
                per_sample[w] = (med[w, "cpu2000"] - med[w, "memscope"]) / n * 1e9 if n else 0
        print(f"| **geometric mean** | | **{geomean(cols['spy']):.3f}x** | "
              f"**{geomean(cols['ms']):.2f}x** | **{geomean(cols['c100']):.3f}x** | "
              f"**{geomean(cols['c2000']):.3f}x** |")
    print("\n**Cost of one sample** (in-process CPU at 2000 Hz minus without sampling, over "
          "the samples taken):\n")
    print("| workload | samples at 2000 Hz | ns per sample | at 100 Hz, share of a busy thread |")
    print("|---|---|---|---|")
    for w in args.workloads:
        print(f"| {w} | {statistics.median(samples[w]):,.0f} | {per_sample[w]:,.0f} | "
              f"{per_sample[w] * 100 / 1e9 * 100:.2f}% |")
    cost = statistics.median(per_sample.values())
    print(f"\nMedian: {cost:,.0f} ns a sample, {cost * 100 / 1e9 * 100:.2f}% of a busy thread "
          f"at 100 Hz.")


if __name__ == "__main__":
    main()
