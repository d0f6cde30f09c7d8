"""Peak memory and time of `memscope heap SNAP --diff SNAP` on a snapshot
of about 1.3 * 10^7 objects, measured with /usr/bin/time -v.

    python3 bench/bench_heap_diff.py [--objects 13000000] [--snapshot PATH]

The snapshot (N/3 live tuples of an int and a str, as in bench_heap.py) is
written by memscope.dump_heap in a child interpreter and reused when PATH
already exists. `heap --by type` (one whole graph read) is measured beside
the diff for comparison.
"""
import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = ROOT / "bin" / "memscope"

MAKE = """
import sys
sys.path.insert(0, sys.argv[3])
import memscope
keep = [(i, str(i)) for i in range(int(sys.argv[2]) // 3)]
memscope.dump_heap(sys.argv[1])
"""


def measure(*args):
    """(peak RSS in MiB, wall seconds) of one CLI run."""
    out = subprocess.run(["/usr/bin/time", "-v", str(CLI), *map(str, args)],
                         capture_output=True, text=True, check=True).stderr
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", out).group(1)
    minutes, seconds = wall.rsplit(":", 1)
    return rss / 1024, float(seconds) + 60 * float(minutes.split(":")[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=13_000_000)
    parser.add_argument("--snapshot", default="/tmp/memscope-bench-big.heap")
    args = parser.parse_args()
    snap = Path(args.snapshot)
    if not snap.exists():
        subprocess.run([sys.executable, "-c", MAKE, str(snap), str(args.objects),
                        str(ROOT / "python")], check=True)
    for label, cmd in (("heap --by type", ("heap", snap, "--by", "type", "--limit", "1")),
                       ("heap --diff (itself)", ("heap", snap, "--diff", snap))):
        rss, wall = measure(*cmd)
        print(f"{label:22} peak RSS {rss:7.0f} MiB   wall {wall:5.1f} s")


if __name__ == "__main__":
    main()
