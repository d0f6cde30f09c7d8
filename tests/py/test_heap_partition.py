"""Partitions of the live heap checked against what users would check by
hand: gc.get_objects() with sys.getsizeof, and objgraph on the same process."""
import gc
import sys

import pytest

import memscope


class Plain:
    pass


class Slotted:
    __slots__ = ("a", "b")


def by_type():
    part = memscope.heap(by="type", file=None)
    return {row.kind: row for row in part.rows}


def test_instances_match_gc_ground_truth():
    keep = [Plain() for _ in range(2000)]
    rows = by_type()
    expected = [o for o in gc.get_objects() if type(o) is Plain]
    name = f"{__name__}.Plain"
    assert rows[name].count == len(expected) == 2000
    assert rows[name].size == sum(sys.getsizeof(o) for o in expected)
    del keep


def test_untracked_objects_are_counted_with_getsizeof_sizes():
    words = [f"word-{i}-" * 3 for i in range(5000)]
    numbers = [10**20 + i for i in range(3000)]
    gc.collect()
    rows = by_type()
    assert rows["str"].count >= 5000
    assert rows["int"].count >= 3000
    # Every str and int we made is in the totals with its own getsizeof.
    part = memscope.heap(by="size", file=None)
    assert part.size >= sum(map(sys.getsizeof, words)) + sum(map(sys.getsizeof, numbers))
    del words, numbers


def test_dict_of_class_for_plain_instances_not_slotted():
    plain = [Plain() for _ in range(300)]
    for p in plain:
        p.x = 1
    slotted = [Slotted() for _ in range(300)]
    part = memscope.heap(file=None)
    kind = f"dict of {__name__}.Plain"
    assert kind in part
    # Their attributes are inline values, not dict objects: bytes, no count.
    assert part[kind].count == 0
    assert part[kind].size >= 300 * 8
    assert not any(row.kind == f"dict of {__name__}.Slotted" for row in part.rows)
    assert part[f"{__name__}.Slotted"].count == 300
    del plain, slotted


def test_materialised_instance_dict_is_owned():
    objs = [Plain() for _ in range(50)]
    for o in objs:
        o.__dict__["y"] = 2          # forces a real dict object
    part = memscope.heap(file=None)
    assert part[f"dict of {__name__}.Plain"].count == 50
    size = sum(sys.getsizeof(o.__dict__) for o in objs)
    assert part[f"dict of {__name__}.Plain"].size == size
    del objs


def test_module_dicts_are_dict_of_module():
    part = memscope.heap(file=None)
    modules = [m for m in sys.modules.values() if type(m) is type(sys)]
    assert part["dict of module"].count >= len(set(map(id, modules))) - 5


def test_table_looks_like_heapys(capsys):
    memscope.heap(limit=3)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Partition of a set of ")
    assert out[1].split()[:7] == ["Index", "Count", "%", "Size", "%", "Cumulative", "%"]
    assert len(out) == 2 + 3 + 1 and out[-1].endswith("more rows>")


def test_most_common_types_agrees_with_objgraph():
    objgraph = pytest.importorskip("objgraph")
    keep = [Plain() for _ in range(4321)]
    ours = dict(memscope.most_common_types(limit=10000))
    theirs = dict(objgraph.most_common_types(limit=10000))
    # objgraph sees only what the collector tracks; for types whose
    # instances are always tracked the two must agree.
    for name in ("Plain", "function", "list", "cell", "method", "builtin_function_or_method"):
        if name in theirs:
            assert abs(ours.get(name, 0) - theirs[name]) <= 2, name
    assert ours["Plain"] == 4321
    assert ours["str"] > theirs.get("str", 0)
    del keep


def test_growth_reports_what_grew(capsys):
    memscope.growth(file=None)
    leak = [Plain() for _ in range(777)]
    grown = dict((name, delta) for name, _, delta in memscope.growth(limit=50))
    assert grown[f"{__name__}.Plain"] == 777
    assert "Plain" in capsys.readouterr().out
    again = memscope.growth(limit=50, file=None)
    assert f"{__name__}.Plain" not in [name for name, _, _ in again]
    del leak


def test_bad_partition_key():
    with pytest.raises(ValueError):
        memscope.heap(by="colour", file=None)
