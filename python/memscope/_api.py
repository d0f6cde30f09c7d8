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
from typing import Callable, Dict, Optional, Tuple

from memscope import _memscope

__all__ = ["Tracker", "get_traced_memory", "get_traced_memory_by_domain", "mark", "profile"]


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
    ``cpu=True`` also samples every Python thread's stack ``cpu_rate``
    times a second (default 100) for CPU and wall time, in the same capture::

        with memscope.Tracker("etl.msc", cpu=True):
            etl()

    then ``memscope table etl.msc --metric cpu``.

    ``native_frames=True`` records each allocation's C stack as well (the C
    functions between the Python line and the allocator), which reports show
    under the Python frames: with ``native=True``, numpy's and sqlite's own
    functions appear under the line that called them.
    """

    def __init__(self, path: "str | os.PathLike[str]", native: bool = False,
                 sample: Optional[int] = None, *, max_depth: int = 128,
                 force: bool = False, cpu: bool = False, cpu_rate: int = 100,
                 native_frames: bool = False) -> None:
        if sample is not None and sample < 1:
            raise ValueError("sample must be a positive number of bytes")
        if cpu and not 1 <= cpu_rate <= 10000:
            raise ValueError("cpu_rate must be between 1 and 10000 samples a second")
        self.cpu_rate = cpu_rate if cpu else 0
        self.path = os.fspath(path)
        if "\0" in self.path:
            raise ValueError(f"embedded null byte in the capture path {self.path!r}")
        self.sample = sample or 0
        self.native = bool(native)
        self.native_frames = bool(native_frames)
        self.max_depth = max_depth
        self.force = force

    def start(self) -> "Tracker":
        # Absolute from here on: the program may change directory while
        # recording, and the capture is read back by name while it grows.
        _memscope.start(os.path.abspath(self.path), list(sys.argv), max_depth=self.max_depth,
                        force=self.force, sample=self.sample, native=self.native,
                        cpu_rate=self.cpu_rate, native_frames=self.native_frames)
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
    ``tracemalloc.get_traced_memory()``; (0, 0) when not recording::

        with memscope.Tracker("load.msc"):
            rows = load(path)
            current, peak = memscope.get_traced_memory()

    It counts what tracemalloc counts: the blocks of the Python allocators
    (PyMem_RawMalloc, PyMem_Malloc, PyObject_Malloc) and the memory
    extensions report through PyTraceMalloc_Track (numpy's arrays), each by
    its requested size, from any thread; blocks allocated before recording
    started count nothing when freed. Not counted: what only ``native=True``
    records (the malloc family and mmap of other libraries). With
    ``sample=R`` they are estimates from the sampled blocks, the ones
    ``memscope stats`` shows.

    The recorder keeps both figures, so a call costs the same at any heap
    size and allocates nothing but its result. In an exact capture it starts
    keeping them at the first call, which reads the capture recorded so far
    once (docs/traced-memory.md).
    """
    return _memscope.traced_memory()


def get_traced_memory_by_domain() -> Dict[str, int]:
    """The current bytes of get_traced_memory() by the allocator that holds
    them: ``raw`` (PyMem_RawMalloc), ``mem`` (PyMem_Malloc), ``obj``
    (PyObject_Malloc) and ``foreign`` (PyTraceMalloc_Track: numpy's arrays);
    all 0 when not recording::

        >>> memscope.get_traced_memory_by_domain()
        {'raw': 2048, 'mem': 1048688, 'obj': 52430, 'foreign': 8000000}
    """
    return _memscope.traced_domains()


def _span(code) -> Tuple[int, int]:
    lines = [line for _, _, line in code.co_lines() if line is not None]
    return code.co_firstlineno, max(lines, default=code.co_firstlineno)


def profile(func: Optional[Callable] = None, *, stream=None, cpu: bool = False):
    """Prints the exact line-by-line memory of a function each time it returns.

    The table has memory_profiler's shape, from recorded allocations rather
    than RSS polling::

        @memscope.profile
        def load_data():
            data = [i for i in range(1_000_000)]
            return [x * 2 for x in data]

    ``cpu=True`` adds a Time column: the CPU time each line (and what it
    called) ran, sampled 100 times a second::

        @memscope.profile(cpu=True)
        def load_data(): ...

    ``stream`` (default sys.stdout) receives the report. While another
    capture is recording, the function runs unprofiled and one line says
    where its lines are instead.
    """
    if func is None:
        return functools.partial(profile, stream=stream, cpu=cpu)
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
            _memscope.start(path, [code.co_filename], root=1, cpu_rate=100 if cpu else 0)
            try:
                return func(*args, **kwargs)
            finally:
                _memscope.stop()
                capture = _memscope.Capture(path)
                capture.advance()
                print(capture.lines(code.co_filename, first, last),
                      file=stream if stream is not None else sys.stdout)

    return wrapper
