"""Shared entry point for the recorder benchmark workloads.

Every workload module defines ``run(scale) -> int`` (the work, returning a
checksum) and ends with ``main(run)``. ``main`` times only the call to
``run`` with ``time.perf_counter`` and reports it on stderr as one line::

    bench-elapsed 0.512345 cpu=0.498765 checksum=123456

so the driver can compare the in-process time of the work section across
modes, apart from interpreter and profiler start-up. ``cpu`` is the CPU time
of the workload's own threads (``time.thread_time`` of the main thread plus
whatever worker threads report through ``add_thread_cpu``): unlike wall time
it does not grow when other processes take the CPU, and it leaves out any
profiler's helper threads. ``profile`` is
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


# Only memory_profiler's: `memscope run` puts a `profile` of its own in the
# builtins too, whose line tables (a pass over the whole capture at exit)
# would count in memscope's whole-process time and in no other tool's.
profile = builtins.__dict__.get("profile", _identity)
if getattr(profile, "__module__", "").startswith("memscope"):
    profile = _identity


_worker_cpu = []


def add_thread_cpu(seconds):
    """Count ``seconds`` of a worker thread's CPU time in the reported ``cpu``.

    A worker calls it once, as it finishes::

        start = time.thread_time()
        ...
        add_thread_cpu(time.thread_time() - start)
    """
    _worker_cpu.append(seconds)


def main(run):
    """Time ``run(scale)`` and print the elapsed seconds and its checksum.

    The scale factor comes from ``BENCH_SCALE`` (default 1.0), e.g.::

        BENCH_SCALE=4 python3 json_roundtrip.py
    """
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    start, cpu_start = time.perf_counter(), time.thread_time()
    checksum = run(scale)
    elapsed = time.perf_counter() - start
    cpu = time.thread_time() - cpu_start + sum(_worker_cpu)
    print(f"bench-elapsed {elapsed:.6f} cpu={cpu:.6f} checksum={checksum}",
          file=sys.stderr, flush=True)
