#!/usr/bin/env python3
"""Recorder overhead benchmark: memscope against memray, scalene, tracemalloc
and memory_profiler.

Runs every workload in ``bench/workloads`` uninstrumented and under each
profiling mode, N times interleaved, and reports the median slowdown of each
mode as a ratio to the uninstrumented run, three ways:

* whole process: wall time of the subprocess, start-up and exit included
  (what a user waits for: the headline);
* in process: the work section's own ``time.perf_counter`` and CPU time,
  printed by the workload (``bench-elapsed``), which isolate per-allocation
  overhead.

The peers come from the package index: the interpreter is pyenv's CPython
``--interpreter`` in a virtual environment made from the pinned
``requirements/bench.txt`` (``scripts/venv.sh``), unless ``--python`` names
one. It also reports each tool's capture size and the time of its summary
and flame-graph steps, memscope's analyser speed (``memscope stats --json``
on a capture of tens of millions of events), and with ``--write-readme``
replaces the results block of the "Recorder overhead" section of
``bench/README.md``. Example::

    python3 bench/run_recorder.py --reps 3 --write-readme
"""
import argparse
import json
import math
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
WORKLOAD_DIR = os.path.join(BENCH_DIR, "workloads")
README = os.path.join(BENCH_DIR, "README.md")
BEGIN_MARK = "<!-- recorder-overhead results: begin (written by bench/run_recorder.py) -->"
END_MARK = "<!-- recorder-overhead results: end -->"

WORKLOADS = ["json_roundtrip", "object_sim", "string_build", "dict_churn",
             "threaded", "large_peak", "deep_stacks", "dataframe"]
MODES = ["plain", "memscope", "memscope_native", "memray", "memray_native", "memray_pymalloc",
         "scalene", "tm1", "tm25", "mprof"]
# Run only when asked (--modes): another build of memscope (--baseline), and
# CPU sampling beside a CPU profiler (bench/bench_cpu.py measures them properly).
EXTRA_MODES = ["memscope_baseline", "memscope_cpu", "memscope_native_frames", "memscope_sampled",
               "memscope_sampled_baseline", "pyspy"]
MODE_LABELS = {
    "plain": "uninstrumented",
    "memscope": "memscope exact",
    "memscope_native": "memscope --native",
    "memscope_baseline": "memscope exact, --baseline build",
    "memscope_native_frames": "memscope --native --native-frames",
    "memscope_sampled": "memscope --sample 512KiB",
    "memscope_sampled_baseline": "memscope --sample 512KiB, --baseline build",
    "memray": "memray",
    "memray_native": "memray --native",
    "memray_pymalloc": "memray --trace-python-allocators",
    "scalene": "scalene",
    "tm1": "-X tracemalloc=1",
    "tm25": "-X tracemalloc=25",
    "mprof": "memory_profiler @profile",
    "memscope_cpu": "memscope --cpu (100 Hz)",
    "pyspy": "py-spy record (100 Hz)",
}
# The file each capturing mode writes, by extension; None for modes that
# report in process.
CAPTURE_EXT = {"memscope": "msc", "memscope_native": "msc", "memscope_baseline": "msc",
               "memscope_native_frames": "msc", "memscope_sampled": "msc",
               "memscope_sampled_baseline": "msc",
               "memray": "bin",
               "memray_native": "bin", "memray_pymalloc": "bin", "scalene": "json"}
ELAPSED_RE = re.compile(r"^bench-elapsed ([0-9.]+) cpu=([0-9.]+) checksum=(\S+)$", re.M)


class RunFailed(Exception):
    """A workload process exited abnormally or printed no timing line."""


def mode_command(mode, args, script, capture):
    """Return (argv, extra environment) that runs ``script`` under ``mode``."""
    py = args.python
    if mode == "plain":
        return [py, script], {}
    if mode.startswith("memscope"):
        native = {"memscope_native": ["--native"], "memscope_cpu": ["--cpu"],
                  "memscope_native_frames": ["--native", "--native-frames"],
                  "memscope_sampled": ["--sample", "512KiB"],
                  "memscope_sampled_baseline": ["--sample", "512KiB"]}.get(mode, [])
        cli = args.baseline if mode.endswith("_baseline") else args.memscope
        return ([cli, "run", *native, "-o", capture, "--force", script],
                {"MEMSCOPE_PYTHON": py})
    if mode.startswith("memray"):
        extra = {"memray": [], "memray_native": ["--native"],
                 "memray_pymalloc": ["--trace-python-allocators"]}[mode]
        return [py, "-m", "memray", "run", "-q", "-f", *extra, "-o", capture, script], {}
    if mode == "scalene":
        return [py, "-m", "scalene", "run", "-o", capture, script], {}
    if mode == "pyspy":
        return [os.path.join(os.path.dirname(py), "py-spy"), "record", "-r", "100", "-f", "raw",
                "-o", capture, "--", py, script], {}
    if mode == "tm1":
        return [py, "-X", "tracemalloc=1", script], {}
    if mode == "tm25":
        return [py, "-X", "tracemalloc=25", script], {}
    if mode == "mprof":
        return [py, "-m", "memory_profiler", script], {}
    raise ValueError(mode)


def capture_path(tmpdir, workload, mode):
    """Where ``mode`` writes its capture of ``workload`` (the last run's stays)."""
    return os.path.join(tmpdir, f"{workload}.{mode}.{CAPTURE_EXT.get(mode, 'out')}")


def run_once(mode, workload, args, capture, scale=None):
    """Run one workload under one mode; return (wall s, work s, work CPU s, checksum)."""
    script = os.path.join(WORKLOAD_DIR, workload + ".py")
    argv, extra = mode_command(mode, args, script, capture)
    env = dict(os.environ, **extra)
    env.pop("PYTHONTRACEMALLOC", None)
    if scale is not None:
        env["BENCH_SCALE"] = str(scale)
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          env=env, cwd=WORKLOAD_DIR, timeout=args.timeout)
    wall = time.perf_counter() - start
    err = proc.stderr.decode(errors="replace")
    found = ELAPSED_RE.search(err)
    if proc.returncode != 0 or not found:
        tail = " | ".join(err.strip().splitlines()[-3:])
        raise RunFailed(f"{workload}/{mode}: exit {proc.returncode}: {tail}")
    return wall, float(found.group(1)), float(found.group(2)), found.group(3)


def run_suite(args, tmpdir):
    """Run all (rep, workload, mode) combinations; return results and failures."""
    results = {(w, m): {"wall": [], "work": [], "cpu": [], "rep": [], "checksum": set()}
               for w in args.workloads for m in args.modes}
    failures = []
    for rep in range(args.reps):
        for w in args.workloads:
            # Rotate the mode order each repetition so no mode always runs
            # right after the same neighbour (cache and frequency effects).
            k = rep % len(args.modes)
            for m in args.modes[k:] + args.modes[:k]:
                capture = capture_path(tmpdir, w, m)
                for attempt in range(1 + args.retries):
                    try:
                        wall, work, cpu, checksum = run_once(m, w, args, capture)
                    except (RunFailed, subprocess.TimeoutExpired) as exc:
                        failures.append(str(exc))
                        print(f"  FAILED ({attempt + 1}): {exc}", file=sys.stderr)
                        continue
                    r = results[(w, m)]
                    r["wall"].append(wall)
                    r["work"].append(work)
                    r["cpu"].append(cpu)
                    r["rep"].append(rep)
                    r["checksum"].add(checksum)
                    print(f"rep {rep + 1}/{args.reps} {w:15s} {m:9s} wall {wall:7.3f} s"
                          f"  work {work:7.3f} s  cpu {cpu:7.3f} s", file=sys.stderr)
                    break
    return results, failures


def memscope_stats(args, capture):
    """Return (stats dict, seconds) from ``memscope stats --json``."""
    start = time.perf_counter()
    out = subprocess.run([args.memscope, "stats", capture, "--json"], check=True,
                         stdout=subprocess.PIPE).stdout
    return json.loads(out), time.perf_counter() - start


def capture_sizes(args, tmpdir):
    """Return {workload: (events, bytes)} for the last memscope capture of each."""
    sizes = {}
    for w in args.workloads:
        capture = capture_path(tmpdir, w, "memscope")
        if os.path.exists(capture):
            stats, _ = memscope_stats(args, capture)
            sizes[w] = (stats["allocations"] + stats["frees"], os.path.getsize(capture))
    return sizes


def analyser_speed(args, tmpdir, sizes):
    """Record a capture of at least ``--analyser-events`` events and time stats on it."""
    w = args.analyser_workload
    capture = os.path.join(tmpdir, "analyser.msc")
    if w in sizes:
        base_events = sizes[w][0]
    else:
        first = capture_path(tmpdir, w, "memscope")
        run_once("memscope", w, args, first)
        stats, _ = memscope_stats(args, first)
        base_events = stats["allocations"] + stats["frees"]
    scale = max(1.0, math.ceil(10 * 1.15 * args.analyser_events / base_events) / 10)
    for _ in range(1 + args.retries):
        try:
            run_once("memscope", w, args, capture, scale=scale)
            break
        except RunFailed as exc:
            print(f"  FAILED: {exc}", file=sys.stderr)
    times, cpu = [], []
    for _ in range(args.analyser_reps):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        stats, secs = memscope_stats(args, capture)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(secs)
        cpu.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    events = stats["allocations"] + stats["frees"]
    return {"workload": w, "scale": scale, "events": events,
            "bytes": os.path.getsize(capture), "seconds": statistics.median(times),
            "cpu_seconds": statistics.median(cpu),
            "events_per_s": events / statistics.median(times)}


def report_commands(args, mode, capture):
    """The (summary, flame graph) commands of a capturing mode's own tools."""
    html = capture + ".html"
    if mode.startswith("memscope"):
        return [args.memscope, "stats", capture], [args.memscope, "flamegraph", capture,
                                                    "-o", html]
    if mode.startswith("memray"):
        return ([args.python, "-m", "memray", "summary", capture],
                [args.python, "-m", "memray", "flamegraph", "-f", "-o", html, capture])
    return ([args.python, "-m", "scalene", "view", "--cli", capture],
            [args.python, "-m", "scalene", "view", "--html", capture])


def timed(argv, cwd):
    """Wall seconds of one command, or None when it fails."""
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    return time.perf_counter() - start if proc.returncode == 0 else None


def tool_steps(args, tmpdir):
    """{(workload, mode): (capture bytes, summary s, flame graph s)} for every
    capturing mode's last capture of each workload."""
    steps = {}
    for w in args.workloads:
        for m in args.modes:
            capture = capture_path(tmpdir, w, m)
            if m not in CAPTURE_EXT or not os.path.exists(capture):
                continue
            size = os.path.getsize(capture)
            summary, flame = report_commands(args, m, capture)
            steps[(w, m)] = (size, timed(summary, tmpdir), timed(flame, tmpdir))
    return steps


def steps_table(args, steps):
    """Markdown table of capture bytes and report-step seconds, a row per workload."""
    modes = [m for m in args.modes if any((w, m) in steps for w in args.workloads)]
    lines = ["| workload | " + " | ".join(f"{MODE_LABELS[m]}: bytes / summary s / flame s"
                                            for m in modes) + " |",
             "|---|" + "---|" * len(modes)]

    def cell(step):
        if step is None:
            return "n/a"
        size, summary, flame = step
        secs = ["failed" if t is None else f"{t:.2f}" for t in (summary, flame)]
        shown = f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.1f} kB"
        return f"{shown} / {secs[0]} / {secs[1]}"
    for w in args.workloads:
        lines.append(f"| {w} | " + " | ".join(cell(steps.get((w, m))) for m in modes) + " |")
    return "\n".join(lines)


def geomean(values):
    """Geometric mean of positive numbers."""
    return math.exp(sum(math.log(v) for v in values) / len(values))


def paired_ratio(results, w, m, key):
    """The median over repetitions of mode m's time divided by the uninstrumented
    run's time of the same repetition (None when no repetition has both).

    Runs of one repetition follow each other within seconds, so a change in
    the machine's speed over minutes (other work on a shared host) divides
    out; a ratio of medians taken over the whole run keeps it."""
    plain = dict(zip(results[(w, "plain")]["rep"], results[(w, "plain")][key]))
    ratios = [t / plain[r] for r, t in zip(results[(w, m)]["rep"], results[(w, m)][key])
              if r in plain and plain[r] > 0]
    return statistics.median(ratios) if ratios else None


def ratio_table(args, results, key, stat=statistics.median):
    """Markdown table of each mode's paired ratio to the uninstrumented run
    (paired_ratio), beside the uninstrumented run's ``stat`` in seconds."""
    modes = [m for m in args.modes if m != "plain"]
    head = "| workload | uninstrumented (s) | " + " | ".join(MODE_LABELS[m] for m in modes) + " |"
    lines = [head, "|" + "---|" * (len(modes) + 2)]
    per_mode = {m: [] for m in modes}
    for w in args.workloads:
        if not results[(w, "plain")][key]:
            lines.append(f"| {w} | failed |" + " |" * len(modes))
            continue
        base = stat(results[(w, "plain")][key])
        cells = []
        for m in modes:
            ratio = paired_ratio(results, w, m, key)
            if ratio is None:
                cells.append("failed")
                continue
            per_mode[m].append(ratio)
            cells.append(f"{ratio:.2f}x")
        lines.append(f"| {w} | {base:.3f} | " + " | ".join(cells) + " |")
    lines.append("| **geometric mean** | | " + " | ".join(
        f"**{geomean(per_mode[m]):.2f}x**" if per_mode[m] else "n/a" for m in modes) + " |")
    return "\n".join(lines), per_mode


def slowdown_lines(args, results, key, label):
    """Markdown bullets for the two slowdown targets, measured by ``key``."""
    out, ms, tm = [], [], []
    for w in args.workloads:
        cells = [results.get((w, m), {}).get(key) for m in ("plain", "memscope", "tm1")]
        if all(cells):
            r, t = paired_ratio(results, w, "memscope", key), paired_ratio(results, w, "tm1", key)
            if r is not None and t is not None:
                ms.append((w, r))
                tm.append(t)
    if not ms:
        return out
    worst = min(((t - 1) / max(r - 1, 1e-9), w) for (w, r), t in zip(ms, tm))
    out.append(f"- memscope overhead at least 2x smaller than `-X tracemalloc=1` on every "
               f"workload ({label}): {'met' if worst[0] >= 2 else 'MISSED'}; smallest "
               f"factor {worst[0]:.2f}x on {worst[1]}.")
    g = geomean([r for _, r in ms])
    out.append(f"- geometric-mean slowdown <= 1.6x ({label}): "
               f"{'met' if g <= 1.6 else 'MISSED'} at {g:.2f}x"
               + ("" if g <= 1.6 else f" ({(g - 1) / 0.6:.2f}x the allowed overhead)") + ".")
    return out


def target_lines(args, results, sizes, analyser):
    """Markdown bullets saying whether each target is met, and by how much."""
    out = slowdown_lines(args, results, "cpu", "in-process CPU time")
    out += slowdown_lines(args, results, "work", "in-process wall time")
    if sizes:
        events = sum(e for e, _ in sizes.values())
        size = sum(b for _, b in sizes.values())
        bpe = size / events
        out.append(f"- capture <= 3 bytes per event: {'met' if bpe <= 3 else 'MISSED'} at "
                   f"{bpe:.2f} bytes/event over all workloads.")
    if analyser:
        eps = analyser["events_per_s"] / 1e6
        out.append(f"- analyser >= 20 M events/s on one core: {'met' if eps >= 20 else 'MISSED'} "
                   f"at {eps:.1f} M events/s"
                   + ("" if eps >= 20 else f" ({20 / eps:.2f}x too slow)") + ".")
    return "\n".join(out)


def machine_line(args):
    """One line describing the machine, interpreter and memscope commit."""
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    py = subprocess.run([args.python, "-c", "import sys; print(sys.version.split()[0])"],
                        stdout=subprocess.PIPE, text=True).stdout.strip()
    label = args.build_label
    if not label:
        git = ["git", "-C", REPO_DIR]
        label = subprocess.run(git + ["rev-parse", "--short", "HEAD"],
                               stdout=subprocess.PIPE, text=True).stdout.strip()
        dirty = subprocess.run(git + ["status", "--porcelain", "--", "src", "include"],
                               stdout=subprocess.PIPE, text=True).stdout.strip()
        label += " with uncommitted changes in src/ or include/" if dirty else ""
    return (f"{cpu}, {os.cpu_count()} CPUs (1-minute load average {args.load_start:.1f} "
            f"at start, {os.getloadavg()[0]:.1f} at end); {args.python} (Python {py}); "
            f"memscope {label}; {time.strftime('%Y-%m-%d')}")


def report(args, results, failures, sizes, analyser, steps, command):
    """Return the markdown results block."""
    parts = [f"Command: `{command}`", "", f"Machine: {machine_line(args)}. {args.reps} "
             f"interleaved runs per cell; each ratio is the median over repetitions of "
             f"the mode's time over the same workload's uninstrumented time in that "
             f"repetition.", ""]
    table, _ = ratio_table(args, results, "wall")
    parts += ["**Whole process** (subprocess wall time, interpreter and profiler "
              "start-up and exit included: what a user waits for; memscope's includes "
              "its launcher and the final flush of the capture, memray's its lz4 "
              "compression at exit, scalene's the writing of its JSON profile):",
              "", table, ""]
    table, _ = ratio_table(args, results, "cpu")
    parts += ["**In process, CPU time** (CPU time of the workload's own threads during "
              "its work section; the per-allocation overhead, unaffected by other load "
              "on the machine; leaves out the profilers' helper threads, such as "
              "memscope's writer, which compresses on another CPU):", "", table, ""]
    table, _ = ratio_table(args, results, "work")
    parts += ["**In process, wall time** (the workload's own `perf_counter` around its "
              "work section):", "", table, ""]
    if steps:
        parts += ["**What each tool leaves and how long its reports take** (the last "
                  "run's capture of each workload; summary = `memscope stats`, `memray "
                  "summary`, `scalene view --cli`; flame graph = `memscope flamegraph`, "
                  "`memray flamegraph`, `scalene view --html`, which has no flame graph; "
                  "seconds of wall time, once each):", "", steps_table(args, steps), ""]
    if sizes:
        rows = ["| workload | events | capture bytes | bytes/event | added ns/event |",
                "|---|---|---|---|---|"]
        for w, (events, size) in sizes.items():
            added = (statistics.median(results[(w, "memscope")]["cpu"])
                     - statistics.median(results[(w, "plain")]["cpu"])) / events * 1e9
            rows.append(f"| {w} | {events:,} | {size:,} | {size / events:.2f} | {added:.0f} |")
        parts += ["**Capture size and cost per event** (events = allocations + frees from "
                  "`memscope stats --json`; added ns/event = in-process median CPU "
                  "time recorded minus uninstrumented, over events):", "", "\n".join(rows), ""]
    if analyser:
        a = analyser
        parts += [f"**Analyser**: `memscope stats --json` (single-threaded) read a "
                  f"{a['bytes'] / 1e6:.0f} MB capture of {a['events'] / 1e6:.1f} M events "
                  f"({a['workload']} at BENCH_SCALE={a['scale']}) in {a['seconds']:.2f} s "
                  f"wall, {a['cpu_seconds']:.2f} s CPU: **{a['events_per_s'] / 1e6:.1f} M "
                  f"events/s** of wall time, {a['events'] / a['cpu_seconds'] / 1e6:.1f} M "
                  f"events per CPU second (median of {args.analyser_reps}).", ""]
    parts += ["Targets:", "", target_lines(args, results, sizes, analyser), ""]
    mismatched = [w for w in args.workloads
                  if len(set().union(*(results[(w, m)]["checksum"] for m in args.modes))) > 1]
    if mismatched:
        parts += [f"Checksums differ between modes for: {', '.join(mismatched)}.", ""]
    if failures:
        parts += [f"Failed runs ({len(failures)}, each retried):", ""]
        parts += [f"- `{f}`" for f in failures] + [""]
    return "\n".join(parts)


def write_readme(block):
    """Replace (or add) the results block of the Recorder overhead section."""
    text = open(README).read() if os.path.exists(README) else "# memscope benchmarks\n"
    new = f"{BEGIN_MARK}\n{block}\n{END_MARK}"
    if BEGIN_MARK in text and END_MARK in text:
        head, rest = text.split(BEGIN_MARK, 1)
        text = head + new + rest.split(END_MARK, 1)[1]
    else:
        # At the end of our own section, before whatever section follows it.
        if "## Recorder overhead" not in text:
            text = text.rstrip("\n") + "\n\n## Recorder overhead\n"
        start = text.index("## Recorder overhead")
        end = text.find("\n## ", start)
        end = len(text) if end < 0 else end + 1
        text = text[:end].rstrip("\n") + "\n\n" + new + "\n\n" + text[end:].lstrip("\n")
    with open(README, "w") as f:
        f.write(text)


def parse_args():
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--reps", type=int, default=3, help="runs per (workload, mode)")
    p.add_argument("--workloads", nargs="+", default=WORKLOADS, choices=WORKLOADS)
    p.add_argument("--modes", nargs="+", default=MODES, choices=MODES + EXTRA_MODES)
    p.add_argument("--interpreter", default="3.11",
                   help="pyenv's CPython X.Y, or 'system' (Debian's /usr/bin/python3), in a "
                   "venv from requirements/bench.txt")
    p.add_argument("--python", help="the one interpreter used by every mode, with the "
                   "peers installed (default: the venv of --interpreter)")
    p.add_argument("--memscope", default=os.path.join(REPO_DIR, "bin", "memscope"))
    p.add_argument("--baseline", help="another build's bin/memscope, run as one more mode "
                   "(memscope_baseline) interleaved with the rest: a change's cost")
    p.add_argument("--build-label", default="",
                   help="how the memscope under test was built (default: this repo's commit)")
    p.add_argument("--retries", type=int, default=2, help="extra attempts after a failed run")
    p.add_argument("--timeout", type=float, default=900, help="seconds per run")
    p.add_argument("--analyser-events", type=float, default=30e6,
                   help="minimum events in the capture timed for analyser speed")
    p.add_argument("--analyser-workload", default="json_roundtrip", choices=WORKLOADS)
    p.add_argument("--analyser-reps", type=int, default=3)
    p.add_argument("--no-analyser", action="store_true")
    p.add_argument("--write-readme", action="store_true",
                   help="write the results into bench/README.md")
    args = p.parse_args()
    if "plain" not in args.modes:
        args.modes.insert(0, "plain")
    if args.baseline and not any(m.endswith("_baseline") for m in args.modes):
        args.modes.append("memscope_baseline")
    if not args.baseline and any(m.endswith("_baseline") for m in args.modes):
        p.error("the _baseline modes run the build named by --baseline")
    if not args.python:
        venv = subprocess.run(["bash", os.path.join(REPO_DIR, "scripts", "venv.sh"),
                               args.interpreter, os.path.join(REPO_DIR, "requirements",
                                                              "bench.txt")],
                              check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
        args.python = os.path.join(venv, "bin", "python")
    return args


def main():
    """Run the suite and print (and optionally save) the report."""
    args = parse_args()
    args.load_start = os.getloadavg()[0]
    command = "python3 bench/run_recorder.py " + " ".join(sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="memscope-bench-") as tmpdir:
        results, failures = run_suite(args, tmpdir)
        sizes = capture_sizes(args, tmpdir) if "memscope" in args.modes else {}
        steps = tool_steps(args, tmpdir)
        analyser = None if args.no_analyser else analyser_speed(args, tmpdir, sizes)
    block = report(args, results, failures, sizes, analyser, steps, command.strip())
    print(block)
    if args.write_readme:
        write_readme(block)


if __name__ == "__main__":
    main()
