"""Runs a program under the recorder, as ``python3 script.py`` would.

``memscope run`` replaces itself with ``python3 -m memscope._launch --output
FILE ... -- script.py args``. This module undoes everything that invocation
changed before the program starts (``sys.argv``, ``sys.path[0]``,
``PYTHONPATH``, ``__main__``), starts recording, runs the program's code in a
fresh ``__main__`` module, and reproduces the interpreter's own handling of
its end: the exit code, the traceback of an uncaught exception (without
memscope's frames), and death by SIGINT on an uncaught KeyboardInterrupt.
"""
import atexit
import gc
import io
import os
import signal
import sys
import threading
import types

from memscope import _memscope
from memscope.heap import dump_heap

_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _parse(argv):
    opts = {"output": None, "depth": 128, "force": False, "follow_fork": False, "sample": 0,
            "native": False,
            "heap_at_exit": None, "heap_on_signal": None}
    i = 0
    while argv[i] != "--":
        if argv[i] == "--output":
            opts["output"], i = argv[i + 1], i + 2
        elif argv[i] == "--depth":
            opts["depth"], i = int(argv[i + 1]), i + 2
        elif argv[i] == "--sample":
            opts["sample"], i = int(argv[i + 1]), i + 2
        elif argv[i] == "--force":
            opts["force"], i = True, i + 1
        elif argv[i] == "--native":
            opts["native"], i = True, i + 1
        elif argv[i] == "--follow-fork":
            opts["follow_fork"], i = True, i + 1
        elif argv[i] in ("--heap-at-exit", "--heap-on-signal"):
            opts[argv[i][2:].replace("-", "_")], i = argv[i + 1], i + 2
        else:
            raise SystemExit(f"memscope: internal launcher option {argv[i]!r}")
    return opts, argv[i + 1:]


def _restore_environment():
    """Undo what `python3 -m memscope._launch` added, so the program sees the
    interpreter state `python3 script.py` would give it."""
    original = os.environ.pop("MEMSCOPE_PYTHONPATH", None)
    if original is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = original
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _PACKAGE_ROOT]
    if sys.path and sys.path[0] == os.getcwd():
        del sys.path[0]  # the entry `-m` put there; the program's own goes in below


def _main_module(name_file, loader, spec, package):
    module = types.ModuleType("__main__")
    module.__dict__.update(__file__=name_file, __cached__=None, __loader__=loader,
                           __spec__=spec, __package__=package, __builtins__=__builtins__)
    if name_file is None:
        del module.__file__
    sys.modules["__main__"] = module
    return module.__dict__


def _prepare(prog):
    """Returns (code, globals) for the program and sets sys.argv/sys.path."""
    import importlib.machinery
    import runpy

    if prog[0] == "-c":
        sys.argv = ["-c", *prog[2:]]
        sys.path.insert(0, "")
        return compile(prog[1], "<string>", "exec"), _main_module(None, None, None, None)
    if prog[0] == "-m":
        sys.path.insert(0, os.getcwd())
        mod_name, spec, code = runpy._get_module_details(prog[1])  # raises ImportError
        sys.argv = [spec.origin, *prog[2:]]
        return code, _main_module(spec.origin, spec.loader, spec, spec.parent)
    script = prog[0]
    sys.argv = list(prog)
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    with io.open_code(script) as f:
        source = f.read()
    loader = importlib.machinery.SourceFileLoader("__main__", script)
    return compile(source, script, "exec"), _main_module(script, loader, None, None)


def _name_threads():
    """Record each thread's name as it starts (runs in the new thread)."""
    bootstrap = threading.Thread._bootstrap_inner

    def _bootstrap_inner(self):
        _memscope.thread_started(self.name)
        bootstrap(self)

    threading.Thread._bootstrap_inner = _bootstrap_inner


def _finish(output):
    if _memscope.recording() is None:
        return
    if _memscope.gc_callback in gc.callbacks:
        gc.callbacks.remove(_memscope.gc_callback)
    try:
        path = _memscope.stop()
    except OSError as e:
        print(f"memscope: warning: {e}", file=sys.stderr)
        return
    if os.getpid() == _finish.pid:
        print(f"memscope: capture written to '{path}'\n"
              f"  memscope stats {path}\n"
              f"  memscope table {path} --at peak\n"
              f"  memscope lines {path}", file=sys.stderr)


def _start(opts, path, root=0):
    """Starts recording; root=2 hides the frames from our caller down."""
    gc.callbacks.append(_memscope.gc_callback)
    _memscope.start(path, list(sys.argv), max_depth=opts["depth"], force=opts["force"],
                    root=root, sample=opts["sample"], native=opts["native"])
    _memscope.thread_started(threading.current_thread().name)


def _follow_fork(opts):
    """Each forked child records to OUTPUT.PID. Children often end with
    os._exit(), which skips atexit: the child's os._exit finishes the capture
    first, then exits as asked."""
    real_exit = os._exit

    def exit_after_finishing(status):
        _finish(None)
        real_exit(status)

    def child():
        _finish.pid = os.getpid()
        try:
            _start(dict(opts, force=True), f"{opts['output']}.{os.getpid()}")
        except OSError as e:
            print(f"memscope: warning: not recording child {os.getpid()}: {e}", file=sys.stderr)
            return
        os._exit = exit_after_finishing

    os.register_at_fork(after_in_child=child)


def _dump_heap(path):
    """A heap snapshot for `memscope heap`; a failure warns, never stops
    the program."""
    try:
        dump_heap(path)
    except (OSError, MemoryError) as e:
        print(f"memscope: warning: no heap snapshot: {e}", file=sys.stderr)
        return
    print(f"memscope: heap snapshot written to '{path}'\n  memscope heap {path}",
          file=sys.stderr)


def _heap_on_signal(path):
    """Each SIGUSR2 writes PATH.1, PATH.2, ...: the handler runs in the main
    thread between bytecodes, where the heap is consistent."""
    count = [0]

    def dump(signum, frame):
        count[0] += 1
        _dump_heap(f"{path}.{count[0]}")

    signal.signal(signal.SIGUSR2, dump)


def _die_of_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)


def main():
    opts, prog = _parse(sys.argv[1:])
    _restore_environment()
    try:
        code, globals_ = _prepare(prog)
    except SyntaxError as e:
        sys.excepthook(type(e), e.with_traceback(None), None)  # as the interpreter reports it
        raise SystemExit(1)
    except (OSError, ImportError) as e:
        print(f"memscope: cannot run {prog[0] if prog[0][0] != '-' else prog[1]!r}: {e}",
              file=sys.stderr)
        raise SystemExit(2)
    _finish.pid = os.getpid()
    atexit.register(_finish, opts["output"])
    _name_threads()
    if opts["follow_fork"]:
        _follow_fork(opts)
    try:
        _start(opts, opts["output"], root=2)
    except OSError as e:
        print(f"memscope: cannot write capture: {e}", file=sys.stderr)
        raise SystemExit(2)
    if opts["heap_on_signal"]:
        _heap_on_signal(opts["heap_on_signal"])
    try:
        try:
            exec(code, globals_)
        finally:
            if opts["heap_at_exit"]:  # the program's heap, before any teardown
                _dump_heap(opts["heap_at_exit"])
    except SystemExit:
        raise
    except BaseException as e:
        # What the interpreter does with an uncaught exception, minus this
        # frame in the traceback.
        tb = e.__traceback__.tb_next if e.__traceback__ else None
        sys.excepthook(type(e), e.with_traceback(tb), tb)
        if isinstance(e, KeyboardInterrupt):
            _finish(None)
            _die_of_sigint()
        raise SystemExit(1)


if __name__ == "__main__":
    main()
