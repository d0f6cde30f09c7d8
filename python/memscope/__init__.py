"""memscope: a memory profiler, heap analyser and optimisation advisor for Python.

Record a program from the command line::

    memscope run -o run.msc script.py
    memscope stats run.msc

or from code::

    import memscope
    with memscope.Tracker("run.msc"):
        work()
"""
import sys as _sys
import sysconfig as _sysconfig

# The recorder and heap walker read interpreter internals through a version
# layer that knows these interpreters only (docs/versions.md).
if not (3, 11) <= _sys.version_info[:2] <= (3, 13) or _sysconfig.get_config_var("Py_GIL_DISABLED"):
    _refusal = ("memscope supports CPython 3.11, 3.12 and 3.13 with the GIL, not "
                + ("CPython" if _sys.implementation.name == "cpython" else _sys.implementation.name)
                + " " + _sys.version.split()[0]
                + (" (free-threaded)" if _sysconfig.get_config_var("Py_GIL_DISABLED") else ""))
    if _sys.argv[:1] == ["-m"]:  # python -m memscope, and memscope run's launcher
        print(_refusal, file=_sys.stderr)
        raise SystemExit(2)
    raise ImportError(_refusal)

from memscope._memscope import __version__  # from VERSION, compiled in

from memscope._advise import Advice, advise
from memscope._api import Tracker, get_traced_memory, mark, profile
from memscope._snapshot import Filter, Snapshot, take_snapshot
from memscope.heap import (backrefs, cycles, dump_heap, duplicates, empty_containers, gc_report,
                           growth, heap, most_common_types, retained_size, show_backrefs,
                           show_refs, sizeof)

__all__ = ["Advice", "Tracker", "advise", "get_traced_memory", "mark", "profile"]
__all__ += ["Filter", "Snapshot", "take_snapshot"]
__all__ += ["backrefs", "cycles", "dump_heap", "duplicates", "empty_containers", "gc_report",
            "growth", "heap", "most_common_types", "retained_size", "show_backrefs", "show_refs",
            "sizeof"]


def load_ipython_extension(ipython) -> None:
    """``%load_ext memscope``: the ``%memscope`` and ``%%memscope`` magics."""
    from memscope._ipython import load
    load(ipython)
