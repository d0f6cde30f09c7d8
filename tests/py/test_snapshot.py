"""take_snapshot / statistics / compare_to / Filter: tracemalloc's API over
memscope's recording, with full stacks, checked against known allocations."""
import sys

import pytest

import memscope


def make_blobs(n):
    return [bytes(1000) for _ in range(n)]      # 1033 bytes each, plus the list


def test_snapshot_needs_recording():
    with pytest.raises(RuntimeError, match="recording"):
        memscope.take_snapshot()


def test_compare_to_names_the_growing_line(tmp_path):
    with memscope.Tracker(tmp_path / "s.msc"):
        before = memscope.take_snapshot()
        blobs = make_blobs(5000)
        after = memscope.take_snapshot()
        diff = after.compare_to(before, "lineno")
        top = diff[0]
        assert top.traceback[0].filename == __file__
        # The comprehension's own frame, or make_blobs itself where the
        # comprehension is inlined (3.12 on, PEP 709).
        assert top.traceback[0].function == ("make_blobs.<locals>.<listcomp>"
                                             if sys.version_info < (3, 12) else "make_blobs")
        assert 5000 * 1033 <= top.size_diff <= 5000 * 1033 * 1.01
        assert top.count_diff >= 5000
        assert str(top).startswith(f"{__file__}:{make_blobs.__code__.co_firstlineno + 1}: size=")
        del blobs
        gone = memscope.take_snapshot().compare_to(after, "lineno")
        assert min(d.size_diff for d in gone) <= -5000 * 1033


def test_statistics_by_traceback_and_cumulative(tmp_path):
    with memscope.Tracker(tmp_path / "s.msc"):
        blobs = make_blobs(3000)
        snap = memscope.take_snapshot()
    full = snap.statistics("traceback")[0]
    functions = [f.function for f in full.traceback]
    assert "test_statistics_by_traceback_and_cumulative" in functions
    assert "make_blobs" in functions                       # the whole stack, not one frame
    assert full.traceback.format()[0].startswith(f'  File "{__file__}"')
    mine = [s for s in snap.statistics("lineno", cumulative=True)
            if s.traceback[0].function == "test_statistics_by_traceback_and_cumulative"]
    assert max(s.size for s in mine) >= 3000 * 1033
    by_file = snap.statistics("filename")
    assert by_file[0].traceback[0].filename == __file__
    del blobs


def test_filters_drop_and_keep_frames(tmp_path):
    with memscope.Tracker(tmp_path / "s.msc"):
        blobs = make_blobs(1000)
        snap = memscope.take_snapshot()
    kept = snap.filter_traces([memscope.Filter(True, __file__)])
    assert kept.statistics("filename")[0].traceback[0].filename == __file__
    assert all(s.traceback[0].filename == __file__ for s in kept.statistics("filename"))
    dropped = snap.filter_traces([memscope.Filter(False, __file__)])
    assert all(s.traceback[0].filename != __file__ for s in dropped.statistics("lineno"))
    with pytest.raises(ValueError):
        snap.statistics("color")
    del blobs
