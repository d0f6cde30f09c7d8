"""memscope report, flamegraph and timeline: the files they write, read back
as a user's tools would (the page's embedded data, the SVG as XML, the PNG
header). What the page does in a browser is tested in tests/browser/."""
import json
import re
import xml.etree.ElementTree as ET

import pytest

from conftest import memscope

PROGRAM = """\
import memscope

def big():
    return [bytearray(1000) for _ in range(20000)]

memscope.mark("start")
held = big()
memscope.mark("<i>loaded</i> & done")
del held
"""

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def capture(run_script):
    path, _ = run_script(PROGRAM)
    return path


def page_data(html):
    """The JSON object the page renders from."""
    m = re.search(r'<script type="application/json" id="memscope-data">(.*?)</script>', html, re.S)
    assert m, "no data element"
    return json.loads(m.group(1))


def stats(path):
    return json.loads(memscope("stats", path, "--json").stdout)


def test_report_is_one_self_contained_file(capture, tmp_path):
    proc = memscope("report", capture)
    out = capture.with_suffix(".html")
    assert f"report written to '{out}'" in proc.stdout
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "<!--memscope:" not in html
    # Nothing is fetched: no external scripts, styles or images.
    assert not re.search(r'<(script|link|img)[^>]+(src|href)=', html)
    assert "default-src 'none'" in html
    data = page_data(html)
    s = stats(capture)
    assert data["kind"] == "report"
    assert data["summary"]["peak_bytes"] == s["peak_bytes"]
    assert data["summary"]["leaked_bytes"] == s["leaked_bytes"]
    for view, total in (("peak", s["peak_bytes"]), ("exit", s["leaked_bytes"]),
                        ("total", s["total_allocated_bytes"])):
        assert data["flames"][view][1] == total
        assert data["flames"][view + "_inverted"][1] == total
    assert [m[1] for m in data["marks"]] == ["start", "<i>loaded</i> & done"]
    assert len(data["moments"]) == 24
    assert data["moments"][-1]["heap_bytes"] < s["peak_bytes"]
    assert data["tables"]["peak"]["line"][0][1] == s["top"][0]["bytes"]
    other = tmp_path / "elsewhere.html"
    memscope("report", capture, "-o", other)
    assert other.stat().st_size > 0


def test_program_strings_cannot_close_the_script_element(run_script, tmp_path):
    path, _ = run_script(f"""
def make():
    return [bytearray(4096) for _ in range(100)]
make.__code__ = make.__code__.replace(co_name={XSS!r}, co_qualname={XSS!r})
held = make()
""")
    out = tmp_path / "x.html"
    memscope("report", path, "-o", out)
    html = out.read_text()
    assert XSS not in html and "</script>alert" not in html
    assert html.count("</script>") == 2  # the data element's and the script's own
    data = page_data(html)
    assert any(f[0] == XSS for f in data["frames"])


def test_flamegraph_alone(capture):
    proc = memscope("flamegraph", capture, "--at", "total", "--inverted")
    out = capture.parent / "prog-flamegraph.html"
    assert f"'{out}'" in proc.stdout
    data = page_data(out.read_text())
    assert data["kind"] == "flamegraph"
    assert list(data["flames"]) == ["total_inverted"]
    assert "moments" not in data and "tables" not in data


def test_timeline_svg_png_html(capture, tmp_path):
    svg = tmp_path / "plot.svg"
    memscope("timeline", capture, "-o", svg)
    root = ET.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "<i>loaded</i> & done" in texts
    assert any(t.startswith("peak ") for t in texts)
    assert len(list(root.iter("{http://www.w3.org/2000/svg}polyline"))) == 2
    png = tmp_path / "plot.png"
    memscope("timeline", capture, "-o", png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = tmp_path / "plot.html"
    memscope("timeline", capture, "-o", page)
    html = page.read_text()
    assert "<svg" in html and "&lt;i&gt;loaded&lt;/i&gt; &amp; done" in html


def test_report_errors(capture, tmp_path):
    bad = tmp_path / "bad.msc"
    bad.write_bytes(b"MEMSCOPE\x01\x00")
    for args in (["report", bad], ["flamegraph", bad], ["timeline", bad, "-o", tmp_path / "x.svg"]):
        proc = memscope(*args, check=False)
        assert proc.returncode == 2, args
        assert proc.stderr.count("\n") == 1 and f"cannot read '{bad}'" in proc.stderr
    for args in (["timeline", capture], ["timeline", capture, "-o", tmp_path / "x.gif"],
                 ["flamegraph", capture, "--at", "noon"], ["report"]):
        assert memscope(*args, check=False).returncode == 2, args
    proc = memscope("report", capture, "-o", tmp_path / "missing" / "r.html", check=False)
    assert proc.returncode == 2 and "cannot write" in proc.stderr
    for cmd in ("report", "flamegraph", "timeline"):
        assert "examples:" in memscope(cmd, "--help").stdout
