"""Records a program that runs exactly as ``python3 script.py`` runs it.

``memscope run [options] script.py args`` replaces itself with ``python3
script.py args`` (or ``-m module``/``-c code``), the options in MEMSCOPE_RUN_*
variables and memscope/_boot first on PYTHONPATH. That folder's
sitecustomize calls boot() while the interpreter starts up: it takes the
variables and the folder back out of the environment, starts recording and
returns. The interpreter then runs the program itself, so ``__main__``,
``__file__``, ``sys.argv``, ``sys.path[0]``, the stack, uncaught-exception
tracebacks, the exit code and death by signal are all its own; the capture
is finished at exit.
"""
import atexit
import builtins
import gc
import os
import signal
import sys
import threading

from memscope import _memscope
from memscope.heap import dump_heap


def _name_threads():
    """Record each thread's name as it starts (runs in the new thread)."""
    bootstrap = threading.Thread._bootstrap_inner

    def _bootstrap_inner(self):
        _memscope.thread_started(self.name)
        bootstrap(self)

    threading.Thread._bootstrap_inner = _bootstrap_inner


def _finish(output):
    """Stops recording and says where the capture is. A capture cut short
    (disk full, descriptor closed by the program) is still readable up to
    where it stops; the recorder warned when that happened, so here it is
    only marked incomplete."""
    path = _memscope.recording()
    if path is None:
        return
    if _memscope.gc_callback in gc.callbacks:
        gc.callbacks.remove(_memscope.gc_callback)
    state = ""
    try:
        _memscope.stop()
    except OSError as e:
        state = f" (incomplete: {str(e).rpartition(' is incomplete: ')[2]})"
    if os.getpid() == _finish.pid:
        _print_profiled(path)
        print(f"memscope: capture written to '{path}'{state}\n"
              f"  memscope stats {path}\n"
              f"  memscope table {path} --at peak\n"
              f"  memscope lines {path}", file=sys.stderr)


# Functions decorated with a bare @profile, the name memory_profiler's
# `python -m memory_profiler script.py` puts in builtins: (file, first, last).
_profiled = []


def _profile(func):
    """The builtin `profile` of a memory_profiler script: the function runs
    as it is (generators too), and its exact line table, every call summed,
    prints when the program ends, as memory_profiler prints its own."""
    code = getattr(func, "__code__", None)
    if code is not None:
        lines = [line for _, _, line in code.co_lines() if line is not None]
        _profiled.append((code.co_filename, code.co_firstlineno,
                          max(lines, default=code.co_firstlineno)))
    return func


def _print_profiled(path):
    if not _profiled:
        return
    try:
        capture = _memscope.Capture(path)
        capture.advance()
        for file, first, last in _profiled:
            print(capture.lines(file, first, last), flush=True)
    except (OSError, ValueError) as e:
        print(f"memscope: warning: no @profile tables: {e}", file=sys.stderr)


def _start(opts, path):
    gc.callbacks.append(_memscope.gc_callback)
    _memscope.start(path, opts["argv"], max_depth=opts["depth"], force=opts["force"],
                    sample=opts["sample"], native=opts["native"],
                    native_frames=opts["native_frames"])
    _memscope.thread_started(threading.current_thread().name)


def _forked_to_exec():
    """Whether this fork is one that replaces the child with another program
    straight away: subprocess's (which runs only preexec_fn before the exec)
    or os.spawn*'s."""
    caller = sys._getframe(2).f_code
    subprocess = sys.modules.get("subprocess")
    if subprocess is not None and caller is subprocess.Popen._execute_child.__code__:
        return True
    spawn = getattr(os, "_spawnvef", None)
    return spawn is not None and caller is spawn.__code__


def _discard_before_exec(real_exec):
    """os.execv or os.execve for a recorded child: a child that replaces
    itself with another program leaves no capture (it would hold little
    more than its header), then execs as asked. os.execl*, execvp* and
    execvpe all go through these two."""
    def exec_without_capture(*args, **kwargs):
        path = _memscope.recording()
        if path is not None and os.getpid() == _finish.pid:
            if _memscope.gc_callback in gc.callbacks:
                gc.callbacks.remove(_memscope.gc_callback)
            try:
                _memscope.stop()
            except OSError:
                pass
            try:
                os.unlink(path)
            except OSError:
                pass
        return real_exec(*args, **kwargs)
    return exec_without_capture


def _follow_fork(opts):
    """Each forked child records to OUTPUT.PID. Children often end with
    os._exit(), which skips atexit: the child's os._exit finishes the capture
    first, then exits as asked. Children that exec another program record
    nothing (see _discard_before_exec)."""
    real_exit = os._exit

    def exit_after_finishing(status):
        _finish(None)
        real_exit(status)

    def child():
        if _forked_to_exec():
            return
        _finish.pid = os.getpid()
        try:
            _start(opts, f"{opts['output']}.{os.getpid()}")
        except OSError as e:
            print(f"memscope: warning: not recording child {os.getpid()}: {e}", file=sys.stderr)
            return
        os._exit = exit_after_finishing
        os.execv = _discard_before_exec(os.execv)
        os.execve = _discard_before_exec(os.execve)

    os.register_at_fork(after_in_child=child)


def _dump_heap(path, force):
    """A heap snapshot for `memscope heap`; a failure warns, never stops
    the program."""
    try:
        dump_heap(path, force=force)
    except (OSError, MemoryError) as e:
        print(f"memscope: warning: no heap snapshot: {e}", file=sys.stderr)
        return
    print(f"memscope: heap snapshot written to '{path}'\n  memscope heap {path}",
          file=sys.stderr)


def _heap_on_signal(path, force, signum):
    """Each signal writes PATH.1, PATH.2, ...: the handler runs in the main
    thread between bytecodes, where the heap is consistent."""
    count = [0]

    def dump(signum, frame):
        count[0] += 1
        _dump_heap(f"{path}.{count[0]}", force)

    signal.signal(signum, dump)


def _toggle_on(opts, signum):
    """Recording off at start; each signal starts OUTPUT.1, OUTPUT.2, ... or
    finishes the one running. The handler runs in the main thread between
    bytecodes; a recording that cannot start warns and leaves the program
    running."""
    count = [0]

    def toggle(signum, frame):
        if _memscope.recording() is not None:
            _finish(None)
            return
        count[0] += 1
        path = f"{opts['output']}.{count[0]}"
        try:
            _start(opts, path)
        except (OSError, RuntimeError) as e:
            print(f"memscope: warning: not recording: {e}", file=sys.stderr)
            return
        print(f"memscope: recording to '{path}'", file=sys.stderr)

    signal.signal(signum, toggle)


def _options():
    """The options `memscope run` passed, taken out of the environment so
    that the program and its children never see them."""
    def take(name, default=None):
        return os.environ.pop("MEMSCOPE_RUN_" + name, default)

    flags = take("FLAGS", "").split(",")
    opts = {"output": take("OUTPUT"), "depth": int(take("DEPTH", "128")),
            "sample": int(take("SAMPLE", "0")), "force": "force" in flags,
            "follow_fork": "follow-fork" in flags, "native": "native" in flags,
            "native_frames": "native-frames" in flags,
            "heap_at_exit": take("HEAP_AT_EXIT"),
            "heap_on_signal": take("HEAP_ON_SIGNAL"),
            "heap_signal": int(take("HEAP_SIGNAL", str(int(signal.SIGUSR2)))),
            "toggle_signal": int(take("TOGGLE_SIGNAL", "0"))}
    # Resolved once, before the program runs: a program that changes
    # directory still finds its children's captures and its heap snapshots
    # next to the capture it was started with.
    for key in ("output", "heap_at_exit", "heap_on_signal"):
        if opts[key] is not None:
            opts[key] = os.path.abspath(opts[key])
    return opts


def _restore_environment():
    """Puts PYTHONPATH back as the user had it."""
    original = os.environ.pop("MEMSCOPE_PYTHONPATH", None)
    if original is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = original


def _module_origin(name):
    """The file `python3 -m name` will run, found without importing
    anything (a package's __init__ runs only when the program starts); None
    when only an import would tell."""
    from importlib.machinery import PathFinder

    path = [os.getcwd(), *sys.path]
    spec = None
    for i, part in enumerate(name.split(".")):
        if spec is not None:
            path = spec.submodule_search_locations
        if path is None:
            return None
        spec = PathFinder.find_spec(".".join(name.split(".")[:i + 1]), path)
        if spec is None:
            return None
    if spec.submodule_search_locations is not None:
        return _module_origin(name + ".__main__")
    return spec.origin if spec.has_location else None


def _recorded_argv():
    """The command line kept in the capture: sys.argv, with the script as the
    absolute path the interpreter runs (so `memscope lines` finds it from any
    directory), and for -m the module's file when it can be told."""
    prog = sys.orig_argv[1:]
    if prog[0] == "-c":
        return list(sys.argv)
    if prog[0] == "-m":
        origin = _module_origin(prog[1])
        return [origin, *sys.argv[1:]] if origin else ["-m", prog[1], *sys.argv[1:]]
    return [os.path.join(os.getcwd(), sys.argv[0]), *sys.argv[1:]]


def _dump_heap_at_exit(path, force):
    """The heap when the main module has finished, before any teardown: at
    the start of the interpreter's shutdown, before it joins threads."""
    threading._register_atexit(_dump_heap, path, force)


def boot():
    """Called by memscope/_boot/sitecustomize.py while the interpreter
    starts. A program must never run unrecorded without a word: any failure
    here ends the process before the program starts."""
    try:
        opts = _options()
        _restore_environment()
        opts["argv"] = _recorded_argv()
        _finish.pid = os.getpid()
        atexit.register(_finish, opts["output"])
        if not hasattr(builtins, "profile"):
            builtins.profile = _profile
        _name_threads()
        if opts["follow_fork"]:
            _follow_fork(opts)
        if opts["toggle_signal"]:
            _toggle_on(opts, opts["toggle_signal"])
        else:
            _start(opts, opts["output"])
        if opts["heap_on_signal"]:
            _heap_on_signal(opts["heap_on_signal"], opts["force"], opts["heap_signal"])
        if opts["heap_at_exit"]:
            _dump_heap_at_exit(opts["heap_at_exit"], opts["force"])
    except OSError as e:
        _refuse(f"cannot write capture: {e}")
    except Exception as e:
        _refuse(f"cannot start recording: {e!r}")


def _refuse(message):
    print(f"memscope: {message}", file=sys.stderr, flush=True)
    os._exit(2)
