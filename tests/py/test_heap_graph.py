"""Graphviz pictures of the heap (objgraph's show_refs / show_backrefs):
the DOT names the expected edges, escapes program data in labels, and
Graphviz's dot renders it, from a snapshot file and in process."""
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

import memscope
from conftest import ROOT, memscope as cli

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot not installed")

PROGRAM = '''
import sys, types, memscope
mod = types.ModuleType("appmod")
sys.modules["appmod"] = mod

class Session:
    def __init__(self, i):
        self.token = 'tok"en\\\\' + str(i) + '\\n}'

mod.registry = [Session(i) for i in range(3)]
memscope.dump_heap(sys.argv[1])
'''


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("graph")
    script = tmp / "prog.py"
    script.write_text(textwrap.dedent(PROGRAM))
    snap = tmp / "snap.heap"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    subprocess.run([sys.executable, str(script), str(snap)], check=True, env=env)
    return snap


def edges(dot):
    """{(from label's first line, edge label, to label's first line)}."""
    names = {m[0]: m[1].split("\\n")[0]
             for m in re.findall(r'^  (n\d+) \[label="((?:[^"\\]|\\.)*)"', dot, re.M)}
    return {(names[a], label, names[b])
            for a, b, label in re.findall(r'^  (n\d+) -> (n\d+) \[label="((?:[^"\\]|\\.)*)"\]',
                                          dot, re.M)}


def test_backrefs_dot_names_the_chain(snapshot, tmp_path):
    out = tmp_path / "back.dot"
    cli("heap", snapshot, "--graph", "Session", "--backrefs", "-o", out)
    found = edges(out.read_text())
    assert ("list", "[0]", "__main__.Session") in found
    assert ("dict", "['registry']", "list") in found
    assert ("module", ".__dict__", "dict") in found


def test_refs_dot_escapes_labels(snapshot, tmp_path):
    out = tmp_path / "refs.dot"
    cli("heap", snapshot, "--graph", "Session", "--depth", "2", "-o", out)
    dot = out.read_text()
    assert ("__main__.Session", ".__dict__", "dict") in edges(dot)
    assert ("dict", "['token']", "str") in edges(dot)
    # the str preview: quote and backslash escaped, the newline shown as \x0a
    assert r"'tok\"en\\0\\x0a}'" in dot
    assert "\n}" not in dot.replace("\n}\n", "")


@needs_dot
@pytest.mark.parametrize("ext", ["svg", "png"])
def test_dot_renders(snapshot, tmp_path, ext):
    out = tmp_path / f"pic.{ext}"
    cli("heap", snapshot, "--graph", "Session", "--backrefs", "-o", out)
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG") if ext == "png" else b"<svg" in data
    if ext == "svg":
        assert b"registry" in data


def test_graph_usage_errors(snapshot, tmp_path):
    proc = cli("heap", snapshot, "--graph", "Session", check=False)
    assert proc.returncode == 2 and "needs -o" in proc.stderr
    proc = cli("heap", snapshot, "--graph", "Session", "-o", tmp_path / "x.jpg", check=False)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1
    proc = cli("heap", snapshot, "--graph", "NoSuchType", "-o", tmp_path / "x.dot", check=False)
    assert proc.returncode == 2 and "no object of type 'NoSuchType'" in proc.stderr


class Leaf:
    pass


@needs_dot
def test_show_refs_in_process(tmp_path):
    holder = {"leaf": Leaf(), "name": 'a "quoted" name'}
    dot = tmp_path / "refs.dot"
    memscope.show_refs(holder, dot, max_depth=1)
    found = edges(dot.read_text())
    assert ("dict", "['leaf']", "test_heap_graph.Leaf") in found
    assert ("dict", "['name']", "str") in found
    svg = tmp_path / "refs.svg"
    assert memscope.show_refs(holder, svg) == str(svg)
    assert b"<svg" in svg.read_bytes()


def test_show_backrefs_in_process(tmp_path):
    leaf = Leaf()
    keep = [leaf]
    dot = tmp_path / "back.dot"
    memscope.show_backrefs(leaf, dot, max_depth=1)
    assert ("list", "[0]", "test_heap_graph.Leaf") in edges(dot.read_text())
    assert keep
    with pytest.raises(ValueError):
        memscope.show_refs(leaf, tmp_path / "x.gif")
