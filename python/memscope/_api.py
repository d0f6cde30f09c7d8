"""The in-process API: record a block of code, mark moments, ask for the
traced memory, and profile one function line by line.

All of it stands on the recorder in ``_memscope`` and reads captures back
with the same C analyser the ``memscope`` command uses.
"""
import functools
import os
import sys
import tempfile
import threading
from typing import Callable, Optional, Tuple

from memscope import _follow, _memscope

__all__ = ["Tracker", "get_traced_memory", "mark", "profile"]


class Tracker:
    """Records every allocation made while it is active into a capture file.

    Use it as a context manager or call start() and stop()::

        with memscope.Tracker("load.msc"):
            rows = load(path)

    then ``memscope stats load.msc``. Only one Tracker records at a time.
    ``max_depth`` caps the frames kept per stack; ``force`` replaces an
    existing file (never replaced otherwise). ``sample=R`` records one
    allocation per R bytes on average instead of every one (R = 512 * 1024
    costs little more than not recording); the reports then show unbiased
    estimates. ``native=True`` also records what every library allocates
    through the malloc family and mmap (numpy, sqlite3, ctypes, OpenSSL),
    each with the Python stack that caused it; memory an extension reports
    through ``PyTraceMalloc_Track`` (numpy's arrays) is recorded either way.
    ``native_frames=True`` records each allocation's C stack as well (the C
    functions between the Python line and the allocator), which reports show
    under the Python frames: with ``native=True``, numpy's and sqlite's own
    functions appear under the line that called them.
    """

    def __init__(self, path: "str | os.PathLike[str]", native: bool = False,
                 sample: Optional[int] = None, *, max_depth: int = 128,
                 force: bool = False, native_frames: bool = False) -> None:
        if sample is not None and sample < 1:
            raise ValueError("sample must be a positive number of bytes")
        self.path = os.fspath(path)
        if "\0" in self.path:
            raise ValueError(f"embedded null byte in the capture path {self.path!r}")
        self.sample = sample or 0
        self.native = bool(native)
        self.native_frames = bool(native_frames)
        self.max_depth = max_depth
        self.force = force
        self._reader = None

    def start(self) -> "Tracker":
        # Absolute from here on: the program may change directory while
        # recording, and the capture is read back by name while it grows.
        _memscope.start(os.path.abspath(self.path), list(sys.argv), max_depth=self.max_depth,
                        force=self.force, sample=self.sample, native=self.native,
                        native_frames=self.native_frames)
        _memscope.thread_started(threading.current_thread().name)
        return self

    def stop(self) -> str:
        """Finishes the capture and returns its path."""
        return _memscope.stop()

    def __enter__(self) -> "Tracker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def mark(label: str) -> None:
    """Records a labelled moment, shown on the memory timeline.

    >>> memscope.mark("after load")
    """
    _memscope.mark(str(label))


def get_traced_memory() -> Tuple[int, int]:
    """(current, peak) bytes traced since recording started, like
    ``tracemalloc.get_traced_memory()``; (0, 0) when not recording.

    Each call reads only what was recorded since the previous one.
    """
    capture = _follow.advanced()
    if capture is None:
        return (0, 0)
    s = capture.summary()
    return (s["current_bytes"], s["peak_bytes"])


def _span(code) -> Tuple[int, int]:
    lines = [line for _, _, line in code.co_lines() if line is not None]
    return code.co_firstlineno, max(lines, default=code.co_firstlineno)


def profile(func: Optional[Callable] = None, *, stream=None):
    """Prints the exact line-by-line memory of a function each time it returns.

    The table has memory_profiler's shape, from recorded allocations rather
    than RSS polling::

        @memscope.profile
        def load_data():
            data = [i for i in range(1_000_000)]
            return [x * 2 for x in data]

    ``stream`` (default sys.stdout) receives the report. While another
    capture is recording, the function runs unprofiled and one line says
    where its lines are instead.
    """
    if func is None:
        return functools.partial(profile, stream=stream)
    code = func.__code__
    first, last = _span(code)

    said = []

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        recording = _memscope.recording()
        if recording is not None:
            if not said:  # once per function
                said.append(True)
                print(f"memscope.profile: {func.__qualname__} is not profiled on its own while "
                      f"'{recording}' records; its lines are in that capture "
                      f"(memscope lines {recording})",
                      file=stream if stream is not None else sys.stdout)
            return func(*args, **kwargs)
        with tempfile.TemporaryDirectory(prefix="memscope-") as tmp:
            path = os.path.join(tmp, "profile.msc")
            _memscope.start(path, [code.co_filename], root=1)
            try:
                return func(*args, **kwargs)
            finally:
                _memscope.stop()
                capture = _memscope.Capture(path)
                capture.advance()
                print(capture.lines(code.co_filename, first, last),
                      file=stream if stream is not None else sys.stdout)

    return wrapper
