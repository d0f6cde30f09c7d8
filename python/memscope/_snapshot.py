"""Snapshots of the recorded live heap, in tracemalloc's shape but with full
stacks: ``take_snapshot()``, ``Snapshot.statistics(key)``,
``Snapshot.compare_to(old, key)`` and ``Filter``, so code written for
tracemalloc (``display_top``, growth between two points) works unchanged.

A snapshot is read from the capture being recorded, by the same C analyser
the ``memscope`` command uses.
"""
import fnmatch
import linecache
from typing import Iterable, List, NamedTuple, Optional, Sequence, Tuple

from memscope import _follow

__all__ = ["Frame", "Traceback", "Statistic", "StatisticDiff", "Snapshot", "Filter",
           "take_snapshot"]


class Frame(NamedTuple):
    """One frame of a stack: file, line and the function's qualified name."""
    filename: str
    lineno: int
    function: str = ""

    def __str__(self) -> str:
        return f"{self.filename}:{self.lineno}"


class Traceback(tuple):
    """Frames of a stack, innermost first (``traceback[0]`` allocated)."""

    def format(self, limit: Optional[int] = None) -> List[str]:
        lines = []
        for frame in self[:limit]:
            lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.function}')
            source = linecache.getline(frame.filename, frame.lineno).strip()
            if source:
                lines.append(f"    {source}")
        return lines

    def __str__(self) -> str:
        return str(self[0]) if self else "<no Python frame>"


def _kib(size: int) -> str:
    return f"{size / 1024:.1f} KiB" if abs(size) >= 1024 else f"{size} B"


class Statistic(NamedTuple):
    """Memory of one key: ``size`` bytes in ``count`` blocks."""
    traceback: Traceback
    size: int
    count: int

    def __str__(self) -> str:
        average = self.size // self.count if self.count else 0
        return f"{self.traceback}: size={_kib(self.size)}, count={self.count}, average={_kib(average)}"


class StatisticDiff(NamedTuple):
    """Memory of one key in a snapshot and its change since an older one."""
    traceback: Traceback
    size: int
    size_diff: int
    count: int
    count_diff: int

    def __str__(self) -> str:
        average = self.size // self.count if self.count else 0
        sign = "+" if self.size_diff >= 0 else "-"
        return (f"{self.traceback}: size={_kib(self.size)} ({sign}{_kib(abs(self.size_diff))}), "
                f"count={self.count} ({self.count_diff:+d}), average={_kib(average)}")


class Filter(NamedTuple):
    """Keeps (inclusive=True) or drops stacks whose frames match a file
    pattern (fnmatch) and, optionally, a line. Like tracemalloc.Filter, it
    looks at the innermost frame unless all_frames is true."""
    inclusive: bool
    filename_pattern: str
    lineno: Optional[int] = None
    all_frames: bool = False

    def _matches_frame(self, frame: Frame) -> bool:
        return (fnmatch.fnmatch(frame.filename, self.filename_pattern)
                and (self.lineno is None or frame.lineno == self.lineno))

    def _keeps(self, traceback: Traceback) -> bool:
        frames = traceback if self.all_frames else traceback[:1]
        hit = any(self._matches_frame(f) for f in frames)
        return hit if self.inclusive else not hit


_Trace = Tuple[Traceback, int, int]
_KEYS = ("lineno", "filename", "function", "traceback")


def _key_frames(traceback: Traceback, key_type: str, cumulative: bool) -> Iterable[Traceback]:
    frames = traceback if cumulative else traceback[:1]
    if key_type == "traceback":
        yield traceback
        return
    seen = set()
    for f in frames:
        if key_type == "filename":
            k = Traceback((Frame(f.filename, 0),))
        elif key_type == "function":
            k = Traceback((Frame(f.filename, 0, f.function),))
        else:
            k = Traceback((Frame(f.filename, f.lineno, f.function),))
        if k not in seen:
            seen.add(k)
            yield k


class Snapshot:
    """The blocks live when it was taken, each with its full stack."""

    def __init__(self, traces: Sequence[_Trace]) -> None:
        self.traces = list(traces)

    def filter_traces(self, filters: Iterable[Filter]) -> "Snapshot":
        filters = list(filters)
        include = [f for f in filters if f.inclusive]
        exclude = [f for f in filters if not f.inclusive]
        kept = [t for t in self.traces
                if (not include or any(f._keeps(t[0]) for f in include))
                and all(f._keeps(t[0]) for f in exclude)]
        return Snapshot(kept)

    def _group(self, key_type: str, cumulative: bool) -> dict:
        if key_type not in _KEYS:
            raise ValueError(f"unknown key_type {key_type!r}: use one of {', '.join(_KEYS)}")
        if cumulative and key_type == "traceback":
            raise ValueError("cumulative mode cannot be used with key_type 'traceback'")
        groups = {}
        for traceback, size, count in self.traces:
            for key in _key_frames(traceback, key_type, cumulative):
                s, c = groups.get(key, (0, 0))
                groups[key] = (s + size, c + count)
        return groups

    def statistics(self, key_type: str, cumulative: bool = False) -> List[Statistic]:
        """Memory grouped by 'lineno', 'filename', 'function' or 'traceback',
        biggest first.

        >>> for stat in memscope.take_snapshot().statistics("lineno")[:3]:
        ...     print(stat)
        """
        stats = [Statistic(k, s, c) for k, (s, c) in self._group(key_type, cumulative).items()]
        return sorted(stats, key=lambda st: (st.size, st.count, st.traceback), reverse=True)

    def compare_to(self, old: "Snapshot", key_type: str,
                   cumulative: bool = False) -> List[StatisticDiff]:
        """What changed since old, biggest change first."""
        new, before = self._group(key_type, cumulative), old._group(key_type, cumulative)
        diffs = []
        for key in new.keys() | before.keys():
            s, c = new.get(key, (0, 0))
            s0, c0 = before.get(key, (0, 0))
            diffs.append(StatisticDiff(key, s, s - s0, c, c - c0))
        return sorted(diffs, key=lambda d: (abs(d.size_diff), d.size, abs(d.count_diff),
                                            d.count, d.traceback), reverse=True)


def take_snapshot() -> Snapshot:
    """The blocks live now (while recording), with their full stacks.

    >>> with memscope.Tracker("run.msc"):
    ...     before = memscope.take_snapshot()
    ...     grow()
    ...     top = memscope.take_snapshot().compare_to(before, "lineno")[:10]
    """
    capture = _follow.advanced()
    if capture is None:
        raise RuntimeError("memscope must be recording to take a snapshot (start a Tracker)")
    traces = []
    for frames, size, count in capture.stacks("exit"):
        traceback = Traceback(Frame(file, line, function) for file, function, line in frames)
        traces.append((traceback, size, count))
    return Snapshot(traces)
