"""memscope: a memory profiler, heap analyser and optimisation advisor for Python.

Record a program from the command line::

    memscope run -o run.msc script.py
    memscope stats run.msc

or from code::

    import memscope
    with memscope.Tracker("run.msc"):
        work()
"""
from memscope._memscope import __version__  # from VERSION, compiled in
from memscope._api import Tracker, get_traced_memory, mark, profile
from memscope._snapshot import Filter, Snapshot, take_snapshot
from memscope.heap import (backrefs, cycles, dump_heap, duplicates, empty_containers, gc_report,
                           growth, heap, most_common_types, retained_size, show_backrefs,
                           show_refs, sizeof)

__all__ = ["Tracker", "get_traced_memory", "mark", "profile"]
__all__ += ["Filter", "Snapshot", "take_snapshot"]
__all__ += ["backrefs", "cycles", "dump_heap", "duplicates", "empty_containers", "gc_report",
            "growth", "heap", "most_common_types", "retained_size", "show_backrefs", "show_refs",
            "sizeof"]


def load_ipython_extension(ipython) -> None:
    """``%load_ext memscope``: the ``%memscope`` and ``%%memscope`` magics."""
    from memscope._ipython import load
    load(ipython)
