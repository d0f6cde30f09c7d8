"""Shared entry point for the recorder benchmark workloads.

Every workload module defines ``run(scale) -> int`` (the work, returning a
checksum) and ends with ``main(run)``. ``main`` times only the call to
``run`` with ``time.perf_counter`` and reports it on stderr as one line::

    bench-elapsed 0.512345 checksum=123456

so the driver can compare the in-process time of the work section across
modes, apart from interpreter and profiler start-up. ``profile`` is
memory_profiler's decorator when the workload runs under
``python3 -m memory_profiler``, and a no-op otherwise.
"""
import builtins
import os
import sys
import time


def _identity(func):
    """Return ``func`` unchanged: the decorator used outside memory_profiler."""
    return func


profile = builtins.__dict__.get("profile", _identity)


def main(run):
    """Time ``run(scale)`` and print the elapsed seconds and its checksum.

    The scale factor comes from ``BENCH_SCALE`` (default 1.0), e.g.::

        BENCH_SCALE=4 python3 json_roundtrip.py
    """
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    start = time.perf_counter()
    checksum = run(scale)
    elapsed = time.perf_counter() - start
    print(f"bench-elapsed {elapsed:.6f} checksum={checksum}", file=sys.stderr, flush=True)
