"""Heap analysis benchmarks: walk speed, snapshot size and dominator time
on heaps of about 10^5, 10^6 and 10^7 objects, with objgraph and a
gc.get_objects() + sys.getsizeof loop measured in the same process.

    /usr/bin/python3 bench/bench_heap.py [--sizes 100000,1000000,10000000]

Each size runs in a fresh interpreter. The heap is N/3 live tuples
(tuple, int, str: three objects each, as in the 2 M tuple case users
report), so untracked objects dominate, as they do in real programs.
Results are ratios against the baselines, so they compare across machines.
"""
import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = ROOT / "bin" / "memscope"


def best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def getsizeof_loop():
    counts = {}
    for o in gc.get_objects():
        t = type(o)
        n, s = counts.get(t, (0, 0))
        counts[t] = (n + 1, s + sys.getsizeof(o))
    return counts


def python_walk():
    """What a user writes to see untracked objects too: a breadth-first walk
    with gc.get_referents from gc.get_objects(), sized with sys.getsizeof."""
    seen = {id(o): o for o in gc.get_objects()}
    todo = list(seen.values())
    total = 0
    while todo:
        o = todo.pop()
        total += sys.getsizeof(o)
        for r in gc.get_referents(o):
            if id(r) not in seen:
                seen[id(r)] = r
                todo.append(r)
    return len(seen), total


def child(n):
    sys.path.insert(0, str(ROOT / "python"))
    import memscope
    data = [(i * 7919 + 10**6, f"item-{i}") for i in range(n // 3)]
    part = memscope.heap(file=None)
    objects = part.count
    result = {"objects": objects, "bytes": part.size}
    result["partition_s"] = best(lambda: memscope.heap(file=None))
    result["getsizeof_loop_s"] = best(getsizeof_loop)
    result["python_walk_s"] = best(python_walk, repeat=1)
    result["gc_objects"] = len(gc.get_objects())
    try:
        import objgraph
        result["objgraph_s"] = best(lambda: objgraph.most_common_types(limit=10), repeat=1)
    except ImportError:
        result["objgraph_s"] = None
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.heap")
        result["dump_s"] = best(lambda: memscope.dump_heap(path), repeat=1)
        result["file_bytes"] = os.path.getsize(path)
        for name, args in (("read_partition_s", ["--by", "kind"]),
                           ("read_retained_s", ["--retained", "--limit", "5"])):
            t = time.perf_counter()
            subprocess.run([str(CLI), "heap", path, *args], check=True, stdout=subprocess.DEVNULL)
            result[name] = time.perf_counter() - t
    del data
    print(json.dumps(result))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000,10000000")
    ap.add_argument("--child", type=int)
    args = ap.parse_args()
    if args.child:
        return child(args.child)
    print(f"{'objects':>10} {'part Mobj/s':>11} {'vs py walk':>10} {'vs getsizeof':>12} {'vs objgraph':>11} "
          f"{'dump Mobj/s':>11} {'B/obj':>6} {'read+part s':>11} {'read+dom s':>10}")
    for n in map(int, args.sizes.split(",")):
        out = subprocess.run([sys.executable, __file__, "--child", str(n)], check=True,
                             capture_output=True, text=True).stdout
        r = json.loads(out)
        objs = r["objects"]
        vs_og = f"{r['objgraph_s'] / r['partition_s']:.1f}x" if r["objgraph_s"] else "-"
        print(f"{objs:>10} {objs / r['partition_s'] / 1e6:>11.1f} "
              f"{r['python_walk_s'] / r['partition_s']:>9.1f}x "
              f"{r['getsizeof_loop_s'] / r['partition_s']:>11.1f}x {vs_og:>11} "
              f"{objs / r['dump_s'] / 1e6:>11.1f} {r['file_bytes'] / objs:>6.1f} "
              f"{r['read_partition_s']:>11.2f} {r['read_retained_s']:>10.2f}", flush=True)
        print(f"{'':>10} (gc.get_objects() saw {r['gc_objects']} of them; "
              f"getsizeof loop {r['getsizeof_loop_s']:.3f} s, partition {r['partition_s']:.3f} s)",
              flush=True)


if __name__ == "__main__":
    main()
