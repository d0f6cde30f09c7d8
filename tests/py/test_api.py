"""The in-process API: Tracker, mark, get_traced_memory and @profile, each
checked against allocations of known size."""
import io
import json
import subprocess
import sys
import textwrap

import pytest

import memscope
from conftest import memscope as cli


def test_tracker_records_a_block(tmp_path):
    path = tmp_path / "block.msc"
    with memscope.Tracker(path):
        blob = bytearray(12_000_000)
        memscope.mark("after blob")
    del blob
    rows = json.loads(cli("table", path, "--json").stdout)["rows"]
    assert rows[0]["function"] == "test_tracker_records_a_block"
    assert 12_000_000 <= rows[0]["bytes"] <= 12_000_100


def test_only_one_tracker_at_a_time(tmp_path):
    with memscope.Tracker(tmp_path / "a.msc"):
        with pytest.raises(RuntimeError, match="already recording"):
            memscope.Tracker(tmp_path / "b.msc").start()
    with pytest.raises(FileExistsError):
        memscope.Tracker(tmp_path / "a.msc").start()
    memscope.Tracker(tmp_path / "a.msc", force=True).start().stop()


@pytest.mark.parametrize("sample", [0, 4096])
def test_a_start_that_fails_midway_leaves_no_capture(tmp_path, sample):
    """Every step of start is made to fail in turn (core's allocations fail
    after the first n): each failure raises, leaves no file and no recording
    behind, and the next start records as if nothing had happened."""
    from memscope import _memscope
    midway = 0
    try:
        for n in range(1000):
            path = tmp_path / f"try{n}.msc"
            _memscope._fail_allocations(n)
            try:
                _memscope.start(str(path), ["prog"], sample=sample)
            except MemoryError:
                midway += 1  # the file existed: the capture's tables failed
            except RuntimeError as e:
                assert "out of memory" in str(e)  # opening the capture failed
            else:
                break
            finally:
                _memscope._fail_allocations(-1)
            assert not path.exists()
            assert _memscope.recording() is None
    finally:
        _memscope._fail_allocations(-1)
    assert midway >= 4  # main trie, side trie, names, and more
    blob = bytearray(8_000_000)
    assert _memscope.stop() == str(path)
    del blob
    rows = json.loads(cli("table", path, "--json", "--limit", "0").stdout)["rows"]
    mine = [r for r in rows if r["function"] == "test_a_start_that_fails_midway_leaves_no_capture"]
    assert mine and 7_900_000 <= sum(r["bytes"] for r in mine) <= 8_100_000
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_get_traced_memory_follows_allocations(tmp_path):
    assert memscope.get_traced_memory() == (0, 0)
    with memscope.Tracker(tmp_path / "t.msc"):
        before, _ = memscope.get_traced_memory()
        blob = bytearray(20_000_000)
        during, peak = memscope.get_traced_memory()
        assert 20_000_000 <= during - before <= 20_100_000
        del blob
        after, peak_after = memscope.get_traced_memory()
        assert during - after >= 20_000_000
        assert peak_after >= during


def test_profile_prints_the_exact_line_table():
    out = io.StringIO()

    @memscope.profile(stream=out)
    def load_data():
        data = [i for i in range(100_000)]
        blob = bytearray(8_000_000)
        del blob
        return len(data)

    assert load_data() == 100_000
    report = out.getvalue()
    lines = report.splitlines()
    assert any(l.split()[:2] == ["Line", "#"] for l in lines)
    blob_line = next(l for l in lines if "bytearray(8_000_000)" in l)
    assert "7.6 MiB" in blob_line           # 8,000,000 bytes, held at the peak
    data_line = next(l for l in lines if "range(100_000)" in l)
    assert "MiB" in data_line or "KiB" in data_line


def test_profile_matches_memory_profilers_shape(tmp_path):
    script = tmp_path / "prof.py"
    script.write_text(textwrap.dedent("""\
        import sys
        sys.path.insert(0, %r)
        import memscope

        @memscope.profile
        def memory_hungry_function():
            big_list = [i for i in range(1000000)]
            del big_list

        memory_hungry_function()
        """ % str(memscope.__path__[0].rsplit("/", 1)[0])))
    out = subprocess.run([sys.executable, script], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert lines[0].startswith("Filename: ")
    row = next(l for l in lines if "big_list = [i for i" in l)
    assert row.split()[0] == "7"
    assert "MiB" in row
