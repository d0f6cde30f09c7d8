"""Starts memscope's recorder inside ``memscope run``'s interpreter.

``memscope run`` runs ``python3 script.py args`` (or ``-m``/``-c``) itself,
with this folder first on PYTHONPATH: the interpreter imports this module
while it starts up, before it runs the program, and everything after is the
interpreter's own doing. This module takes itself off sys.path, hands over
to memscope._launch, then runs the sitecustomize it shadows, if any, as the
site module would have.
"""
import os
import site
import sys


def _run_shadowed():
    """The site module re-reads sys.modules["sitecustomize"] once this module
    has run: it must hold the shadowed module, or this one when there is none."""
    this = sys.modules.pop("sitecustomize")
    site.execsitecustomize()
    sys.modules.setdefault("sitecustomize", this)


def _forget_options():
    """The environment as the program was given it: memscope's variables
    out, PYTHONPATH as it was (memscope._launch does the same)."""
    for name in [n for n in os.environ if n.startswith("MEMSCOPE_RUN_")]:
        del os.environ[name]
    original = os.environ.pop("MEMSCOPE_PYTHONPATH", None)
    if original is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = original


def _boot():
    here = os.path.dirname(os.path.abspath(__file__))
    package_root = os.path.dirname(os.path.dirname(here))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path_importer_cache.pop(here, None)
    if "MEMSCOPE_RUN_OUTPUT" not in os.environ:
        # A subinterpreter of the recorded process: its main interpreter took
        # the options and records it already.
        _run_shadowed()
        return
    sys.path.insert(0, package_root)
    try:
        from memscope import _launch
    except ImportError as e:  # an interpreter memscope does not support: say so, run nothing
        if "MEMSCOPE_RUN_PARENT" in os.environ:
            # A child of a recorded program, run by another Python: it runs
            # as it would, unrecorded.
            print(f"memscope: warning: not recording child {os.getpid()}: {e}",
                  file=sys.stderr, flush=True)
            _forget_options()
            _run_shadowed()
            return
        print(e, file=sys.stderr, flush=True)
        os._exit(2)
    finally:
        del sys.path[0]
        sys.path_importer_cache.pop(package_root, None)
    _run_shadowed()
    _launch.boot()


_boot()
