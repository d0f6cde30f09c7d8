"""memscope heap FILE --export heapsnapshot: the Chrome DevTools JSON
layout holds (field counts, to_node offsets, string indexes, node and edge
counts) and names what the program built."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT, memscope as cli

PROGRAM = '''
import sys, memscope
class Session:
    def __init__(self, i):
        self.token = "tok" + str(i)
raw = [b"\\xff\\xfe\\x00\\"bad utf-8", "caf\\u00e9 \\u2603 \\n\\t"]
sessions = [Session(i) for i in range(50)]
print(memscope.dump_heap(sys.argv[1]))
'''


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    script = tmp / "prog.py"
    script.write_text(textwrap.dedent(PROGRAM))
    snap = tmp / "snap.heap"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    objects = int(subprocess.run([sys.executable, str(script), str(snap)], check=True, env=env,
                                 capture_output=True, text=True).stdout)
    out = tmp / "snap.heapsnapshot"
    cli("heap", snap, "--export", "heapsnapshot", "-o", out)
    with open(out, encoding="utf-8") as f:        # strict UTF-8: must decode
        return json.load(f), objects


def test_layout(exported):
    data, objects = exported
    meta = data["snapshot"]["meta"]
    nf, ef = len(meta["node_fields"]), len(meta["edge_fields"])
    assert meta["node_fields"][:6] == ["type", "name", "id", "self_size", "edge_count",
                                       "trace_node_id"]
    assert meta["edge_fields"] == ["type", "name_or_index", "to_node"]
    assert len(meta["node_types"]) == nf and len(meta["edge_types"]) == ef
    nodes, edges, strings = data["nodes"], data["edges"], data["strings"]
    assert len(nodes) == data["snapshot"]["node_count"] * nf
    assert len(edges) == data["snapshot"]["edge_count"] * ef
    node_types, edge_types = meta["node_types"][0], meta["edge_types"][0]
    assert sum(nodes[i + 4] for i in range(0, len(nodes), nf)) == len(edges) // ef
    ids = set()
    for i in range(0, len(nodes), nf):
        assert 0 <= nodes[i] < len(node_types)
        assert 0 <= nodes[i + 1] < len(strings)
        ids.add(nodes[i + 2])
    assert len(ids) == len(nodes) // nf
    for i in range(0, len(edges), ef):
        kind = edge_types[edges[i]]
        assert edges[i + 2] % nf == 0 and 0 <= edges[i + 2] < len(nodes)
        if kind not in ("element", "hidden"):
            assert 0 <= edges[i + 1] < len(strings)
    # every object of the snapshot is a node; the rest (hidden) are the root,
    # frames and instances' inline attribute values
    objects_seen = sum(1 for i in range(nf, len(nodes), nf) if node_types[nodes[i]] != "hidden")
    assert objects_seen == objects


def test_names_what_the_program_built(exported):
    data, _ = exported
    meta = data["snapshot"]["meta"]
    nf = len(meta["node_fields"])
    nodes, edges, strings = data["nodes"], data["edges"], data["strings"]
    names = [strings[nodes[i + 1]] for i in range(0, len(nodes), nf)]
    assert names.count("__main__.Session") == 50
    assert "tok7" in names
    assert any(s.startswith("\ufffd\ufffd\x00\"bad") for s in strings)
    assert "caf\u00e9 \u2603 \n\t" in names
    # a Session's attribute edge: property "token" to the str node "tok..."
    first = [0]
    for i in range(0, len(nodes), nf):
        first.append(first[-1] + nodes[i + 4])
    session = names.index("__main__.Session")
    out = edges[first[session] * 3: first[session + 1] * 3]
    kinds = meta["edge_types"][0]
    named = {(kinds[out[k]], strings[out[k + 1]] if kinds[out[k]] != "element" else out[k + 1])
             for k in range(0, len(out), 3)}
    assert ("internal", "__dict__") in named


def test_export_usage_errors(tmp_path, exported):
    snap = tmp_path / "none.heap"
    proc = cli("heap", snap, "--export", "heapsnapshot", check=False)
    assert proc.returncode == 2 and "needs -o" in proc.stderr
    proc = cli("heap", snap, "--export", "hprof", "-o", tmp_path / "x", check=False)
    assert proc.returncode == 2 and "--export wants heapsnapshot" in proc.stderr
