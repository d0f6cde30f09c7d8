"""memscope diff: two captures of one program, site by site, and the CI gate
(--fail-over) that exits 1 when the chosen view grew past a threshold."""
import json

import pytest

from conftest import memscope

PROGRAM = """\
import sys

def load():
    return [bytearray(1000) for _ in range(5000)]

rows = load()
if "--extra" in sys.argv:
    extra = bytearray(10 * 1024 * 1024)
del rows
"""


def record(tmp_path, name, source, *args):
    script = tmp_path / "prog.py"
    script.write_text(source)
    capture = tmp_path / f"{name}.msc"
    memscope("run", "-o", capture, script, *args, cwd=tmp_path)
    return capture


@pytest.fixture
def before_after(tmp_path):
    return (record(tmp_path, "before", PROGRAM),
            record(tmp_path, "after", PROGRAM, "--extra"))


def test_the_extra_line_tops_the_diff(before_after):
    before, after = before_after
    doc = json.loads(memscope("diff", before, after, "--json").stdout)
    top = doc["rows"][0]
    assert top["file"].endswith("prog.py") and top["line"] == 8
    assert top["function"] == "<module>" and top["status"] == "new"
    assert 10 * 1024 * 1024 <= top["delta_bytes"] < 10 * 1024 * 1024 + 4096
    assert top["before_bytes"] == 0 and top["after_allocations"] >= 1
    assert doc["after"]["total_bytes"] - doc["before"]["total_bytes"] == doc["delta_bytes"]
    assert abs(doc["delta_bytes"] - 10 * 1024 * 1024) < 64 * 1024
    assert doc["exceeded"] is False and doc["fail_over"] is None
    text = memscope("diff", before, after).stdout
    lines = text.splitlines()
    assert lines[0].startswith("Live at peak, by line: ") and "(net +10.0 MiB, " in lines[0]
    assert lines[4].startswith("Grew: +10.0 MiB in ")
    assert "+10.0 MiB" in lines[6] and "prog.py:8 in <module> (new)" in lines[6]


def test_reductions_have_their_own_section(before_after):
    """An optimisation's saving is listed first under Shrank, however many
    sites grew; the header says the net."""
    before, after = before_after
    text = memscope("diff", after, before, "--limit", "1").stdout
    assert "(net -10.0 MiB, " in text.splitlines()[0]
    shrank = text.split("\nShrank: ")[1].splitlines()
    assert shrank[0].startswith("-10.0 MiB in ")
    assert shrank[1].split() == ["Before", "After", "Change", "Location"]
    assert "-10.0 MiB" in shrank[2] and "prog.py:8 in <module> (gone)" in shrank[2]


def test_fail_over_exits_1_past_the_threshold(before_after):
    before, after = before_after
    proc = memscope("diff", before, after, "--fail-over", "5MB", check=False)
    assert proc.returncode == 1
    assert "grew by 10.0 MiB, past --fail-over 5MB" in proc.stderr
    proc = memscope("diff", before, after, "--fail-over", "5MB", "--json", check=False)
    assert proc.returncode == 1 and json.loads(proc.stdout)["exceeded"] is True
    assert memscope("diff", before, after, "--fail-over", "20MB", check=False).returncode == 0
    assert memscope("diff", before, after, "--fail-over", "50%", check=False).returncode == 1
    # Shrinking never fails the gate.
    assert memscope("diff", after, before, "--fail-over", "0", check=False).returncode == 0
    # The total allocated grew by as much.
    assert memscope("diff", before, after, "--at", "total", "--fail-over", "5MB",
                    check=False).returncode == 1


def test_identical_programs_pass(tmp_path):
    one = record(tmp_path, "one", PROGRAM)
    two = record(tmp_path, "two", PROGRAM)
    proc = memscope("diff", one, two, "--fail-over", "1MB", check=False)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(memscope("diff", one, two, "--json").stdout)
    assert abs(doc["delta_bytes"]) < 1024 * 1024
    assert all(abs(r["delta_bytes"]) < 64 * 1024 for r in doc["rows"])


def test_sites_whose_line_moved_still_match(tmp_path):
    before = record(tmp_path, "before", PROGRAM)
    moved = PROGRAM.replace("def load():", "# a comment\n# and another\n\ndef load():")
    after = record(tmp_path, "after", moved)
    doc = json.loads(memscope("diff", before, after, "--json", "--at", "total").stdout)
    rows = {(r["function"], r["line_before"], r["line"]): r for r in doc["rows"]}
    listcomp = [r for r in doc["rows"] if r["function"] == "load.<locals>.<listcomp>"]
    # Matched across the move: no "new" and "gone" pair of 5 MB each.
    assert all(r["status"] == "moved" for r in listcomp), rows
    assert all(abs(r["delta_bytes"]) < 64 * 1024 for r in listcomp)
    assert not [r for r in doc["rows"] if r["status"] in ("new", "gone")
                and abs(r["delta_bytes"]) > 1024 * 1024]
    by_function = json.loads(memscope("diff", before, after, "--by", "function",
                                      "--json").stdout)
    assert all(r["line"] is None for r in by_function["rows"])


def test_runs_from_two_checkouts_match(tmp_path):
    """CI builds before and after in different directories: the program's
    files still match, and only the extra line shows."""
    (tmp_path / "ci-1" / "app").mkdir(parents=True)
    (tmp_path / "ci-2" / "app").mkdir(parents=True)
    before = record(tmp_path / "ci-1" / "app", "before", PROGRAM)
    after = record(tmp_path / "ci-2" / "app", "after", PROGRAM, "--extra")
    doc = json.loads(memscope("diff", before, after, "--json", "--at", "total").stdout)
    assert doc["rows"][0]["status"] == "new" and doc["rows"][0]["line"] == 8
    assert str(tmp_path / "ci-2" / "app" / "prog.py") == doc["rows"][0]["file"]
    assert not [r for r in doc["rows"][1:] if r["status"] in ("new", "gone")
                and abs(r["delta_bytes"]) > 1024 * 1024], doc["rows"]
    assert memscope("diff", before, after, "--fail-over", "12MB", check=False).returncode == 0


def test_diff_usage_errors(before_after, tmp_path):
    before, after = before_after
    for args in ([before], [before, after, "--fail-over", "lots"],
                 [before, after, "--at", "noon"], [before, after, "--by", "module"]):
        proc = memscope("diff", *args, check=False)
        assert proc.returncode == 2, args
        assert "Traceback" not in proc.stderr
    bad = tmp_path / "bad.msc"
    bad.write_bytes(b"MEMSCOPE" + b"\0" * 40)
    proc = memscope("diff", before, bad, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and f"cannot read '{bad}'" in proc.stderr
    assert "examples:" in memscope("diff", "--help").stdout
