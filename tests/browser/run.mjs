// Browser tests of the HTML report: records small programs with
// bin/memscope, writes their reports, opens them from disk in Debian's
// chromium (driven by playwright-core) and checks what a user would check:
// the page loads cleanly, the widest frames are the known allocators, hover
// shows bytes, search highlights, click zooms, the timeline's peak shows the
// peak's flame graph, program strings render as text, and a capture of
// 200,000 distinct stacks stays under 10 MB and still loads. Screenshots go
// to build/artifacts/. Prints "N passed, N failed"; exits 1 on a failure.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const CLI = join(ROOT, "bin", "memscope");
const ARTIFACTS = join(ROOT, "build", "artifacts");
const PYTHON = process.env.MEMSCOPE_PYTHON || "/usr/bin/python3";
const work = mkdtempSync(join(tmpdir(), "memscope-browser-"));

const PROGRAM = `
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
`;

// Strings that would run script if the report treated them as markup.
const XSS = "<img src=x onerror=alert(1)>";
const XSS_PROGRAM = `
import memscope

def make():
    return [bytearray(4096) for _ in range(2000)]

code = make.__code__
make.__code__ = code.replace(co_name=${JSON.stringify(XSS)}, co_qualname=${JSON.stringify(XSS)},
                             co_filename="<script>alert(2)</script>.py")
memscope.mark("<b onmouseover=alert(3)>mark</b>")
held = make()
`;

// 500 call sites x 400 allocating lines: 200,000 distinct stacks, all live at the peak.
function manyStacksProgram() {
  const lines = ["held = []", "def leaf():"];
  for (let i = 0; i < 400; i++) lines.push(`    held.append(bytearray(${100 + i}))`);
  lines.push("def caller():");
  for (let i = 0; i < 500; i++) lines.push("    leaf()");
  lines.push("caller()");
  return lines.join("\n") + "\n";
}

function record(name, source) {
  const script = join(work, name + ".py");
  writeFileSync(script, source);
  const capture = join(work, name + ".msc");
  execFileSync(CLI, ["run", "-o", capture, script], {
    cwd: work, env: { ...process.env, MEMSCOPE_PYTHON: PYTHON }, stdio: "pipe",
  });
  return capture;
}

function report(capture, ...args) {
  const out = capture.replace(/\.msc$/, args.length ? "-flame.html" : ".html");
  execFileSync(CLI, [args.length ? "flamegraph" : "report", capture, "-o", out, ...args],
    { stdio: "pipe" });
  return out;
}

let passed = 0, failed = 0;
function check(name, ok, detail) {
  if (ok) passed++;
  else {
    failed++;
    console.error("FAIL " + name + (detail === undefined ? "" : ": " + JSON.stringify(detail)));
  }
}

async function open(context, file) {
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("dialog", async (d) => { problems.push("dialog: " + d.message()); await d.dismiss(); });
  page.on("request", (r) => { if (!r.url().startsWith("file:")) problems.push("fetch: " + r.url()); });
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector("#flame .frame");
  return { page, problems };
}

// The widest frame at a depth: [text, width in px].
async function widest(page, depth) {
  return page.$$eval(`#flame .frame[data-depth="${depth}"]`, (els) => {
    let best = null;
    for (const e of els) {
      const w = e.getBoundingClientRect().width;
      if (!best || w > best[1]) best = [e.textContent, w, Number(e.dataset.bytes)];
    }
    return best;
  });
}

async function testReport(context) {
  const capture = record("prog", PROGRAM);
  const stats = JSON.parse(execFileSync(CLI, ["stats", capture, "--json"]).toString());
  const { page, problems } = await open(context, report(capture));
  check("report title", (await page.textContent("#flame-title")) === "Live at peak");
  check("summary shows the peak", (await page.textContent('#summary .card[data-key="peak_bytes"]'))
    .includes((stats.peak_bytes / 1048576).toFixed(1) + " MiB"));
  const root = await widest(page, 0);
  check("root holds the peak", root[2] === stats.peak_bytes, [root, stats.peak_bytes]);
  check("widest under the root", (await widest(page, 1))[0] === "<module>");
  check("widest two down", (await widest(page, 2))[0] === "outer");
  const big = await widest(page, 3);
  check("the biggest allocator", big[0] === "big", big);
  check("it spans most of the graph", big[1] > 0.9 * root[1], [big, root]);

  // Hover: the tooltip names the frame and its exact bytes.
  const bigFrame = page.locator('#flame .frame[data-depth="3"]', { hasText: /^big$/ });
  await bigFrame.hover();
  const tip = await page.textContent("#tooltip");
  check("hover shows bytes", tip.includes(big[2].toLocaleString("en-US") + " bytes") &&
    tip.includes("prog.py:") && tip.includes("allocations"), tip);
  check("tooltip visible", await page.isVisible("#tooltip"));
  await page.screenshot({ path: join(ARTIFACTS, "report.png"), fullPage: true });

  // Search highlights matching frames, and only those.
  await page.fill("#search", "small");
  const matched = await page.$$eval("#flame .frame.match", (els) => els.map((e) => e.textContent));
  check("search highlights", matched.length >= 2 && matched.every((t) => t.includes("small")), matched);
  check("search sums bytes", (await page.textContent("#search-result")).startsWith("matched"));
  await page.screenshot({ path: join(ARTIFACTS, "report-search.png") });
  await page.fill("#search", "");

  // Click zooms: the frame then spans the whole graph.
  await bigFrame.click();
  const zoomed = await widest(page, 3);
  check("click zooms", zoomed[0] === "big" && Math.abs(zoomed[1] - root[1]) < 2, [zoomed, root]);
  await page.screenshot({ path: join(ARTIFACTS, "report-zoom.png") });
  await page.click("#reset-zoom");

  // Inverted: the allocating frame comes first.
  await page.check("#invert");
  check("inverted widest", (await widest(page, 1))[0] === "big.<locals>.<listcomp>");
  await page.uncheck("#invert");

  // The timeline: a click at the end shows that moment, a click on the peak the peak.
  const svg = page.locator("#timeline svg");
  const box = await svg.boundingBox();
  await page.mouse.click(box.x + box.width - 3, box.y + box.height / 2);
  const moment = await page.textContent("#flame-title");
  check("timeline moment", moment.startsWith("Live at ") && moment.endsWith(")"), moment);
  const leakRoot = await widest(page, 0);
  check("the end shows what leaked", leakRoot[2] >= stats.leaked_bytes &&
    leakRoot[2] < stats.peak_bytes / 2, [leakRoot, stats.leaked_bytes]);
  await page.click("#peak-marker");
  check("peak click", (await page.textContent("#flame-title")) === "Live at peak");
  check("peak flame", (await widest(page, 3))[0] === "big");
  const marks = await page.$$eval("#timeline .mark-label", (els) => els.map((e) => e.textContent));
  check("marks on the timeline", marks.join() === "loaded,done", marks);

  // Tables sort by a click on a header.
  const firstRow = () => page.textContent("#table tr:nth-child(2) td.loc");
  check("table top row", (await firstRow()).startsWith("big.<locals>.<listcomp>"));
  await page.click('#table th[data-key="bytes"]');
  check("table sorts", !(await firstRow()).startsWith("big.<locals>.<listcomp>"));
  check("no console errors", problems.length === 0, problems);
  await page.close();

  const flame = await open(context, report(capture, "--at", "exit"));
  check("flamegraph page", (await flame.page.textContent("#flame-title")) === "Leaked at exit" &&
    await flame.page.isHidden("#timeline-section"));
  check("flamegraph no errors", flame.problems.length === 0, flame.problems);
  await flame.page.close();
}

async function testEscaping(context) {
  const { page, problems } = await open(context, report(record("xss", XSS_PROGRAM)));
  const texts = await page.$$eval("#flame .frame", (els) => els.map((e) => e.textContent));
  check("xss name shown as text", texts.includes(XSS), texts);
  check("no injected elements", (await page.$$("img, b, #flame script")).length === 0);
  const rows = await page.$$eval("#table td.loc", (els) => els.map((e) => e.textContent));
  check("xss file shown as text", rows.some((r) => r.includes("<script>alert(2)</script>.py")), rows);
  const marks = await page.$$eval("#timeline .mark-label", (els) => els.map((e) => e.textContent));
  check("xss mark shown as text", marks.includes("<b onmouseover=alert(3)>mark</b>"), marks);
  await page.hover('#flame .frame[data-depth="2"]');
  await page.waitForTimeout(100);
  check("no dialog, no errors", problems.length === 0, problems);
  await page.screenshot({ path: join(ARTIFACTS, "report-escaping.png") });
  await page.close();
}

async function testSizeCap(context) {
  const capture = record("many", manyStacksProgram());
  const file = report(capture);
  const size = statSync(file).size;
  check("200,000 stacks: under 10 MB", size < 10 * 1024 * 1024, size);
  const { page, problems } = await open(context, file);
  const frames = await page.$$eval("#flame .frame", (els) => els.length);
  check("capped graph renders", frames > 10 && frames <= 3100, frames);
  check("other frames merged", (await page.$$("#flame .frame.other")).length > 0);
  check("size cap loads cleanly", problems.length === 0, problems);
  await page.screenshot({ path: join(ARTIFACTS, "report-200k-stacks.png") });
  await page.close();
}

mkdirSync(ARTIFACTS, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), "memscope-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1280, height: 900 },
});
try {
  for (const test of [testReport, testEscaping, testSizeCap]) {
    try {
      await test(context);
    } catch (e) {
      check(test.name, false, String(e && e.stack || e));
    }
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
