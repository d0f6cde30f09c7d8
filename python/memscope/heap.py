"""Heap analysis of the running process: what is in the heap now.

The walk itself is C (``_memscope``): it sees every object reachable from
the interpreter's roots, untracked ``str``/``int``/``bytes`` included, sizes
them as ``sys.getsizeof`` does, and creates no Python objects while it
walks. This module shapes the results::

    >>> import memscope
    >>> memscope.heap()                       # heapy's partition table
    >>> memscope.most_common_types(5)         # objgraph's, untracked objects too
    >>> memscope.growth()                     # what grew since the last call
    >>> memscope.dump_heap("app.heap")        # for `memscope heap app.heap ...`
"""
from __future__ import annotations

import sys
from typing import IO, NamedTuple, Optional

from memscope import _memscope

__all__ = ["Partition", "Row", "dump_heap", "growth", "heap", "most_common_types"]


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
    ``"size"``. ``file=None`` prints nothing::

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


def dump_heap(path: str) -> int:
    """Writes a heap snapshot file of the live heap; returns its object count.

    Read it with the command line::

        >>> memscope.dump_heap("app.heap")
        48477
        $ memscope heap app.heap --by kind
        $ memscope heap app.heap --retained --limit 10
    """
    return _memscope.dump_heap(str(path))
