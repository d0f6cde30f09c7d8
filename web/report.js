// memscope report page: renders the JSON the C writer embeds in
// #memscope-data (summary, timeline, flame graphs, moments, tables, advice).
// Every string from the profiled program reaches the page through textContent or
// an SVG text node, never as markup, so a function named like an HTML tag
// shows as text.
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("memscope-data").textContent);
  const frames = data.frames;
  const SVG = "http://www.w3.org/2000/svg";
  const VIEW_TITLES = { peak: "Live at peak", exit: "Leaked at exit", total: "Total allocated",
                        cpu: "CPU time", wall: "Wall time" };
  // Time views (memscope run --cpu) weigh frames in nanoseconds, not bytes.
  const TIME_VIEWS = { cpu: true, wall: true };

  function el(tag, props, text) {
    const e = document.createElement(tag);
    Object.assign(e, props || {});
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function bytes(n) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let u = 0;
    while (n >= 1024 && u < units.length - 1) { n /= 1024; u++; }
    return u ? n.toFixed(1) + " " + units[u] : n + " B";
  }

  function seconds(ns) {
    const s = ns / 1e9;
    return s < 0.01 ? (s * 1e3).toFixed(1) + " ms" : s.toFixed(2) + " s";
  }

  function count(n) {
    return n.toLocaleString("en-US");
  }

  function percent(part, whole) {
    return whole ? (100 * part / whole).toFixed(1) + "%" : "0.0%";
  }

  function location(f) {
    if (!f.file) return "";
    return f.line ? f.file + ":" + f.line : f.file;
  }

  // Nested [frame, bytes, count, children] arrays into linked nodes. A
  // negative frame is "other": that many smaller frames merged.
  function build(raw, parent, depth) {
    const f = raw[0] >= 0 ? frames[raw[0]] : null;
    const node = {
      name: f ? f[0] : "other (" + (-raw[0]) + " smaller frames)",
      file: f ? f[1] : "", line: f ? f[2] : 0, other: raw[0] < 0,
      bytes: raw[1], count: raw[2], parent: parent, depth: depth, children: [],
    };
    for (const kid of raw[3] || []) node.children.push(build(kid, node, depth + 1));
    return node;
  }

  /* ---- summary ---------------------------------------------------------- */

  function renderSummary() {
    const s = data.summary;
    const words = data.command.length ? data.command.join(" ") : data.capture;
    document.title = "memscope: " + words;
    document.getElementById("title").textContent =
      data.kind === "flamegraph" ? "memscope flame graph" : "memscope report";
    document.getElementById("command").textContent =
      words + "  (Python " + data.python_version + ", pid " + data.pid + ")" +
      (data.complete ? "" : "  capture incomplete");
    const cards = [
      ["peak_bytes", "peak heap", bytes(s.peak_bytes) + " at " + s.peak_time_s.toFixed(2) + " s"],
      ["peak_rss_bytes", "peak RSS", bytes(s.peak_rss_bytes)],
      ["total_allocated_bytes", "total allocated", bytes(s.total_allocated_bytes)],
      ["allocations", "allocations", count(s.allocations)],
      ["leaked_bytes", "leaked at exit", bytes(s.leaked_bytes) + " in " +
        count(s.leaked_allocations) + " blocks"],
      ["duration_s", "duration", s.duration_s.toFixed(2) + " s"],
    ];
    if (s.cpu_samples) {
      cards.push(["cpu_seconds", "CPU time", s.cpu_seconds.toFixed(2) + " s, " +
        percent(s.native_cpu_seconds, s.cpu_seconds) + " native"]);
    }
    // Memory outside CPython's allocators, by domain (numpy, native, mmap).
    for (const [name, peak, exit] of data.domains || []) {
      if (name === "raw" || name === "mem" || name === "obj") continue;
      cards.push(["domain " + name, name + " at peak",
                  bytes(peak) + " (" + bytes(exit) + " at exit)"]);
    }
    const r = data.rss_explained;
    if (r) {
      cards.push(["rss_explained", "resident at " + r.time_s.toFixed(2) + " s: " +
                  bytes(r.rss_bytes),
                  "Python " + bytes(r.python_objects_bytes) +
                  " \u00b7 native " + bytes(r.native_heap_bytes) +
                  " \u00b7 mappings " + bytes(r.anonymous_mappings_bytes) +
                  " \u00b7 files " + bytes(r.file_backed_bytes) +
                  " \u00b7 unexplained " + bytes(r.unexplained_bytes)]);
    }
    const box = document.getElementById("summary");
    for (const [key, label, value] of cards) {
      const card = el("div", { className: "card" });
      card.dataset.key = key;
      card.append(el("div", { className: "value" }, value), el("div", { className: "label" }, label));
      box.append(card);
    }
  }

  /* ---- flame graph ------------------------------------------------------ */

  const flame = {
    view: "peak", moment: null, inverted: false, query: "",
    root: null, zoom: null, total: 0,
  };
  const flameBox = document.getElementById("flame");
  const tooltip = document.getElementById("tooltip");
  const ROW = 18;

  function flameData() {
    if (flame.moment !== null) return data.moments[flame.moment].flame;
    return data.flames[flame.view + (flame.inverted ? "_inverted" : "")] ||
      data.flames[Object.keys(data.flames)[0]];
  }

  function flameTitle() {
    if (flame.moment !== null) {
      const m = data.moments[flame.moment];
      return "Live at " + m.time_s.toFixed(2) + " s (" + bytes(m.heap_bytes) + ")";
    }
    return VIEW_TITLES[flame.view] + (flame.inverted ? ", inverted" : "");
  }

  function timed() {
    return flame.moment === null && TIME_VIEWS[flame.view] === true;
  }

  function amount(n) {
    return timed() ? seconds(n) : bytes(n);
  }

  function matches(node) {
    const q = flame.query.toLowerCase();
    return q !== "" && !node.other &&
      (node.name.toLowerCase().includes(q) || node.file.toLowerCase().includes(q));
  }

  function hue(name) {
    let h = 0;
    for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
    return "hsl(" + (10 + h % 40) + ", " + (60 + h % 25) + "%, " + (55 + h % 15) + "%)";
  }

  function maxDepth(node) {
    let d = node.depth;
    for (const k of node.children) d = Math.max(d, maxDepth(k));
    return d;
  }

  function showFlame() {
    flame.root = build(flameData(), null, 0);
    flame.zoom = flame.root;
    flame.total = flame.root.bytes;
    document.getElementById("flame-title").textContent = flameTitle();
    renderFlame();
    updateViewButtons();
  }

  function frameDiv(node, left, width, top) {
    const d = el("div", { className: "frame" }, node.depth === 0 ? "all" : node.name);
    if (node.other) d.classList.add("other");
    if (matches(node)) d.classList.add("match");
    d.style.left = left + "%";
    d.style.width = width + "%";
    d.style.top = top + "px";
    if (!node.other) d.style.background = hue(node.name);
    d.dataset.depth = node.depth;
    d.dataset.bytes = node.bytes;
    d._node = node;
    return d;
  }

  // The zoomed node spans the width; its callers sit beside it full width,
  // its descendants are laid out in proportion to their bytes.
  function renderFlame() {
    flameBox.textContent = "";
    const zoom = flame.zoom;
    const deepest = maxDepth(zoom);
    const upright = !flame.inverted || flame.moment !== null;
    const top = (depth) => (upright ? deepest - depth : depth) * ROW;
    flameBox.style.height = (deepest + 1) * ROW + "px";
    for (let a = zoom.parent; a; a = a.parent) {
      const d = frameDiv(a, 0, 100, top(a.depth));
      d.classList.add("ancestor");
      flameBox.append(d);
    }
    const scale = zoom.bytes ? 100 / zoom.bytes : 0;
    const place = (node, left) => {
      const width = node.bytes * scale;
      if (width < 0.05 && node !== zoom) return;
      flameBox.append(frameDiv(node, left, Math.max(width, 0.05), top(node.depth)));
      let x = left;
      for (const k of node.children) {
        place(k, x);
        x += k.bytes * scale;
      }
    };
    place(zoom, 0);
    const q = flame.query;
    const found = q ? matchedBytes(flame.root) : 0;
    document.getElementById("search-result").textContent =
      q ? "matched " + amount(found) + " (" + percent(found, flame.total) + ")" : "";
  }

  // Bytes under matching frames, each counted once (the outermost match).
  function matchedBytes(node) {
    if (matches(node)) return node.bytes;
    let sum = 0;
    for (const k of node.children) sum += matchedBytes(k);
    return sum;
  }

  function showTooltip(ev, node) {
    const lines = [node.depth === 0 ? "all" : node.name];
    if (location(node)) lines.push(location(node));
    if (timed()) {
      lines.push(seconds(node.bytes) + ", " + percent(node.bytes, flame.total));
      lines.push(count(node.count) + " samples");
    } else {
      lines.push(bytes(node.bytes) + " (" + node.bytes.toLocaleString("en-US") + " bytes), " +
        percent(node.bytes, flame.total));
      lines.push(count(node.count) + " allocations");
    }
    tooltip.textContent = lines.join("\n");
    tooltip.hidden = false;
    tooltip.style.left = Math.min(ev.clientX + 12, window.innerWidth - 320) + "px";
    tooltip.style.top = ev.clientY + 14 + "px";
  }

  flameBox.addEventListener("mousemove", (ev) => {
    const node = ev.target._node;
    if (node) showTooltip(ev, node);
    else tooltip.hidden = true;
  });
  flameBox.addEventListener("mouseleave", () => { tooltip.hidden = true; });
  flameBox.addEventListener("click", (ev) => {
    const node = ev.target._node;
    if (!node || node.other) return;
    flame.zoom = node;
    renderFlame();
  });
  document.getElementById("reset-zoom").addEventListener("click", () => {
    flame.zoom = flame.root;
    renderFlame();
  });
  document.getElementById("search").addEventListener("input", (ev) => {
    flame.query = ev.target.value;
    renderFlame();
  });
  document.getElementById("invert").addEventListener("change", (ev) => {
    flame.inverted = ev.target.checked;
    flame.moment = null;
    showFlame();
  });

  function updateViewButtons() {
    for (const b of document.querySelectorAll("#views button")) {
      b.classList.toggle("active", flame.moment === null && b.dataset.view === flame.view);
    }
  }

  function renderViewButtons() {
    const box = document.getElementById("views");
    for (const view of ["peak", "exit", "total", "cpu", "wall"]) {
      if (!data.flames[view] && !data.flames[view + "_inverted"]) continue;
      const b = el("button", { type: "button", className: "tab" }, VIEW_TITLES[view]);
      b.dataset.view = view;
      b.addEventListener("click", () => {
        flame.view = view;
        flame.moment = null;
        showFlame();
      });
      box.append(b);
    }
    if (data.kind === "flamegraph") {
      const only = Object.keys(data.flames)[0];
      flame.view = only.replace("_inverted", "");
      flame.inverted = only.endsWith("_inverted");
      document.getElementById("invert").parentElement.hidden = true;
    }
  }

  /* ---- timeline --------------------------------------------------------- */

  function renderTimeline() {
    const points = data.timeline;
    const s = data.summary;
    const W = 1000, H = 240, L = 64, R = 12, T = 14, B = 26;
    const end = Math.max(s.duration_s, s.peak_time_s, points.length ? points[points.length - 1][0] : 0) || 1;
    let top = s.peak_bytes;
    for (const p of points) top = Math.max(top, p[1], p[2]);
    top = top || 1;
    const x = (t) => L + (W - L - R) * t / end;
    const y = (v) => T + (H - T - B) * (1 - v / top);
    const box = svg("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none" });
    box.append(svg("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }));
    box.append(svg("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }));
    box.append(svg("text", { x: 4, y: T + 8 }, bytes(top)));
    box.append(svg("text", { x: 4, y: H - B }, "0"));
    box.append(svg("text", { x: W - R - 40, y: H - 6 }, end.toFixed(2) + " s"));
    const line = (index, color, label) => {
      if (!points.length) return;
      const d = points.map((p, i) => (i ? "L" : "M") + x(p[0]).toFixed(1) + " " + y(p[index]).toFixed(1));
      box.append(svg("path", { d: d.join(" "), fill: "none", stroke: color, "stroke-width": 1.5 }, undefined));
      box.lastChild.append(svg("title", {}, label));
    };
    line(2, "var(--rss)", "RSS");
    line(1, "var(--heap)", "heap in use");
    if (s.cpu_samples) cpuLine(box, points, x, T, H - B);
    for (const t of data.gc_s) {
      box.append(svg("line", { x1: x(t), x2: x(t), y1: H - B, y2: H - B + 5, stroke: "var(--muted)" }));
    }
    for (const [t, label] of data.marks) {
      box.append(svg("line", { x1: x(t), x2: x(t), y1: T, y2: H - B, stroke: "var(--muted)",
        "stroke-dasharray": "3 3" }));
      box.append(svg("text", { class: "mark-label", x: Math.min(x(t) + 3, W - R - 90), y: T + 10 },
        label));
    }
    const cursor = svg("line", { x1: -10, x2: -10, y1: T, y2: H - B, stroke: "var(--accent)" });
    const showAt = (t) => {
      cursor.setAttribute("x1", x(t));
      cursor.setAttribute("x2", x(t));
      pickMoment(t);
    };
    const peak = svg("circle", { id: "peak-marker", cx: x(s.peak_time_s), cy: y(s.peak_bytes), r: 5,
      fill: "var(--accent)" });
    peak.append(svg("title", {}, "peak " + bytes(s.peak_bytes) + " at " + s.peak_time_s.toFixed(3) + " s"));
    peak.addEventListener("click", (ev) => {
      ev.stopPropagation(); // exactly the peak, not the moment under the pixel
      showAt(s.peak_time_s);
    });
    box.append(peak);
    // The label sits beside the marker, on its left near the right edge,
    // and never takes the marker's clicks.
    const right = x(s.peak_time_s) > W - 130;
    box.append(svg("text", { x: x(s.peak_time_s) + (right ? -8 : 8), y: y(s.peak_bytes) + 4,
      "text-anchor": right ? "end" : "start", "pointer-events": "none" }, "peak " + bytes(s.peak_bytes)));
    box.append(cursor);
    box.addEventListener("click", (ev) => {
      const r = box.getBoundingClientRect();
      showAt(Math.max(0, ((ev.clientX - r.left) * W / r.width - L) / (W - L - R) * end));
    });
    document.getElementById("timeline").append(box);
  }

  // CPU busy over time (run --cpu): the CPU seconds sampled around each
  // point over the time they span, in cores, on a scale of its own. Two
  // points either side smooth out where a sample's 10 ms fell.
  function cpuLine(box, points, x, top, bottom) {
    const cores = points.map((p, i) => {
      const lo = Math.max(0, i - 2), hi = Math.min(points.length - 1, i + 2);
      let sum = 0;
      for (let j = lo; j <= hi; j++) sum += points[j][3];
      const span = points[hi][0] - (lo ? points[lo - 1][0] : 0);
      return span > 0 ? sum / span : 0;
    });
    const most = Math.max(1, ...cores);
    const y = (c) => bottom - (bottom - top) * c / most;
    const d = points.map((p, i) => (i ? "L" : "M") + x(p[0]).toFixed(1) + " " + y(cores[i]).toFixed(1));
    const path = svg("path", { id: "cpu-line", d: d.join(" "), fill: "none", stroke: "var(--cpu)",
      "stroke-width": 1, "stroke-dasharray": "4 2" });
    path.append(svg("title", {}, "CPU busy (cores), sampled"));
    box.append(path);
    box.append(svg("text", { x: x(points[points.length - 1][0]) - 4, y: top + 22,
      "text-anchor": "end", fill: "var(--cpu)" }, "CPU " + most.toFixed(1) + " cores"));
  }

  // The peak is a moment too, and the exact one: a click nearer to it than
  // to any snapshot shows the peak's flame graph.
  function pickMoment(t) {
    let best = null, gap = Math.abs(t - data.summary.peak_time_s);
    data.moments.forEach((m, i) => {
      if (Math.abs(m.time_s - t) < gap) { best = i; gap = Math.abs(m.time_s - t); }
    });
    flame.moment = best;
    if (best === null) flame.view = "peak";
    flame.inverted = false;
    document.getElementById("invert").checked = false;
    showFlame();
  }

  /* ---- tables ----------------------------------------------------------- */

  const table = { view: "peak", group: "line", key: "bytes", descending: true };

  function renderTable() {
    const rows = data.tables[table.view][table.group].map((r) => {
      const f = frames[r[0]];
      const where = table.group === "file" ? f[1] : table.group === "function" || !f[2]
        ? f[0] + "  " + f[1] : f[0] + "  " + f[1] + ":" + f[2];
      return { where: where, bytes: r[1], count: r[2] };
    });
    const total = data.tables[table.view].line.reduce((s, r) => s + r[1], 0);
    rows.sort((a, b) => {
      const c = table.key === "where" ? a.where.localeCompare(b.where) : a[table.key] - b[table.key];
      return table.descending ? -c : c;
    });
    const t = document.getElementById("table");
    t.textContent = "";
    const head = el("tr");
    for (const [key, label, cls] of [["where", "Location", ""], ["bytes", "Bytes", "num"],
      ["bytes", "%", "num"], ["count", "Allocations", "num"]]) {
      const th = el("th", { className: cls }, label + (table.key === key && label !== "%" ?
        (table.descending ? " \u25be" : " \u25b4") : ""));
      th.dataset.key = key;
      th.addEventListener("click", () => {
        table.descending = table.key === key ? !table.descending : key !== "where";
        table.key = key;
        renderTable();
      });
      head.append(th);
    }
    t.append(head);
    for (const r of rows) {
      const tr = el("tr");
      tr.append(el("td", { className: "loc" }, r.where), el("td", { className: "num" }, bytes(r.bytes)),
        el("td", { className: "num" }, percent(r.bytes, total)),
        el("td", { className: "num" }, count(r.count)));
      t.append(tr);
    }
  }

  /* ---- children --------------------------------------------------------- */

  function renderChildren() {
    const kids = data.children || [];
    if (data.parent_pid) {
      document.getElementById("command").append(el("span", { className: "parent" },
        "  child of pid " + data.parent_pid +
        (data.parent_capture ? " (capture " + data.parent_capture + ")" : "")));
    }
    if (!kids.length) return;
    document.getElementById("children-section").hidden = false;
    const t = document.getElementById("children");
    const head = el("tr");
    for (const [label, cls] of [["pid", "num"], ["started", "num"], ["command", ""],
      ["peak heap", "num"], ["capture", ""]]) {
      head.append(el("th", { className: cls }, label));
    }
    t.append(head);
    for (const c of kids) {
      const capture = c.capture === null ? "none (not a Python program)" :
        c.capture_found ? c.capture : "missing: " + c.capture;
      const tr = el("tr");
      tr.append(el("td", { className: "num" }, String(c.pid)),
        el("td", { className: "num" }, c.time_s.toFixed(3) + " s"),
        el("td", { className: "loc" }, c.command.join(" ")),
        el("td", { className: "num" }, c.peak_bytes === null ? "" : bytes(c.peak_bytes)),
        el("td", { className: "loc" }, capture));
      t.append(tr);
    }
    if (data.children_total > kids.length) {
      const tr = el("tr");
      tr.append(el("td", { colSpan: 5 }, (data.children_total - kids.length) + " more " +
        "(memscope stats --json lists them)"));
      t.append(tr);
    }
  }

  function tabs(boxId, options, state, key) {
    const box = document.getElementById(boxId);
    for (const [value, label] of options) {
      const b = el("button", { type: "button", className: "tab" }, label);
      b.addEventListener("click", () => {
        state[key] = value;
        for (const o of box.children) o.classList.toggle("active", o === b);
        renderTable();
      });
      if (state[key] === value) b.classList.add("active");
      box.append(b);
    }
  }

  /* ---- advice ----------------------------------------------------------- */

  const SAVES = { held: "held", peak: "off the peak", allocated: "of allocation" };

  function renderAdvice() {
    const advice = data.advice || [];
    document.getElementById("advice-section").hidden = advice.length === 0;
    const list = document.getElementById("advice");
    for (const a of advice) {
      const item = el("li", { className: "advice" });
      item.dataset.rule = a.rule;
      item.append(el("strong", {}, a.title),
        el("span", { className: "saving" }, "  saves " + bytes(a.bytes_saved) + " " +
          (SAVES[a.measure] || a.measure)),
        el("p", {}, "Why: " + a.evidence), el("p", {}, "Change: " + a.change));
      if (a.where) item.append(el("p", { className: "loc" }, a.where));
      list.append(item);
    }
  }

  /* ---- page ------------------------------------------------------------- */

  renderSummary();
  renderViewButtons();
  if (data.kind === "report") {
    renderTimeline();
    tabs("table-views", [["peak", "at peak"], ["exit", "at exit"], ["total", "in total"]], table, "view");
    tabs("table-groups", [["line", "by line"], ["function", "by function"], ["file", "by file"]], table, "group");
    renderTable();
    renderAdvice();
    renderChildren();
  } else {
    document.getElementById("timeline-section").hidden = true;
    document.getElementById("tables-section").hidden = true;
  }
  showFlame();
})();
