"""Children of a program recorded with ``memscope run --follow-fork``.

Every child that runs Python records to ROOT.PID, next to the capture of the
program ``memscope run`` started (ROOT, an absolute path decided before the
program runs), whatever directory it works in:

- forked children (os.fork, multiprocessing's fork start method and the
  forkserver's workers) start their capture in the child, at the fork;
- Python programs a recorded process starts by exec (multiprocessing's
  spawn workers and its forkserver, ``subprocess.run([sys.executable, ...])``,
  ``os.execv`` after a fork, os.posix_spawn) find memscope's options in the
  environment they are given, and nowhere else: the program's own
  os.environ never holds them;
- a forked child that execs a program which is not Python leaves no capture.

Each child's header names its parent's pid and capture; each parent records
a CHILD record for every child it starts, so its report lists them. The
functions that start processes are replaced by _memscope.wrap objects, which
call the original with no Python frame of memscope in between: tracebacks
and warnings read as they do without memscope.
"""
import os
import re
import sys

from memscope import _memscope

BOOT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_boot")

# Interpreters memscope records when a recorded process execs them: this one
# (by its real path), or one named python, python3 or python3.N. A Python
# memscope was not built for warns and runs unrecorded (_boot/sitecustomize).
_PYTHON_NAME = re.compile(r"python(3(\.[0-9]+)?)?")


class Family:
    """What a recorded process needs to record its children: the options of
    ``memscope run``, its own capture and its own parent."""

    def __init__(self, opts, start, finish):
        self.opts = opts          # _launch's options: root, depth, sample, flags, parent
        self.start = start        # start(path, parent) starts recording in this process
        self.finish = finish      # finish() stops recording in this process

    def capture_of(self, pid):
        return f"{self.opts['root']}.{pid}"

    def environment(self, parent):
        """The variables an exec'd Python needs to record itself as a child
        of parent (pid, capture)."""
        flags = ",".join(name for name, on in (("force", self.opts["force"]),
                                               ("follow-fork", True),
                                               ("native", self.opts["native"])) if on)
        return {"MEMSCOPE_RUN_OUTPUT": self.opts["root"],
                "MEMSCOPE_RUN_DEPTH": str(self.opts["depth"]),
                "MEMSCOPE_RUN_SAMPLE": str(self.opts["sample"]),
                "MEMSCOPE_RUN_FLAGS": flags,
                "MEMSCOPE_RUN_PARENT": f"{parent[0]}:{parent[1]}"}


def is_python(executable):
    """Whether exec'ing executable starts a Python that memscope records."""
    try:
        path = os.fsdecode(executable)
    except (TypeError, ValueError):
        return False
    if _PYTHON_NAME.fullmatch(os.path.basename(path)):
        return True
    return os.path.realpath(path) == os.path.realpath(sys.executable)


def _with_boot(env, extra):
    """env (a str mapping) with memscope's variables and its boot folder
    first on PYTHONPATH; the child's boot restores PYTHONPATH."""
    env = dict(env)
    for name in list(env):
        if name.startswith("MEMSCOPE_RUN_") or name == "MEMSCOPE_PYTHONPATH":
            del env[name]
    env.update(extra)
    old = env.get("PYTHONPATH")
    if old is not None:
        env["MEMSCOPE_PYTHONPATH"] = old
    env["PYTHONPATH"] = BOOT_DIR + (":" + old if old else "")
    return env


def _with_boot_list(env_list, extra):
    """The same for _posixsubprocess's list of b"NAME=value" (None: the
    process's own environment)."""
    if env_list is None:
        env = dict(os.environ)
    else:
        env = {}
        for item in env_list:
            name, _, value = os.fsdecode(item).partition("=")
            env[name] = value
    return [os.fsencode(f"{k}={v}") for k, v in _with_boot(env, extra).items()]


def _command(argv):
    try:
        return [os.fsdecode(a) for a in argv]
    except (TypeError, ValueError):
        return []


def _record_child(pid, argv, capture):
    try:
        _memscope.child_started(pid, _command(argv), capture)
    except (TypeError, ValueError, OverflowError, MemoryError):
        pass


def _unchanged_on_error(before):
    """A before hook that cannot fail: on any error of its own, the call
    goes ahead as the program made it (its child unrecorded)."""
    def hook(self, args, kwargs):
        try:
            return before(self, args, kwargs)
        except Exception:
            return args, kwargs
    return hook


def _mapping(env):
    """An environment argument as a str mapping; None is this process's."""
    if env is None:
        return dict(os.environ)
    return {os.fsdecode(k): os.fsdecode(v) for k, v in env.items()}


class _Spawners:
    """The hooks around each function that starts a process."""

    def __init__(self, family):
        self.family = family
        self.removed = False          # exec: this child's capture was removed
        self.saved_environ = None     # execv: os.environ as it was before

    def me(self):
        """This process as a parent: (pid, capture or "")."""
        return os.getpid(), _memscope.recording() or ""

    # os.fork: the child starts its own capture (Family.forked); the parent
    # records it.
    def fork_after(self, args, kwargs, pid):
        if pid <= 0:
            return
        caller = sys._getframe(1)
        argv = self.family.opts["argv"]
        spawn = getattr(os, "_spawnvef", None)
        if spawn is not None and caller.f_code is spawn.__code__:
            argv = caller.f_locals.get("args", argv)  # os.spawnv* execs the child at once
        _record_child(pid, argv, self.family.capture_of(pid))

    # _posixsubprocess.fork_exec(args, executable_list, close_fds, fds, cwd, env, ...)
    @_unchanged_on_error
    def fork_exec_before(self, args, kwargs):
        executables = args[1] if len(args) > 5 else ()
        if executables and is_python(executables[0]):
            env = _with_boot_list(args[5], self.family.environment(self.me()))
            args = (*args[:5], env, *args[6:])
        return args, kwargs

    def fork_exec_after(self, args, kwargs, pid):
        env = args[5] if len(args) > 5 else None
        booted = env is not None and any(e.startswith(b"MEMSCOPE_RUN_PARENT=") for e in env)
        _record_child(pid, args[0], self.family.capture_of(pid) if booted else "")

    # os.posix_spawn(path, argv, env, ...), os.posix_spawnp; env None (3.13):
    # this process's
    @_unchanged_on_error
    def posix_spawn_before(self, args, kwargs):
        if len(args) >= 3 and is_python(args[0]):
            env = _with_boot(_mapping(args[2]), self.family.environment(self.me()))
            args = (args[0], args[1], env, *args[3:])
        return args, kwargs

    def posix_spawn_after(self, args, kwargs, pid):
        booted = len(args) >= 3 and args[2] is not None and "MEMSCOPE_RUN_PARENT" in args[2]
        _record_child(pid, args[1] if len(args) > 1 else [],
                      self.family.capture_of(pid) if booted else "")

    # os.execv(path, args), os.execve(path, args, env): this process becomes
    # another program. Its capture is finished first: a child's is removed
    # (it would hold little more than its header; a Python program exec'd
    # records itself to the same name), the root's is kept.
    @_unchanged_on_error
    def exec_before(self, args, kwargs):
        self.removed = self.family.finish()
        path = args[0] if args else None
        if path is None or not is_python(path):
            return args, kwargs
        # The program it becomes is this process's child in name only: its
        # parent is this one's, or, for the program memscope run started,
        # this capture, finished above.
        parent = self.family.opts["parent"] or (os.getpid(), self.family.opts["output"])
        extra = self.family.environment(parent)
        if len(args) >= 3:
            return (args[0], args[1], _with_boot(_mapping(args[2]), extra), *args[3:]), kwargs
        self.saved_environ = dict(os.environ)
        os.environ.clear()
        os.environ.update(_with_boot(self.saved_environ, extra))
        return args, kwargs

    def exec_failed(self, args, kwargs):
        """The exec did not happen: the program goes on, and so does its
        recording, in a new capture."""
        saved = self.saved_environ
        if saved is not None:
            os.environ.clear()
            os.environ.update(saved)
            self.saved_environ = None
        if self.removed:
            self.family.start(self.family.opts["output"], self.family.opts["parent"])


def install(family):
    """Replaces the functions that start processes in this interpreter."""
    import _posixsubprocess

    s = _Spawners(family)
    wrap = _memscope.wrap
    os.fork = wrap(os.fork, after=s.fork_after)
    fork_exec = wrap(_posixsubprocess.fork_exec, before=s.fork_exec_before,
                     after=s.fork_exec_after)
    _posixsubprocess.fork_exec = fork_exec
    subprocess = sys.modules.get("subprocess")
    if subprocess is not None and getattr(subprocess, "_fork_exec", None) is not None:
        subprocess._fork_exec = fork_exec
    for name in ("posix_spawn", "posix_spawnp"):
        if hasattr(os, name):
            setattr(os, name, wrap(getattr(os, name), before=s.posix_spawn_before,
                                   after=s.posix_spawn_after))
    for name in ("execv", "execve"):
        setattr(os, name, wrap(getattr(os, name), before=s.exec_before, failed=s.exec_failed))
