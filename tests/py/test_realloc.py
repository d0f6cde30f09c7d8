"""What a realloc adds to "Allocated" (the `total` view): only the bytes it
grows its block by. A string built by `s += piece` is resized in place
thousands of times; every report must say the line allocated about the
string's final size, not the sum of every intermediate size."""
import json
import re
import textwrap

import pytest

from conftest import memscope

PROGRAM = textwrap.dedent("""\
    import sys

    def build(n):
        piece = "0123456789"
        s = ""
        for _ in range(n):
            s += piece
        return s

    s = build(120_000)
    print(sys.getsizeof(s))
    """)
LINE = 7  # s += piece


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("realloc")
    (tmp / "prog.py").write_text(PROGRAM)
    proc = memscope("run", "-o", tmp / "prog.msc", "prog.py", cwd=tmp)
    return tmp / "prog.msc", int(proc.stdout)


def line_total(rows):
    return sum(r["bytes"] for r in rows if r["line"] == LINE and r["file"].endswith("prog.py"))


def test_table_counts_the_growth_of_each_realloc(built):
    capture, final_size = built
    rows = json.loads(memscope("table", capture, "--at", "total", "--limit", "0",
                               "--json").stdout)["rows"]
    # Ground truth: the growths of one string add up to its final size.
    assert final_size - 64 <= line_total(rows) <= final_size + 4096
    peak = json.loads(memscope("table", capture, "--at", "peak", "--limit", "0",
                               "--json").stdout)["rows"]
    assert line_total(peak) <= line_total(rows)


def test_stats_total_is_what_the_program_asked_for(built):
    capture, final_size = built
    s = json.loads(memscope("stats", capture, "--json").stdout)
    assert final_size <= s["total_allocated_bytes"] < final_size + 8_000_000
    assert s["allocations"] - s["frees"] == s["leaked_allocations"]
    assert sum(b["bytes"] for b in s["histogram"]) == s["total_allocated_bytes"]


def test_every_report_agrees(built, tmp_path):
    capture, final_size = built
    total = json.loads(memscope("stats", capture, "--json").stdout)["total_allocated_bytes"]
    tree = json.loads(memscope("export", capture, "--format", "json", "--at", "total").stdout)
    assert tree["total_bytes"] == tree["tree"]["bytes"] == total
    diff = json.loads(memscope("diff", capture, capture, "--at", "total", "--json").stdout)
    assert diff["before"]["total_bytes"] == diff["after"]["total_bytes"] == total
    lines = memscope("lines", capture).stdout
    row = next(l for l in lines.splitlines() if l.rstrip().endswith("s += piece"))
    allocated = re.split(r"\s{2,}", row.strip())[2]
    assert allocated.endswith("MiB") and float(allocated.split()[0]) < 2, row
    flame = tmp_path / "flame.html"
    memscope("flamegraph", capture, "--at", "total", "-o", flame)
    page = flame.read_text()
    data = json.loads(page.split('id="memscope-data">')[1].split("</script>")[0])
    assert data["flames"]["total"][1] == total
