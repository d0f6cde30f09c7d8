#!/usr/bin/env python3
"""The layering of the C headers, checked on every `make test-c`.

Dependencies run one way: src/ uses include/memscope/, never the reverse,
and inside include/memscope/ the report layer (the writers that render an
analysis) sits above everything else. This script fails, naming the file and
the line, when

  * a public header includes anything but a system header or another
    public header ("memscope/x.h" that exists);
  * the public headers include each other in a cycle;
  * a core header (any public header but the report ones) or a file of
    src/core includes a report header, directly or through another header;
  * a file of src/core includes something from src/report, src/python or
    src/cli.

    python3 scripts/check_headers.py      # from the repository's root
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PUBLIC = os.path.join(ROOT, "include", "memscope")
CORE = os.path.join(ROOT, "src", "core")

# The report layer: writers that render analyses for people and programs.
REPORT = {"report.h", "html.h", "export.h", "heapreport.h"}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def includes(path):
    """(line number, delimiter, name) of every #include in path."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if m:
                yield number, m.group(1), m.group(2)


def public_graph(errors):
    """Each public header's public includes; bad includes go to errors."""
    graph = {}
    for name in sorted(os.listdir(PUBLIC)):
        if not name.endswith(".h"):
            continue
        path = os.path.join(PUBLIC, name)
        graph[name] = []
        for number, delim, inc in includes(path):
            if delim == "<":
                continue
            target = inc[len("memscope/"):] if inc.startswith("memscope/") else None
            if target is None or not os.path.exists(os.path.join(PUBLIC, target)):
                errors.append(f"include/memscope/{name}:{number}: includes \"{inc}\", "
                              "which is not a public header")
                continue
            graph[name].append((number, target))
    return graph


def find_cycle(graph):
    """One include cycle as a list of headers, or None."""
    state = {}

    def visit(node, trail):
        state[node] = "open"
        for _, nxt in graph.get(node, []):
            if state.get(nxt) == "open":
                return trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt]
            if nxt not in state:
                found = visit(nxt, trail + [nxt])
                if found:
                    return found
        state[node] = "done"
        return None

    for node in graph:
        if node not in state:
            found = visit(node, [node])
            if found:
                return found
    return None


def reaches_report(graph, start):
    """The first report header reachable from start's includes, as a chain."""
    seen = set()
    todo = [[start]]
    while todo:
        chain = todo.pop(0)
        for _, nxt in graph.get(chain[-1], []):
            if nxt in REPORT:
                return chain + [nxt]
            if nxt not in seen:
                seen.add(nxt)
                todo.append(chain + [nxt])
    return None


def check_core_sources(graph, errors):
    """src/core includes no report header and nothing from the layers above."""
    for name in sorted(os.listdir(CORE)):
        if not name.endswith((".c", ".h")):
            continue
        for number, delim, inc in includes(os.path.join(CORE, name)):
            if delim == "<":
                continue
            where = f"src/core/{name}:{number}"
            if inc.startswith(("../", "report/", "python/", "cli/")) or "/src/" in inc:
                errors.append(f"{where}: includes \"{inc}\" from a layer above core")
            elif inc.startswith("memscope/"):
                target = inc[len("memscope/"):]
                chain = [target] if target in REPORT else reaches_report(graph, target)
                if chain:
                    errors.append(f"{where}: includes the report layer: " + " -> ".join(chain))


def main():
    errors = []
    graph = public_graph(errors)
    cycle = find_cycle(graph)
    if cycle:
        errors.append("include/memscope: include cycle: " + " -> ".join(cycle))
    for name in sorted(graph):
        if name in REPORT:
            continue
        chain = reaches_report(graph, name)
        if chain:
            errors.append(f"include/memscope/{name}: a core header reaches the report layer: "
                          + " -> ".join(chain))
    check_core_sources(graph, errors)
    for e in errors:
        print("check_headers: " + e, file=sys.stderr)
    if errors:
        return 1
    print(f"check_headers: {len(graph)} public headers, layers and include graph ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
