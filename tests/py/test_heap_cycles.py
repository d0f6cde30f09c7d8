"""Reference cycles: the seeds' parent/child Node, whose child.parent makes
a cycle that only the collector frees, is found with Node.parent as the
reference to weaken; the seeds' fix (weakref.ref) leaves no cycle."""
import gc
import json
import os
import subprocess
import sys
import textwrap

import memscope
from conftest import ROOT, memscope as cli

NODE = '''
import weakref

class Node:
    def __init__(self, value):
        self.value = value
        self.parent = None
        self.children = []

    def add_child(self, child):
        child.parent = {parent}
        self.children.append(child)
'''


def make_node_class(parent):
    namespace = {"__name__": "seedtree"}
    exec(NODE.format(parent=parent), namespace)
    return namespace["Node"]


def test_parent_child_cycle_names_the_edge_to_weaken():
    Node = make_node_class("self")
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(20):
            root = Node(1)
            for _ in range(3):
                root.add_child(Node(2))
        del root
        report = memscope.cycles(file=None)
        group = next(g for g in report["groups"] if "seedtree.Node" in g["kinds"])
        assert group["cycles"] == 20
        assert group["weaken"] == "seedtree.Node.parent"
        assert group["weaken_refs"] == 3 and group["weakrefable"]
        assert group["kinds"].split(", ").count("seedtree.Node") == 1
        # what the collector frees agrees: 4 Nodes and 4 lists per tree
        tracked = gc.collect()
        assert tracked >= 20 * 8
    finally:
        if was_enabled:
            gc.enable()


def test_weakref_parent_leaves_no_cycle():
    Node = make_node_class("weakref.ref(self)")
    gc.collect()
    root = Node(1)
    root.add_child(Node(2))
    del root
    report = memscope.cycles(file=None)
    assert not any("seedtree.Node" in g["kinds"] for g in report["groups"])


def test_cli_cycles_on_a_snapshot(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent('''
        import gc, sys, memscope
        gc.disable()
    ''') + NODE.format(parent="self") + textwrap.dedent('''
        root = Node(1)
        root.add_child(Node(2))
        del root
        memscope.dump_heap(sys.argv[1])
    '''))
    snap = tmp_path / "cyc.heap"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    subprocess.run([sys.executable, str(script), str(snap)], check=True, env=env)
    out = cli("heap", snap, "--cycles").stdout
    assert "in 1 reference cycle." in out
    assert "list, __main__.Node, dict of __main__.Node" in out
    assert "make __main__.Node.parent a weak reference" in out


def test_cycles_name_where_their_objects_were_allocated(tmp_path):
    """While recording, each cycle group says where most of its objects were
    allocated, in process and in a snapshot's --cycles."""
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent('''
        import gc, json, sys, memscope
        gc.disable()
    ''') + NODE.format(parent="self") + textwrap.dedent('''
        def grow():
            for _ in range(20):
                root = Node(1)
                for _ in range(3):
                    root.add_child(Node(2))          # CHILD
        with memscope.Tracker(sys.argv[2]):
            grow()
            memscope.dump_heap(sys.argv[1])
            groups = memscope.cycles(file=None)["groups"]
            print(json.dumps(next(g for g in groups if "Node" in g["kinds"])))
    '''))
    child_line = next(n for n, t in enumerate(script.read_text().splitlines(), 1) if "# CHILD" in t)
    snap = tmp_path / "cyc.heap"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    proc = subprocess.run([sys.executable, str(script), str(snap), str(tmp_path / "run.msc")],
                          check=True, env=env, capture_output=True, text=True)
    group = json.loads(proc.stdout)
    site = f"{script}:{child_line} in grow"
    # 60 of the 80 Nodes are children; their lists and dicts were made there too
    assert group["site"] == site and group["site_count"] >= 60
    out = cli("heap", snap, "--cycles").stdout
    assert f"of them allocated at {site}" in out
    doc = json.loads(cli("heap", snap, "--cycles", "--json").stdout)
    assert doc["groups"][0]["site"] == site and doc["groups"][0]["site_count"] >= 60
