"""memscope.advise(): what to change in the running program to use less
memory, with the bytes each change saves. The rules are the CLI's
(``memscope advise``): the heap rules on a walk of the live heap, and, while
a capture is being recorded, the capture rules on what it holds so far."""
from __future__ import annotations

from typing import IO, NamedTuple, Optional

from memscope import _memscope
from memscope.heap import STDOUT, _recording_capture, _resolve

__all__ = ["Advice", "advise"]


class Advice(NamedTuple):
    """One change to make, with the evidence for it."""
    rule: str                   # "slots", "array", "intern", "empty", "weakref",
                                # "generator" or "join"
    title: str
    bytes_saved: int
    measure: str                # what bytes_saved is less of: "held" (live now),
                                # "peak" (the capture's peak) or "allocated" (in all)
    where: Optional[str]        # "file:line in function" that allocated the objects
    evidence: str
    change: str


def advise(limit: Optional[int] = 10, file: Optional[IO[str]] = STDOUT) -> list[Advice]:
    """What to change to use less memory, most bytes saved first (``limit``
    pieces, ``None`` for all), printed to ``file`` (``None``: not printed)
    and returned::

        >>> class Point:
        ...     def __init__(self, i): self.x, self.y = i, -i
        >>> points = [Point(i) for i in range(100_000)]
        >>> memscope.advise(file=None)[0][:2]
        ('slots', 'Give __main__.Point __slots__')

    Under ``memscope run`` or inside a ``Tracker``, the advice also covers
    what the capture recorded so far (a list comprehension that made the
    peak, a string built by ``+=``).
    """
    capture = _recording_capture()
    path = _memscope.recording() if capture is not None else None
    rows, text = _memscope.advise(limit or 0, capture if path else None, path)
    file = _resolve(file)
    if file is not None:
        file.write(text)
    return [Advice(*row) for row in rows]
