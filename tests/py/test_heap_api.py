"""The in-process heap API against ground truth a user would compute:
sys.getsizeof, brute-force 'what would be freed', and the reference chain
objgraph's find_backref_chain gives."""
import collections
import gc
import sys
import types

import pytest

import memscope


class Node:
    def __init__(self, parent=None):
        self.parent = parent
        self.children = []


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self):
        self.a = [1, 2, 3]
        self.b = "b" * 50


class SizeLies:
    def __sizeof__(self):          # a Python override must never run
        raise AssertionError("user __sizeof__ called")


SAMPLES = [0, 10**30, 3.5, "ascii", "ünïcödé", "日本語" * 10, b"bytes" * 7, (1, 2), [1, 2, 3],
           {"a": 1}, {1, 2}, frozenset({3}), bytearray(100), Slotted(), Node(), range(10),
           type, len, memoryview(b"abc"), 1j, None]


@pytest.mark.parametrize("obj", SAMPLES, ids=lambda o: type(o).__name__)
def test_sizeof_matches_getsizeof(obj):
    assert memscope.sizeof(obj) == sys.getsizeof(obj)


def test_sizeof_never_runs_python_overrides():
    obj = SizeLies()
    assert memscope.sizeof(obj) == object.__sizeof__(obj) + 16 + 16  # GC head, dict pointers


def test_retained_size_of_a_cache_is_its_contents():
    cache = {i: bytes(500) for i in range(1000)}
    expected = sys.getsizeof(cache) + sum(sys.getsizeof(v) for v in cache.values())
    expected += sum(sys.getsizeof(k) for k in cache if k > 256)   # small ints are shared
    assert memscope.retained_size(cache) == expected


def test_retained_excludes_what_others_also_hold():
    shared = bytes(10_000)
    a = [shared, bytes(300)]
    b = [shared]
    assert memscope.retained_size(a) == sys.getsizeof(a) + sys.getsizeof(a[1])
    del b


def test_deep_size():
    obj = [b"x" * 100, [b"y" * 10], "z"]
    expected = sum(map(sys.getsizeof, [obj, obj[0], obj[1], obj[1][0], obj[2]]))
    assert memscope.sizeof(obj, deep=True) == expected


def test_backrefs_name_module_and_attribute():
    mod = types.ModuleType("leaky_app")
    sys.modules["leaky_app"] = mod
    try:
        leaked = object()
        mod.registry = {"sessions": [None, leaked]}
        chain = memscope.backrefs(leaked)
        assert str(chain) == "sys.modules['leaky_app'].__dict__['registry']['sessions'][1]"
        assert chain.objects[-1] is leaked
        assert chain.objects[1] is mod
        assert memscope.backrefs(leaked, max_depth=2) is None
    finally:
        del sys.modules["leaky_app"]


def test_backrefs_agree_with_objgraph():
    objgraph = pytest.importorskip("objgraph")
    mod = types.ModuleType("chain_app")
    sys.modules["chain_app"] = mod
    try:
        target = Node()
        mod.root = Node()
        mod.root.children.append(target)
        ours = memscope.backrefs(target).objects
        theirs = objgraph.find_backref_chain(target, objgraph.is_proper_module)
        # objgraph's chain starts at the module; ours at sys.modules.
        assert [o for o in ours if o is not None][-len(theirs):] == theirs
    finally:
        del sys.modules["chain_app"]


def test_local_variables_are_reached_through_frames():
    local_only = bytearray(77)
    path = str(memscope.backrefs(local_only))
    assert path.startswith("thread ") and path.endswith(":local_only")


def test_untracked_objects_found_through_containers():
    holder = [("t", 1), 12345678901234567890]
    chain = memscope.backrefs(holder[1])
    assert str(chain).endswith("[1]")


def test_gc_report_agrees_with_gc_module():
    memscope.gc_report(file=None)
    gc.collect()
    report = memscope.gc_report(file=None)
    stats = gc.get_stats()
    assert [g["collections"] for g in report["generations"]] == [s["collections"] for s in stats]
    assert report["generations"][0]["threshold"] == gc.get_threshold()[0]
    assert report["pauses"] >= 1 and report["pause_max_s"] > 0
    assert report["garbage"] == len(gc.garbage)


def test_walk_meets_many_new_types_inside_one_object():
    # 1200 classes first met while one deque is traversed: the walker's type
    # table grows in the middle of that traversal (a use after free under
    # the ASan pass before the table's growth moved the current entry).
    classes = [type(f"Fresh{i}", (), {"__slots__": ()}) for i in range(1200)]
    holder = collections.deque(c() for c in classes)
    part = memscope.heap(by="type", file=None)
    fresh = [r for r in part.rows if r.kind.split(".")[-1].startswith("Fresh")]
    assert len(fresh) == 1200
    assert sum(r.count for r in fresh) == 1200
    assert sum(r.size for r in fresh) == sum(map(sys.getsizeof, holder))


def test_gc_report_timing_survives_interpreter_shutdown(monkeypatch):
    # gc_report() starts timing collections with a gc callback, which can run
    # during interpreter shutdown after sys.modules entries are set to None:
    # it must not need an import then (the error would reach the program's
    # stderr at exit).
    memscope.gc_report(file=None)
    callback = next(c for c in gc.callbacks if getattr(c, "__module__", "") == "memscope.heap")
    monkeypatch.setitem(sys.modules, "time", None)
    callback("start", {"generation": 0})
    callback("stop", {"generation": 0, "collected": 0, "uncollectable": 0})
