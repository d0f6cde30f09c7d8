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
import shlex
import signal
import sys
import threading

from memscope import _children, _memscope
from memscope.heap import dump_heap


def _name_threads():
    """Record each thread's name as it starts (runs in the new thread)."""
    bootstrap = threading.Thread._bootstrap_inner

    def _bootstrap_inner(self):
        _memscope.thread_started(self.name)
        bootstrap(self)

    threading.Thread._bootstrap_inner = _bootstrap_inner


def _shown(text):
    """Text from the program or the system (a path, an error) as a message
    shows it: a character that is not printable (a terminal escape, a
    newline, a byte of a file name that is not UTF-8) escaped, as repr()
    escapes it."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _arg(text):
    """A path in a command the message suggests, quoted for a shell."""
    return shlex.quote(_shown(text))


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
    if os.getpid() == _finish.pid and _finish.speaks:
        _print_profiled(path)
        print(f"memscope: capture written to '{_shown(path)}'{_shown(state)}\n"
              f"  memscope stats {_arg(path)}\n"
              f"  memscope table {_arg(path)} --at peak\n"
              f"  memscope lines {_arg(path)}", file=sys.stderr)


_finish.pid = None      # the process whose recording _finish finishes
_finish.speaks = False  # whether it says where the capture went (the root does)


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
        print(f"memscope: warning: no @profile tables: {_shown(e)}", file=sys.stderr)


def _start(opts, path, parent=None):
    """Starts recording to path; parent is (pid, capture) in a child's."""
    pid, capture = parent or (0, None)
    _memscope.start(path, opts["argv"], max_depth=opts["depth"], force=opts["force"],
                    sample=opts["sample"], native=opts["native"], parent_pid=pid,
                    parent_capture=capture or None, cpu_rate=opts["cpu_rate"],
                    native_frames=opts["native_frames"])
    gc.callbacks.append(_memscope.gc_callback)
    _memscope.thread_started(threading.current_thread().name)


def _finish_before_exec(opts):
    """Stops recording before this process execs another program. A
    child's capture is removed: it would hold little more than its header,
    and a Python program exec'd records itself to the same name. The
    program memscope run started keeps its capture, finished. Returns
    whether the capture was removed."""
    path = _memscope.recording()
    if path is None or os.getpid() != _finish.pid:
        return False
    if opts["parent"] is None:
        _finish(None)
        return False
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
    return True


def _start_child(opts, path, parent):
    """A child's recording: a failure warns and leaves the child running."""
    try:
        _start(opts, path, parent)
    except (OSError, RuntimeError, ValueError) as e:
        print(f"memscope: warning: not recording child {os.getpid()}: {_shown(e)}", file=sys.stderr)
        return False
    opts["output"], opts["parent"] = path, parent
    _finish.pid = os.getpid()
    _finish.speaks = False
    return True


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


def _follow_fork(opts, family):
    """Each forked child records to ROOT.PID (see memscope/_children.py).
    Children often end with os._exit(), which skips atexit: the child's
    os._exit finishes the capture first, then exits as asked. A child that
    execs at once (subprocess's, os.spawn*'s) starts no capture: the program
    it execs records itself if it is Python."""
    real_exit = os._exit
    parent_capture = [None]

    def exit_after_finishing(status):
        _finish(None)
        real_exit(status)

    def before():
        parent_capture[0] = _memscope.recording()

    def child():
        if _forked_to_exec():
            return
        if _start_child(opts, family.capture_of(os.getpid()),
                        (os.getppid(), parent_capture[0] or "")):
            os._exit = exit_after_finishing

    os.register_at_fork(before=before, after_in_child=child)


def _dump_heap(path, force):
    """A heap snapshot for `memscope heap`; a failure warns, never stops
    the program."""
    try:
        dump_heap(path, force=force)
    except (OSError, MemoryError) as e:
        print(f"memscope: warning: no heap snapshot: {_shown(e)}", file=sys.stderr)
        return
    print(f"memscope: heap snapshot written to '{_shown(path)}'\n  memscope heap {_arg(path)}",
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
            print(f"memscope: warning: not recording: {_shown(e)}", file=sys.stderr)
            return
        print(f"memscope: recording to '{_shown(path)}'", file=sys.stderr)

    signal.signal(signum, toggle)


def _options():
    """The options `memscope run` passed, taken out of the environment so
    that the program and its children never see them."""
    def take(name, default=None):
        return os.environ.pop("MEMSCOPE_RUN_" + name, default)

    flags = take("FLAGS", "").split(",")
    parent = take("PARENT")
    opts = {"output": take("OUTPUT"), "depth": int(take("DEPTH", "128")),
            "sample": int(take("SAMPLE", "0")), "cpu_rate": int(take("CPU_RATE", "0")),
            "force": "force" in flags,
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
    # A Python program a recorded process exec'd: it records to ROOT.PID,
    # and its header names the parent (pid:capture) that started it.
    opts["root"], opts["parent"] = opts["output"], None
    if parent is not None:
        pid, _, capture = parent.partition(":")
        opts["parent"] = (int(pid), capture)
        opts["output"] = f"{opts['root']}.{os.getpid()}"
    return opts


def _forget_options():
    """The environment as a child was given it, whatever step failed."""
    for name in [n for n in os.environ if n.startswith("MEMSCOPE_RUN_")]:
        del os.environ[name]
    if os.environ.get("PYTHONPATH", "").split(":")[0] == _children.BOOT_DIR:
        _restore_environment()


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
    # sys.argv[0] says which, whatever interpreter options came first
    # (multiprocessing starts its children with -B -c ..., for one).
    if sys.argv[0] == "-c":
        return list(sys.argv)
    if sys.argv[0] == "-m":
        module = sys.orig_argv[len(sys.orig_argv) - len(sys.argv)]  # -m MODULE args...
        origin = _module_origin(module)
        return [origin, *sys.argv[1:]] if origin else ["-m", module, *sys.argv[1:]]
    return [os.path.join(os.getcwd(), sys.argv[0]), *sys.argv[1:]]


def _dump_heap_at_exit(path, force):
    """The heap when the main module has finished, before any teardown: at
    the start of the interpreter's shutdown, before it joins threads."""
    threading._register_atexit(_dump_heap, path, force)


def boot():
    """Called by memscope/_boot/sitecustomize.py while the interpreter
    starts. A program must never run unrecorded without a word: any failure
    here ends the process before the program starts. A child of a recorded
    program is the exception: it warns and runs, as it would have."""
    child = "MEMSCOPE_RUN_PARENT" in os.environ
    try:
        opts = _options()
        _restore_environment()
        opts["argv"] = _recorded_argv()
        if opts["parent"] is not None:
            _boot_child(opts)
            return
        _finish.pid = os.getpid()
        _finish.speaks = True
        atexit.register(_finish, opts["output"])
        if not hasattr(builtins, "profile"):
            builtins.profile = _profile
        _name_threads()
        _fork_as_without_memscope()
        if opts["follow_fork"]:
            _follow_children(opts)
        if opts["toggle_signal"]:
            _toggle_on(opts, opts["toggle_signal"])
        else:
            _start(opts, opts["output"])
        if opts["heap_on_signal"]:
            _heap_on_signal(opts["heap_on_signal"], opts["force"], opts["heap_signal"])
        if opts["heap_at_exit"]:
            _dump_heap_at_exit(opts["heap_at_exit"], opts["force"])
    except Exception as e:
        if child:
            _forget_options()
            print(f"memscope: warning: not recording child {os.getpid()}: {_shown(repr(e))}",
                  file=sys.stderr)
        elif isinstance(e, OSError):
            _refuse(f"cannot write capture: {_shown(e)}")
        else:
            _refuse(f"cannot start recording: {_shown(repr(e))}")


def _os_threads():
    """The threads of this process, as CPython counts them before a fork."""
    with open("/proc/self/stat", "rb") as f:
        return int(f.read().rpartition(b")")[2].split()[17])


def _fork_as_without_memscope():
    """From 3.12, os.fork warns when the process has more than one thread
    ("This process is multi-threaded, use of fork() may lead to
    deadlocks"), counting the threads the kernel lists. The recorder's
    writer thread is one of them, but it holds no lock a child could need
    (the recorder's fork handlers see to that): the warning is silenced
    when that thread is the only other one, so a program forks exactly as
    it does without memscope, and warns when it would."""
    if sys.version_info < (3, 12):
        return
    import warnings

    guard = []

    def before(args, kwargs):
        try:
            own = 1 if _memscope.recording() is not None else 0
            if own and _os_threads() - own <= 1:
                quiet = warnings.catch_warnings()
                quiet.__enter__()
                warnings.filterwarnings("ignore", r"This process \(pid=\d+\) is multi-threaded",
                                        DeprecationWarning)
                guard.append(quiet)
        except (OSError, ValueError, IndexError):
            pass
        return args, kwargs

    def after(*unused):
        while guard:
            guard.pop().__exit__(None, None, None)

    for name in ("fork", "forkpty"):
        if hasattr(os, name):
            setattr(os, name, _memscope.wrap(getattr(os, name), before=before, after=after,
                                             failed=after))


def _follow_children(opts):
    family = _children.Family(opts, lambda path, parent: _start_child(opts, path, parent),
                              lambda: _finish_before_exec(opts))
    _children.install(family)
    _follow_fork(opts, family)


def _boot_child(opts):
    """A Python program a recorded process started by exec: it records
    quietly (its output is its own, and its parent may be reading it), and a
    failure warns and lets it run."""
    _finish.speaks = False
    atexit.register(_finish, opts["output"])
    _name_threads()
    _fork_as_without_memscope()
    _follow_children(opts)
    _start_child(opts, opts["output"], opts["parent"])


def _refuse(message):
    print(f"memscope: {_shown(message)}", file=sys.stderr, flush=True)
    os._exit(2)
