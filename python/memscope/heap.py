"""Heap analysis of the running process: what is in the heap now.

The walk itself is C (``_memscope``): it sees every object reachable from
the interpreter's roots, untracked ``str``/``int``/``bytes`` included, sizes
them as ``sys.getsizeof`` does, and creates no Python objects while it
walks. This module shapes the results::

    >>> import memscope
    >>> memscope.heap()                       # heapy's partition table
    >>> memscope.most_common_types(5)         # objgraph's, untracked objects too
    >>> memscope.growth()                     # what grew since the last call
    >>> memscope.duplicates()                 # equal str/bytes held twice
    >>> memscope.empty_containers()           # empty dicts, lists and sets by kind
    >>> memscope.dump_heap("app.heap")        # for `memscope heap app.heap ...`
"""
from __future__ import annotations

import os
import sys
import time
from typing import IO, NamedTuple, Optional, Union

from memscope import _follow, _memscope

__all__ = ["Chain", "Duplicate", "EmptyContainers", "Partition", "Row", "backrefs", "cycles",
           "dump_heap", "duplicates", "empty_containers", "gc_report", "growth", "heap",
           "most_common_types", "retained_size", "show_backrefs", "show_refs", "sizeof"]


STDOUT = object()  # the default file: sys.stdout as it is at the time of the call


def _resolve(file):
    return sys.stdout if file is STDOUT else file


class Row(NamedTuple):
    """One row of a partition: a kind, how many objects, how many bytes."""
    kind: str
    count: int
    size: int


class Partition:
    """The live heap grouped by kind, type, module or size class.

    ``str(p)`` is heapy's table; ``p.rows`` the rows, largest first::

        >>> p = memscope.heap(file=None)
        >>> p.rows[0].kind, p.count, p.size
        ('str', 25773, 5611816)
    """

    def __init__(self, by: str, count: int, size: int, rows: list, table: str):
        self.by = by
        self.count = count
        self.size = size
        self.rows = [Row(*r) for r in rows]
        self._table = table

    def __str__(self) -> str:
        return self._table

    def __repr__(self) -> str:
        return f"<memscope.Partition by {self.by}: {self.count} objects, {self.size} bytes>"

    def __getitem__(self, kind: str) -> Row:
        for row in self.rows:
            if row.kind == kind:
                return row
        raise KeyError(kind)

    def __contains__(self, kind: str) -> bool:
        return any(row.kind == kind for row in self.rows)


def heap(by: str = "kind", limit: int = 10, file: Optional[IO[str]] = STDOUT) -> Partition:
    """Prints heapy's partition table of the live heap and returns it.

    ``by`` is ``"kind"`` (types, with dicts named after their owner:
    ``dict of Foo``, ``dict (no owner)``), ``"type"``, ``"module"`` or
    ``"size"``. Counts are of objects that exist: attributes CPython keeps
    inline (no ``__dict__`` made yet) add their bytes to ``dict of Foo``
    but no object. ``file=None`` prints nothing::

        >>> memscope.heap(limit=3)
        Partition of a set of 48477 objects. Total size = 5611816 bytes.
         Index    Count   %       Size   % Cumulative   % Kind (class / dict of class)
             0    25773  53    1612820  29    1612820  29 str
        ...
    """
    count, size, rows, table = _memscope.heap_partition(by, limit)
    part = Partition(by, count, size, rows, table)
    file = _resolve(file)
    if file is not None:
        file.write(table)
    return part


def most_common_types(limit: int = 10) -> list[tuple[str, int]]:
    """The ``limit`` most numerous types, as ``(name, count)``, most first.

    Like ``objgraph.most_common_types`` but counting every live object,
    not only those the collector tracks::

        >>> memscope.most_common_types(3)
        [('str', 25773), ('tuple', 11699), ('function', 6351)]
    """
    _, _, rows, _ = _memscope.heap_partition("type", 1)
    counts: dict[str, int] = {}
    for name, count, _ in rows:
        short = name.rsplit(".", 1)[-1]       # type.__name__, as objgraph names types
        counts[short] = counts.get(short, 0) + count
    return sorted(counts.items(), key=lambda r: (-r[1], r[0]))[:limit]


def growth(limit: int = 10, file: Optional[IO[str]] = STDOUT) -> list[tuple[str, int, int]]:
    """What grew since the previous call, as ``(type, count, increase)``.

    objgraph's ``show_growth``: the first call reports every type (growth
    from nothing); later calls only the types whose count went up::

        >>> memscope.growth(file=None)
        >>> leak = [object() for _ in range(1000)]
        >>> memscope.growth()
        object     1042     +1000
    """
    grown = _memscope.heap_growth(limit)
    file = _resolve(file)
    if file is not None and grown:
        width = max(len(name) for name, _, _ in grown)
        for name, n, delta in grown:
            file.write(f"{name:<{width}} {n:>9} {delta:>+9}\n")
    return grown


def dump_heap(path: "str | os.PathLike[str]", force: bool = False) -> int:
    """Writes a heap snapshot file of the live heap; returns its object count.

    Read it with the command line::

        >>> memscope.dump_heap("app.heap")
        48477
        $ memscope heap app.heap --by kind
        $ memscope heap app.heap --retained --limit 10

    While the allocation recorder runs (``memscope.Tracker``, ``memscope
    run``), each object allocated since it started also carries the line
    that allocated it, which ``--retained`` prints under each suspect.

    The file is created readable by its owner only (it holds the program's
    strings); an existing file is replaced only with ``force=True``, and
    only when it is a regular file, never through a symbolic link.
    """
    return _memscope.dump_heap(os.fspath(path), _recording_capture(), force)


def _recording_capture():
    """The capture being recorded, replayed up to now; None when nothing is
    recorded or the capture cannot be read (the snapshot then has no
    allocation sites, which is all a failure here may cost)."""
    try:
        return _follow.advanced()
    except (OSError, ValueError):
        return None


class Chain:
    """The shortest chain of references from a root to an object.

    ``str(chain)`` is the chain as Python would reach the object;
    ``chain.steps`` the ``(edge, description)`` pairs from the root down;
    ``chain.objects`` the live objects on the way (``None`` for interpreter
    frames and inline attribute values, which are not objects)::

        >>> print(memscope.backrefs(leaked))
        sys.modules['app'].__dict__['cache'][3]
    """

    def __init__(self, path: str, chain: list):
        self.path = path
        self.steps = [(label, what) for label, what, _ in chain]
        self.objects = [obj for _, _, obj in chain]

    def __str__(self) -> str:
        return self.path

    def __repr__(self) -> str:
        return f"<memscope.Chain {self.path}>"

    def __len__(self) -> int:
        return len(self.steps)


def backrefs(obj: object, max_depth: int = 20) -> Optional[Chain]:
    """The shortest reference chain from a root to ``obj`` (objgraph's
    ``find_backref_chain``), or ``None`` when it is longer than
    ``max_depth`` or no root reaches it. Roots are tried in order:
    ``sys.modules`` first, then the threads' frames::

        >>> chain = memscope.backrefs(leaked)
        >>> str(chain)
        "sys.modules['app'].__dict__['cache'][3]"
    """
    info = _memscope.heap_inspect(obj)
    if not info["chain"] or len(info["chain"]) > max_depth:
        return None
    return Chain(info["path"], info["chain"])


def retained_size(obj: object) -> int:
    """Bytes that would be freed if ``obj`` went away: its size plus
    everything only it keeps alive (its subtree in the dominator tree)::

        >>> cache = [bytes(1000) for _ in range(100)]
        >>> memscope.retained_size(cache) >= 100 * 1000
        True
    """
    return _memscope.heap_inspect(obj)["retained"]


def sizeof(obj: object, deep: bool = False) -> int:
    """``sys.getsizeof(obj)`` computed without running Python code, or with
    ``deep=True`` the size of everything ``obj`` reaches, not entering
    modules, classes, nor the globals and builtins a function or a
    generator's frame shares with its module (Pympler's ``asizeof``)::

        >>> memscope.sizeof([b"x" * 100] * 3, deep=True)
        221
    """
    info = _memscope.heap_inspect(obj)
    return info["deep"] if deep else info["size"]


def cycles(limit: int = 10, file: Optional[IO[str]] = STDOUT) -> dict:
    """The reference cycles the collector would free now, grouped by the
    kinds of objects in them, each group with the reference to make a
    ``weakref`` so that the objects go as soon as they are unused.

    Returns ``{"garbage_objects", "garbage_bytes", "cycles", "groups"}``;
    each group has ``kinds``, ``cycles``, ``objects``, ``bytes``,
    ``example`` (a description), ``example_id`` (its ``id()``), ``weaken``
    (``"module.Class.attribute"`` or ``None``), ``weaken_refs``, and, while
    the allocation recorder runs, ``site`` (``"file:line in function"``
    where most of its objects were allocated, else ``None``) and
    ``site_count``. It only looks: nothing is collected, and no garbage is
    kept alive::

        >>> root = Node(1); root.add_child(Node(2)); del root
        >>> memscope.cycles()["groups"][0]["weaken"]
        '__main__.Node.parent'
    """
    report = _memscope.heap_cycles(limit, _recording_capture())
    file = _resolve(file)
    if file is not None:
        file.write(report["table"])
    del report["table"]
    return report


class Duplicate(NamedTuple):
    """A value held in more than one copy: the copies are separate objects
    of one type (``str`` or ``bytes``) with equal contents."""
    type: str
    preview: Union[str, bytes]  # its first bytes (at most 40)
    copies: int
    size: int                   # bytes of each copy, as sys.getsizeof counts them
    wasted: int                 # (copies - 1) * size
    example_id: int             # id() of one copy


def duplicates(limit: Optional[int] = 10, file: Optional[IO[str]] = STDOUT) -> list[Duplicate]:
    """The ``str`` and ``bytes`` values the live heap holds in more than one
    copy, most bytes wasted first (``limit`` of them, ``None`` for all).

    Copies are equal contents in separate objects, compared exactly, not by
    their first bytes; references to one object (an interned string) are
    not copies. ``sys.intern()``, or a dict that hands out one canonical
    object per value, would keep one::

        >>> names = ["".join(["user", "name"]) for _ in range(1000)]
        >>> memscope.duplicates(limit=1)
        Duplicate str and bytes: 466 values held 2,134 times; the copies beyond one ...
        <BLANKLINE>
            Copies         Each       Wasted  Type   Value (its first bytes)
             1,000         57 B     55.6 KiB  str    'username'
        ...
        >>> memscope.duplicates(file=None)[0][:3]
        ('str', 'username', 1000)
    """
    rows, table = _memscope.heap_duplicates(limit or 0)
    file = _resolve(file)
    if file is not None:
        file.write(table)
    return [Duplicate(*row) for row in rows]


class EmptyContainers(NamedTuple):
    """The empty and mostly empty containers of one kind (``list``,
    ``dict of module.Class``, ``set`` ...) and what changing them saves."""
    kind: str
    empty: int                  # containers holding nothing
    empty_bytes: int
    mostly_empty: int           # holding under a quarter of their room
    mostly_empty_bytes: int
    saving: int                 # empty_bytes plus what right-sizing the others saves
    example_id: int             # id() of the one that would save the most (of its
                                # instance, for attribute values kept inline)


def empty_containers(limit: Optional[int] = 10,
                     file: Optional[IO[str]] = STDOUT) -> list[EmptyContainers]:
    """Lists, dicts, sets and instance dicts in the live heap that are empty
    or mostly empty, by kind, largest saving first (``limit`` kinds,
    ``None`` for all).

    An empty container's bytes are saved by creating it only when needed
    (or, for ``dict of Foo``, by ``__slots__``). A mostly empty one holds
    less than a quarter of what its allocation takes before it must grow,
    and a copy of it (``dict(d)``, ``set(s)``, ``l.copy()``) would be
    smaller: CPython never shrinks a dict's or set's table when items go::

        >>> class Point: pass
        >>> points = [Point() for _ in range(10_000)]
        >>> memscope.empty_containers(file=None)[0][:2]
        ('dict of __main__.Point', 10000)
    """
    rows, table = _memscope.heap_empty(limit or 0)
    file = _resolve(file)
    if file is not None:
        file.write(table)
    return [EmptyContainers(*row) for row in rows]


def show_refs(obj: object, path: str, max_depth: int = 3, backrefs: bool = False,
              force: bool = False) -> str:
    """Draws ``obj`` and what it refers to, ``max_depth`` references deep,
    into ``path`` (objgraph's ``show_refs``): ``.dot`` is the Graphviz
    source, ``.svg``, ``.png`` or ``.pdf`` a picture rendered by
    Graphviz's ``dot``. Returns ``path``::

        >>> memscope.show_refs(config, "config.svg")
        'config.svg'

    An existing file is replaced only with ``force=True`` (a regular file,
    never through a link), as ``dump_heap`` does.
    """
    import subprocess
    source = _memscope.heap_dot(obj, max_depth, backrefs)
    path = os.fspath(path)
    fmt = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if fmt not in ("dot", "svg", "png", "pdf"):
        raise ValueError(f"path must end in .dot, .svg, .png or .pdf, not {path!r}")
    fd = _memscope.create_file(path, force)
    try:
        if fmt == "dot":
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                fd = -1
                f.write(source)
        else:
            subprocess.run(["dot", f"-T{fmt}"], input=source.encode(), stdout=fd, check=True)
    except BaseException:
        os.unlink(path)
        raise
    finally:
        if fd >= 0:
            os.close(fd)
    return path


def show_backrefs(obj: object, path: str, max_depth: int = 3, force: bool = False) -> str:
    """Draws what refers to ``obj``, up to ``max_depth`` references back
    towards the roots, into ``path`` (objgraph's ``show_backrefs``); the
    formats are those of ``show_refs``::

        >>> memscope.show_backrefs(leaked, "leak.svg")
        'leak.svg'
    """
    return show_refs(obj, path, max_depth, backrefs=True, force=force)


_gc_pauses: list[float] = []
_gc_started: list[float] = []


def _time_collection(phase: str, info: dict, _clock=time.perf_counter) -> None:
    # The clock is bound at definition: the callback can run during
    # interpreter shutdown, after modules (time among them) are torn down.
    if phase == "start":
        _gc_started[:] = [_clock()]
    elif _gc_started:
        _gc_pauses.append(_clock() - _gc_started.pop())


def gc_report(file: Optional[IO[str]] = STDOUT) -> dict:
    """The garbage collector's state: per generation the collections,
    objects collected and uncollectable, current counts and thresholds;
    ``gc.garbage``; and the pause times of collections seen since the first
    ``gc_report()`` call (which starts timing them)::

        >>> memscope.gc_report()
        gen  collections  collected  uncollectable  count  threshold
          0          215       1820              0    112        700
        ...
    """
    import gc
    if _time_collection not in gc.callbacks:
        gc.callbacks.append(_time_collection)
    stats = gc.get_stats()
    counts, thresholds = gc.get_count(), gc.get_threshold()
    report = {
        "generations": [dict(stats[g], count=counts[g], threshold=thresholds[g])
                        for g in range(len(stats))],
        "garbage": len(gc.garbage),
        "enabled": gc.isenabled(),
        "pauses": len(_gc_pauses),
        "pause_total_s": sum(_gc_pauses),
        "pause_max_s": max(_gc_pauses, default=0.0),
    }
    file = _resolve(file)
    if file is not None:
        file.write("gen  collections  collected  uncollectable  count  threshold\n")
        for g, gen in enumerate(report["generations"]):
            file.write(f"{g:3} {gen['collections']:12} {gen['collected']:10} "
                       f"{gen['uncollectable']:14} {gen['count']:6} {gen['threshold']:10}\n")
        file.write(f"gc.garbage: {report['garbage']} objects; collector "
                   f"{'enabled' if report['enabled'] else 'disabled'}\n")
        file.write(f"pauses timed: {report['pauses']}, total {report['pause_total_s'] * 1e3:.2f} ms, "
                   f"longest {report['pause_max_s'] * 1e3:.2f} ms\n")
    return report
