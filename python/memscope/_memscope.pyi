"""Types of the C extension (src/python): the recorder, captures replayed
into an analysis, and the heap walker's reports. The package's public API
(memscope.Tracker, memscope.heap, ...) wraps these; a function's docstring
in the extension shows the same signature.

Functions taking positional arguments only are written with ``/``.
"""

import os
from typing import Any, Callable, TypedDict

_Path = str | bytes | os.PathLike[str] | os.PathLike[bytes]

# The recorder.

def start(path: str, argv: list[str], max_depth: int = 128, force: bool = False, root: int = 0,
          sample: int = 0, native: bool = False, parent_pid: int = 0,
          parent_capture: str | None = None, cpu_rate: int = 0,
          native_frames: bool = False) -> None: ...
def stop() -> str: ...
def flush() -> None: ...
def recording() -> str | None: ...
def traced_memory() -> tuple[int, int]: ...
def traced_domains() -> dict[str, int]: ...
def mark(label: str, /) -> None: ...
def gc_callback(phase: str, info: dict[str, Any], /) -> None: ...
def thread_started(name: str, /) -> None: ...
def child_started(pid: int, argv: list[str], capture: str, /) -> None: ...
def _attached() -> None: ...
def _fail_allocations(n: int, /) -> None: ...

# Child processes: a process-starting function called between hooks.

def wrap(original: Callable[..., Any], before: Callable[[tuple[Any, ...], dict[str, Any]],
                                                         tuple[tuple[Any, ...], dict[str, Any]]]
         | None = None,
         after: Callable[[tuple[Any, ...], dict[str, Any], Any], None] | None = None,
         failed: Callable[[tuple[Any, ...], dict[str, Any]], None] | None = None
         ) -> Callable[..., Any]: ...

# Captures.

class _Summary(TypedDict):
    peak_bytes: int
    peak_time_s: float
    current_bytes: int
    total_allocated_bytes: int
    allocations: int
    frees: int
    leaked_bytes: int
    leaked_allocations: int
    duration_s: float
    threads: int
    complete: bool

class _Row(TypedDict):
    file: str
    function: str | None
    line: int
    bytes: int
    allocations: int

_Frame = tuple[str, str, int]  # (file, function, line)

class Capture:
    def __init__(self, path: _Path, follow: bool = False) -> None: ...
    def stacks(self, at: str = "exit") -> list[tuple[list[_Frame], int, int]]: ...
    def advance(self) -> bool: ...
    def summary(self) -> _Summary: ...
    def lines(self, source: str, first: int = 0, last: int = 0) -> str: ...
    def table(self, at: str = "peak", by: str = "line", limit: int = 0) -> list[_Row]: ...

# Heap snapshots of this process.

class _Inspect(TypedDict):
    size: int
    retained: int
    deep: int
    path: str
    chain: list[tuple[str, str, object | None]]  # (label, description, object)

class _CycleGroup(TypedDict):
    kinds: str
    cycles: int
    objects: int
    bytes: int
    example_id: int
    example: str
    weaken: str | None
    weaken_refs: int
    weakrefable: bool
    site: str | None
    site_count: int

class _Cycles(TypedDict):
    garbage_objects: int
    garbage_bytes: int
    cycles: int
    groups: list[_CycleGroup]
    table: str

def heap_inspect(obj: object, /) -> _Inspect: ...
def heap_growth(limit: int = 10, /) -> list[tuple[str, int, int]]: ...
def heap_cycles(limit: int = 10, capture: Capture | None = None, /) -> _Cycles: ...
def heap_dot(obj: object, depth: int = 3, backrefs: bool = False, /) -> str: ...
# rows: (type, preview, copies, size, wasted, example_id)
def heap_duplicates(
    limit: int = 10, /
) -> tuple[list[tuple[str, str | bytes, int, int, int, int]], str]: ...
# rows: (kind, empty, empty_bytes, mostly_empty, mostly_empty_bytes, saving, example_id)
def heap_empty(limit: int = 10, /) -> tuple[list[tuple[str, int, int, int, int, int, int]], str]: ...
def create_file(path: _Path, force: bool = False, /) -> int: ...
def dump_heap(path: _Path, capture: Capture | None = None, force: bool = False, /) -> int: ...
# (count, bytes, rows of (name, count, bytes), table)
def heap_partition(
    by: str = "kind", limit: int = 10, /
) -> tuple[int, int, list[tuple[str, int, int]], str]: ...

# Advice from the heap of this process, and from the capture being recorded.

# rows: (rule, title, bytes_saved, measure, where, evidence, change)
def advise(
    limit: int = 10, capture: Capture | None = None, path: str | None = None, /
) -> tuple[list[tuple[str, str, int, str, str | None, str, str]], str]: ...
