"""Instances whose attributes CPython keeps inline (3.11's and 3.12's
values arrays, 3.13's inline values) have no dict object until something
asks for their __dict__. Counts name the objects that exist, checked
against objgraph and the collector; the values' bytes stay with their
instance as its "dict of" storage."""
import gc

import objgraph
import pytest

import memscope


class Point:
    def __init__(self, x):
        self.x = x
        self.y = [x]                 # a tracked value: a dict made from these is tracked too


class Node:
    def __init__(self):
        self.other = None


def increases(rows):
    return {name.rsplit(".", 1)[-1]: increase for name, _, increase in rows}


@pytest.mark.parametrize("materialised", [0, 300])
def test_growth_counts_the_dicts_that_exist(materialised):
    peak: dict = {}
    objgraph.growth(limit=None, peak_stats=peak)
    memscope.growth(limit=1000, file=None)
    points = [Point(i) for i in range(1000)]
    for p in points[:materialised]:
        p.__dict__                   # makes a real dict object
    ours = increases(memscope.growth(limit=1000, file=None))
    theirs = increases(objgraph.growth(limit=None, peak_stats=peak))
    assert ours["Point"] == theirs["Point"] == 1000
    # objgraph's own bookkeeping between the two calls adds a dict or two.
    assert materialised <= ours.get("dict", 0) <= materialised + 3
    assert abs(ours.get("dict", 0) - theirs.get("dict", 0)) <= 3
    del points


def test_partition_keeps_inline_values_bytes_without_counting_them():
    dicts_before = memscope.heap(by="type", file=None)["dict"].count
    points = [Point(i) for i in range(1000)]
    part = memscope.heap(file=None)
    dicts_after = memscope.heap(by="type", file=None)["dict"].count
    assert part[f"{__name__}.Point"].count == objgraph.typestats()["Point"] == 1000
    # No dict object exists for them, but their two attributes take room.
    kind = f"dict of {__name__}.Point"
    assert part[kind].count == 0
    assert part[kind].size >= 1000 * 2 * 8
    assert dicts_after - dicts_before <= 3
    del points


@pytest.mark.parametrize("materialised", [0, 100])
def test_cycles_count_what_the_collector_frees(materialised):
    enabled = gc.isenabled()
    gc.disable()
    try:
        gc.collect()
        for i in range(100):
            a, b = Node(), Node()
            a.other, b.other = b, a
            if i < materialised:
                a.__dict__
        del a, b
        report = memscope.cycles(file=None)
        before = len(gc.get_objects())
        freed = gc.collect()
        gone = before - len(gc.get_objects())
    finally:
        if enabled:
            gc.enable()
    # 3.13 frees a dict that shares its instance's inline values after the
    # collection (its instance's traverse reports the values instead), so
    # gc.collect() does not count it; gc.get_objects() sees it go.
    assert gone == 200 + materialised
    assert 200 <= freed <= gone
    assert report["garbage_objects"] == gone
    assert sum(g["objects"] for g in report["groups"]) == gone
