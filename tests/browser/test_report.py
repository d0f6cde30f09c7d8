"""Browser tests of the HTML report: records small programs with
bin/memscope, writes their reports, opens them from disk in Debian's
chromium (driven by Playwright for Python) and checks what a user would
check: the page loads cleanly, the widest frames are the known allocators,
hover shows bytes, search highlights, click zooms, the timeline's peak shows
the peak's flame graph, program strings render as text, and a capture of
200,000 distinct stacks stays under 10 MB and still loads. Screenshots go to
build/artifacts/.

Each test makes several checks and reports every one that failed, not just
the first, so one run shows everything a change broke."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "bin" / "memscope"
ARTIFACTS = ROOT / "build" / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

PROGRAM = """
import gc
import memscope

def big():
    return [bytearray(1000) for _ in range(20000)]

def small():
    return [str(i) * 10 for i in range(5000)]

def outer():
    a = big()
    memscope.mark("loaded")
    b = small()
    return a, b

keep = outer()
gc.collect()
del keep
leak = [bytearray(100) for _ in range(300)]
memscope.mark("done")
"""

# Strings that would run script if the report treated them as markup.
XSS = "<img src=x onerror=alert(1)>"
XSS_PROGRAM = f"""
import memscope

def make():
    return [bytearray(4096) for _ in range(2000)]

code = make.__code__
make.__code__ = code.replace(co_name={XSS!r}, co_qualname={XSS!r},
                             co_filename="<script>alert(2)</script>.py")
memscope.mark("<b onmouseover=alert(3)>mark</b>")
held = make()
"""


def many_stacks_program():
    """500 call sites x 400 allocating lines: 200,000 distinct stacks, all
    live at the peak."""
    lines = ["held = []", "def leaf():"]
    lines += [f"    held.append(bytearray({100 + i}))" for i in range(400)]
    lines += ["def caller():"] + ["    leaf()"] * 500 + ["caller()"]
    return "\n".join(lines) + "\n"


class Checks:
    """Soft assertions: every failed check is kept with its detail, and
    done() fails the test with all of them."""

    def __init__(self):
        self.failed = []

    def __call__(self, name, ok, detail=None):
        if not ok:
            self.failed.append(name if detail is None else f"{name}: {detail!r}")

    def done(self):
        assert not self.failed, "\n".join(self.failed)


@pytest.fixture
def check():
    checks = Checks()
    yield checks
    checks.done()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
            viewport={"width": 1280, "height": 900})
        yield context
        context.close()


@pytest.fixture
def record(tmp_path):
    def run(name, source, *extra):
        script = tmp_path / f"{name}.py"
        script.write_text(source)
        capture = tmp_path / f"{name}.msc"
        subprocess.run([CLI, "run", *extra, "-o", capture, script], cwd=tmp_path, check=True,
                       capture_output=True, env=dict(os.environ, MEMSCOPE_PYTHON=sys.executable))
        return capture
    return run


def report(capture, *args):
    """`memscope report`, or `memscope flamegraph` with args; the HTML path."""
    out = capture.with_name(capture.stem + ("-flame.html" if args else ".html"))
    subprocess.run([CLI, "flamegraph" if args else "report", capture, "-o", out, *args],
                   check=True, capture_output=True)
    return out


def open_page(context, path):
    """Opens a report; returns (page, problems): console errors, page errors,
    dialogs and any request that leaves the file."""
    page = context.new_page()
    problems = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))

    def dialog(d):
        problems.append("dialog: " + d.message)
        d.dismiss()
    page.on("dialog", dialog)
    page.on("request", lambda r: r.url.startswith("file:") or problems.append("fetch: " + r.url))
    page.goto(path.as_uri())
    page.wait_for_selector("#flame .frame")
    return page, problems


def widest(page, depth):
    """The widest frame at a depth: [text, width in px, bytes]."""
    return page.eval_on_selector_all(f'#flame .frame[data-depth="{depth}"]', """els => {
        let best = null;
        for (const e of els) {
            const w = e.getBoundingClientRect().width;
            if (!best || w > best[1]) best = [e.textContent, w, Number(e.dataset.bytes)];
        }
        return best;
    }""")


def texts(page, selector):
    return page.eval_on_selector_all(selector, "els => els.map(e => e.textContent)")


def test_report(browser, record, check):
    capture = record("prog", PROGRAM)
    stats = json.loads(subprocess.run([CLI, "stats", capture, "--json"], check=True,
                                      capture_output=True).stdout)
    page, problems = open_page(browser, report(capture))
    check("report title", page.text_content("#flame-title") == "Live at peak")
    check("no cpu line without --cpu", page.query_selector("#cpu-line") is None)
    peak = page.text_content('#summary .card[data-key="peak_bytes"]')
    check("summary shows the peak", f"{stats['peak_bytes'] / 1048576:.1f} MiB" in peak, peak)
    root = widest(page, 0)
    check("root holds the peak", root[2] == stats["peak_bytes"], [root, stats["peak_bytes"]])
    check("widest under the root", widest(page, 1)[0] == "<module>")
    check("widest two down", widest(page, 2)[0] == "outer")
    big = widest(page, 3)
    check("the biggest allocator", big[0] == "big", big)
    check("it spans most of the graph", big[1] > 0.9 * root[1], [big, root])

    # Hover: the tooltip names the frame and its exact bytes.
    big_frame = page.locator('#flame .frame[data-depth="3"]', has_text=re.compile("^big$"))
    big_frame.hover()
    tip = page.text_content("#tooltip")
    check("hover shows bytes", f"{big[2]:,} bytes" in tip and "prog.py:" in tip
          and "allocations" in tip, tip)
    check("tooltip visible", page.is_visible("#tooltip"))
    page.screenshot(path=ARTIFACTS / "report.png", full_page=True)

    # Search highlights matching frames, and only those.
    page.fill("#search", "small")
    matched = texts(page, "#flame .frame.match")
    check("search highlights", len(matched) >= 2 and all("small" in t for t in matched), matched)
    check("search sums bytes", page.text_content("#search-result").startswith("matched"))
    page.screenshot(path=ARTIFACTS / "report-search.png")
    page.fill("#search", "")

    # Click zooms: the frame then spans the whole graph.
    big_frame.click()
    zoomed = widest(page, 3)
    check("click zooms", zoomed[0] == "big" and abs(zoomed[1] - root[1]) < 2, [zoomed, root])
    page.screenshot(path=ARTIFACTS / "report-zoom.png")
    page.click("#reset-zoom")

    # Inverted: the allocating frame comes first.
    page.check("#invert")
    check("inverted widest", widest(page, 1)[0] == "big.<locals>.<listcomp>")
    page.uncheck("#invert")

    # The timeline: a click at the end shows that moment, a click on the peak the peak.
    box = page.locator("#timeline svg").bounding_box()
    page.mouse.click(box["x"] + box["width"] - 3, box["y"] + box["height"] / 2)
    moment = page.text_content("#flame-title")
    check("timeline moment", moment.startswith("Live at ") and moment.endswith(")"), moment)
    leak_root = widest(page, 0)
    check("the end shows what leaked", stats["leaked_bytes"] <= leak_root[2]
          < stats["peak_bytes"] / 2, [leak_root, stats["leaked_bytes"]])
    page.click("#peak-marker")
    check("peak click", page.text_content("#flame-title") == "Live at peak")
    check("peak flame", widest(page, 3)[0] == "big")
    marks = texts(page, "#timeline .mark-label")
    check("marks on the timeline", marks == ["loaded", "done"], marks)

    # Tables sort by a click on a header.
    def first_row():
        return page.text_content("#table tr:nth-child(2) td.loc")
    check("table top row", first_row().startswith("big.<locals>.<listcomp>"))
    page.click('#table th[data-key="bytes"]')
    check("table sorts", not first_row().startswith("big.<locals>.<listcomp>"))
    check("no console errors", not problems, problems)
    page.close()

    flame, problems = open_page(browser, report(capture, "--at", "exit"))
    check("flamegraph page", flame.text_content("#flame-title") == "Leaked at exit"
          and flame.is_hidden("#timeline-section"))
    check("flamegraph no errors", not problems, problems)
    flame.close()


def test_escaping(browser, record, check):
    page, problems = open_page(browser, report(record("xss", XSS_PROGRAM)))
    frames = texts(page, "#flame .frame")
    check("xss name shown as text", XSS in frames, frames)
    check("no injected elements", not page.query_selector_all("img, b, #flame script"))
    rows = texts(page, "#table td.loc")
    check("xss file shown as text", any("<script>alert(2)</script>.py" in r for r in rows), rows)
    marks = texts(page, "#timeline .mark-label")
    check("xss mark shown as text", "<b onmouseover=alert(3)>mark</b>" in marks, marks)
    page.hover('#flame .frame[data-depth="2"]')
    page.wait_for_timeout(100)
    check("no dialog, no errors", not problems, problems)
    page.screenshot(path=ARTIFACTS / "report-escaping.png")
    page.close()


def test_size_cap(browser, record, check):
    path = report(record("many", many_stacks_program()))
    size = path.stat().st_size
    check("200,000 stacks: under 10 MB", size < 10 * 1024 * 1024, size)
    page, problems = open_page(browser, path)
    frames = len(page.query_selector_all("#flame .frame"))
    check("capped graph renders", 10 < frames <= 3100, frames)
    check("other frames merged", len(page.query_selector_all("#flame .frame.other")) > 0)
    check("size cap loads cleanly", not problems, problems)
    page.screenshot(path=ARTIFACTS / "report-200k-stacks.png")
    page.close()


NUMPY_PROGRAM = """
import time
import numpy as np
a = np.ones(4_000_000)
b = bytearray(20_000_000)
b[::4096] = b"\\1" * len(range(0, len(b), 4096))
time.sleep(0.3)
"""


def test_domains_and_resident_memory(browser, record, check):
    """numpy's memory has its own card, and the resident memory is split."""
    capture = record("domains", NUMPY_PROGRAM)
    stats = json.loads(subprocess.run([CLI, "stats", capture, "--json"], check=True,
                                      capture_output=True).stdout)
    numpy = next(d for d in stats["domains"] if d["domain"] == "numpy")
    page, problems = open_page(browser, report(capture))
    card = page.text_content('#summary .card[data-key="domain numpy"]') or ""
    check("numpy card", f"{numpy['peak_bytes'] / 1048576:.1f} MiB" in card and "numpy" in card,
          [card, numpy])
    split = stats["rss_explained"]
    rss = page.text_content('#summary .card[data-key="rss_explained"]') or ""
    check("resident memory split", split and "unexplained" in rss and "Python" in rss
          and f"{split['rss_bytes'] / 1048576:.1f} MiB" in rss, [rss, split])
    check("no errors", not problems, problems)
    page.screenshot(path=ARTIFACTS / "report-domains.png")
    page.close()


CPU_PROGRAM = """
def spin(n):
    s = 0
    for i in range(n): s += i * i
    return s

def fill():
    return [bytearray(1000) for _ in range(20000)]

spin(3_000_000)
kept = fill()
"""


def test_cpu_flame_graph(browser, record, check):
    """With --cpu the report has CPU and wall time flame graphs beside the
    memory ones: the CPU one is widest at the spinning function, the memory
    one at the allocating one, and the tooltip speaks seconds and samples."""
    capture = record("cpu", CPU_PROGRAM, "--cpu")
    stats = json.loads(subprocess.run([CLI, "stats", capture, "--json"], check=True,
                                      capture_output=True).stdout)
    page, problems = open_page(browser, report(capture))
    check("memory first", widest(page, 2)[0] == "fill")
    check("cpu line on the timeline", page.query_selector("#timeline #cpu-line") is not None)
    busy = page.text_content("#timeline") or ""
    check("cpu scale in cores", re.search(r"CPU \d+\.\d cores", busy) is not None, busy)
    views = texts(page, "#views button")
    check("time views", "CPU time" in views and "Wall time" in views, views)
    page.click('#views button[data-view="cpu"]')
    check("cpu title", page.text_content("#flame-title") == "CPU time")
    hot = widest(page, 2)
    check("cpu widest is the spinning function", hot[0] == "spin", hot)
    check("cpu root is the CPU time", abs(widest(page, 0)[2] / 1e9 - stats["cpu_seconds"]) < 1e-3,
          [widest(page, 0), stats["cpu_seconds"]])
    page.locator('#flame .frame[data-depth="2"]', has_text=re.compile("^spin$")).hover()
    tip = page.text_content("#tooltip")
    check("tooltip in seconds", " s, " in tip and "samples" in tip and "bytes" not in tip, tip)
    card = page.text_content('#summary .card[data-key="cpu_seconds"]') or ""
    check("cpu card", "native" in card and f"{stats['cpu_seconds']:.2f} s" in card, card)
    page.screenshot(path=ARTIFACTS / "report-cpu.png", full_page=True)
    check("no errors", not problems, problems)
    page.close()

    flame, problems = open_page(browser, report(capture, "--metric", "cpu"))
    check("cpu flamegraph page", flame.text_content("#flame-title") == "CPU time")
    check("cpu flamegraph no errors", not problems, problems)
    flame.close()


ADVICE_PROGRAM = """
def work(n):
    data = [str(i) * 10 for i in range(n)]
    return sum(len(s) for s in data)
work(200_000)
"""


def test_advice(browser, record, check):
    """The capture's advice, as `memscope advise` gives it, with the
    program's file name (here holding markup) as text."""
    capture = record("adv<b>x", ADVICE_PROGRAM)
    advice = json.loads(subprocess.run([CLI, "advise", capture, "--json"], check=True,
                                       capture_output=True).stdout)["advice"]
    page, problems = open_page(browser, report(capture))
    check("section shown", page.is_visible("#advice-section"))
    titles = texts(page, "#advice li strong")
    check("the CLI's advice", titles == [a["title"] for a in advice] and titles, [titles, advice])
    saving = texts(page, "#advice li .saving")
    check("saving off the peak",
          saving and f"{advice[0]['bytes_saved'] / 1048576:.1f} MiB off the peak" in saving[0],
          saving)
    check("file name as text", titles and "adv<b>x.py:3" in titles[0], titles)
    check("no injected elements", not page.query_selector_all("#advice b"))
    check("no errors", not problems, problems)
    page.screenshot(path=ARTIFACTS / "report-advice.png", full_page=True)
    page.close()
    plain = record("plain", "x = [1] * 10\n")
    page, problems = open_page(browser, report(plain))
    check("no advice, no section", not page.is_visible("#advice-section"))
    page.close()


def test_report_lists_child_processes(browser, tmp_path, check):
    """A child that ran Python and one that did not, in the parent's page;
    the child's own page names its parent."""
    (tmp_path / "child.py").write_text("block = bytearray(6_000_000)\n")
    (tmp_path / "prog.py").write_text(
        "import subprocess, sys\n"
        "subprocess.run([sys.executable, 'child.py'])\n"
        "subprocess.run(['/bin/true'])\n")
    capture = tmp_path / "prog.msc"
    subprocess.run([CLI, "run", "--follow-fork", "-o", capture, "prog.py"], cwd=tmp_path,
                   check=True, capture_output=True,
                   env=dict(os.environ, MEMSCOPE_PYTHON=sys.executable))
    kids = json.loads(subprocess.run([CLI, "stats", capture, "--json"], check=True,
                                     capture_output=True).stdout)["children"]
    page, problems = open_page(browser, report(capture))
    check("children shown", page.is_visible("#children-section"))
    rows = page.eval_on_selector_all("#children tr", "rs => rs.map(r => r.innerText)")
    check("a row per child", len(rows) == 3, rows)
    python_row = next((r for r in rows if str(kids[0]["pid"]) in r), "")
    check("the Python child's capture and peak", kids[0]["capture"] in python_row
          and f"{kids[0]['peak_bytes'] / 1048576:.1f} MiB" in python_row, python_row)
    check("the other child has none", any("not a Python program" in r for r in rows), rows)
    check("no page errors", not problems, problems)
    page.screenshot(path=ARTIFACTS / "report-children.png", full_page=True)
    page.close()
    child_page, problems = open_page(browser, report(Path(kids[0]["capture"])))
    check("the child names its parent", "child of pid" in child_page.text_content("#command"))
    child_page.close()
