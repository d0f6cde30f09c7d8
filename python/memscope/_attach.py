"""What `memscope attach` runs inside a process it attached to.

The command stops the target's main thread for a moment with ptrace and has
it queue a pending call (CPython's Py_AddPendingCall; src/cli/inject.c):
the interpreter runs it in the main thread between two bytecodes, with the
GIL held, where running Python code is safe. The call runs a small bootstrap
that imports this module from memscope's own package folder and calls one of
the functions below, which report success or the error, in one line, to a
status file the command waits for. Nothing here
may raise into the target: its program goes on as if nothing happened.
"""
import atexit
import os
import sys
import threading

from memscope import _memscope


def _status(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")


def _stop(path: str) -> None:
    """Stops the recording into path, if it is still the one in progress
    (`attach --stop` may have ended it, and another begun)."""
    if _memscope.recording() is path:
        _memscope.stop()


def start(output: str, duration: float, status: str) -> None:
    """Starts recording into output; stops after duration seconds (0: at
    exit, or on `memscope attach PID --stop`, which the recorder answers
    itself, in C: see msc_attach_stop)."""
    try:
        if _memscope.recording() is not None:
            raise RuntimeError(f"already recording into '{_memscope.recording()}'")
        _memscope.start(output, list(sys.argv))
        _memscope._attached()
        _memscope.thread_started(threading.current_thread().name)
        atexit.register(_stop, output)
        if duration > 0:
            timer = threading.Timer(duration, _stop, (output,))
            timer.daemon = True
            timer.name = "memscope-attach-timer"
            timer.start()
    except Exception as e:  # reported by the command, never raised in the target
        _status(status, f"error: {e}")
        return
    _status(status, "ok")


def heap(output: str, status: str) -> None:
    """Writes a heap snapshot of the process to output."""
    try:
        from memscope.heap import dump_heap
        dump_heap(output)
    except Exception as e:
        _status(status, f"error: {e}")
        return
    _status(status, "ok")
