"""`memscope heap FILE ... --json` for every report: one JSON object whose
numbers are the text report's, and errors that stay one line, exit 2."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT, memscope as cli

PROGRAM = '''
import gc, sys, types, memscope
gc.disable()
mod = types.ModuleType("appmod")
sys.modules["appmod"] = mod

class Session:
    def __init__(self, i):
        self.token = "t" * 200 + str(i)
        self.tags = []

class Node:
    def __init__(self):
        self.parent = None
        self.children = []

mod.registry = [Session(i) for i in range(3000)]
mod.names = ["".join(["appmod", "-name"]) for _ in range(400)]
for _ in range(5):
    root, child = Node(), Node()
    child.parent = root
    root.children.append(child)
del root, child
memscope.dump_heap(sys.argv[1])
'''


def fmt(n):
    """msc_format_bytes in Python: what the text reports print for n bytes."""
    v, unit = float(n), 0
    while v >= 1024 and unit < 4:
        v, unit = v / 1024, unit + 1
    return f"{n} B" if unit == 0 else f"{v:.1f} {['B', 'KiB', 'MiB', 'GiB', 'TiB'][unit]}"


@pytest.fixture(scope="module")
def snaps(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("json")
    script = tmp / "prog.py"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    script.write_text("import sys, memscope\nmemscope.dump_heap(sys.argv[1])\n")
    old = tmp / "old.heap"
    subprocess.run([sys.executable, str(script), str(old)], check=True, env=env)
    script.write_text(textwrap.dedent(PROGRAM))
    new = tmp / "new.heap"
    subprocess.run([sys.executable, str(script), str(new)], check=True, env=env)
    return new, old


def both(*args):
    """(text, parsed JSON) of one report."""
    return cli("heap", *args).stdout, json.loads(cli("heap", *args, "--json").stdout)


def test_partition(snaps):
    text, data = both(snaps[0], "--by", "kind", "--limit", "8")
    assert text.splitlines()[0] == (f"Partition of a set of {data['total_count']} objects. "
                                    f"Total size = {data['total_bytes']} bytes.")
    table = [line.split() for line in text.splitlines()[2:10]]
    assert [(int(r[1]), int(r[3]), " ".join(r[7:])) for r in table] == \
        [(r["count"], r["bytes"], r["name"]) for r in data["rows"]]
    assert data["by"] == "kind" and len(data["rows"]) == 8 and data["total_rows"] > 8
    assert json.loads(cli("heap", snaps[0], "--by", "module", "--json").stdout)["by"] == "module"


def test_retained(snaps):
    text, data = both(snaps[0], "--retained", "--limit", "5")
    assert text.splitlines()[0] == f"Heap: {data['heap_bytes']} bytes in {data['nodes']} nodes."
    group = next(s for s in data["suspects"] if s["suspect"] == "group")
    assert group["count"] == 3000 and group["type"] == "__main__.Session"
    assert group["path"] == "sys.modules['appmod'].__dict__['registry']"
    assert (f"3000 __main__.Session objects held by list at {hex(group['holder']['id'])} retain "
            f"{group['retained_bytes']} bytes") in text
    types = text.split("Types retaining the most:\n")[1].split("\n\n")[0].splitlines()[1:]
    assert [(int(t.split()[0]), t.split()[3]) for t in types] == \
        [(t["retained_bytes"], t["type"]) for t in data["types"]]
    top = data["objects"][0]
    assert f"{top['retained_bytes']:12d}" in text and top["path"] in text


def test_path_to(snaps):
    text, data = both(snaps[0], "--path-to", "Session")
    assert data["reachable"] and text.splitlines()[0] == data["path"]
    assert [s["edge"] for s in data["steps"]] == ["sys.modules", "['appmod']", ".__dict__",
                                                  "['registry']", "[0]"]
    assert data["target"]["type"] == "__main__.Session"
    assert data["steps"][-1]["object"] == data["target"]
    by_id = json.loads(cli("heap", snaps[0], "--path-to", str(data["target"]["id"]),
                           "--json").stdout)
    assert by_id["path"] == data["path"]


def test_diff(snaps):
    new, old = snaps
    text, data = both(new, "--diff", old, "--limit", "6")
    assert text.splitlines()[0] == (f"Change: {data['count_delta']:+d} objects, "
                                    f"{data['bytes_delta']:+d} bytes.")
    rows = [line.split() for line in text.splitlines()[2:8]]
    assert [(int(r[0]), int(r[1]), int(r[2]), int(r[3]), " ".join(r[4:])) for r in rows] == \
        [(r["count"], r["count_delta"], r["bytes"], r["bytes_delta"], r["kind"])
         for r in data["rows"]]
    session = next(r for r in data["rows"] if r["kind"] == "__main__.Session")
    assert session["count_delta"] == 3000


def test_cycles(snaps):
    text, data = both(snaps[0], "--cycles")
    assert text.splitlines()[0] == (f"Garbage the collector would free: {data['garbage_objects']} "
                                    f"objects, {data['garbage_bytes']} bytes, in "
                                    f"{data['cycles']} reference cycles.")
    group = next(g for g in data["groups"] if "__main__.Node" in g["kinds"])
    assert group["cycles"] == 5 and group["weaken"] == "__main__.Node.parent"
    assert group["weakrefable"] is True
    assert group["example"]["type"] in ("__main__.Node", "list", "dict")
    row = f"{group['cycles']:8d} {group['objects']:9d} {group['bytes']:12d}  {group['kinds']}"
    assert row in text


def test_duplicates(snaps):
    text, data = both(snaps[0], "--duplicates", "--limit", "4")
    rows = [line for line in text.splitlines()[3:7]]
    for line, row in zip(rows, data["rows"]):
        assert line.split()[0] == f"{row['copies']:,}"
        sizes = f"{fmt(row['bytes_each']):>12} {fmt(row['wasted_bytes']):>12}"
        assert f"{sizes}  {row['type']:<6}" in line
    assert data["values"] > 4 and len(data["rows"]) == 4
    every = json.loads(cli("heap", snaps[0], "--duplicates", "--json", "--limit", "0").stdout)
    assert len(every["rows"]) == every["values"]
    assert any(r["preview"] == "appmod-name" and r["copies"] == 400 for r in every["rows"])
    assert text.splitlines()[0] == (f"Duplicate str and bytes: {data['values']:,} values held "
                                    f"{data['copies']:,} times; the copies beyond one each hold "
                                    f"{fmt(data['wasted_bytes'])}.")


def test_empty(snaps):
    text, data = both(snaps[0], "--empty", "--limit", "5")
    rows = {" ".join(line.split()[8:]): line.split() for line in text.splitlines()[3:8]}
    for row in data["rows"]:
        words = rows[row["kind"]]
        assert words[0] == f"{row['empty']:,}" and words[3] == f"{row['mostly_empty']:,}"
        assert " ".join(words[1:3]) == fmt(row["empty_bytes"])
        assert " ".join(words[6:8]) == fmt(row["saving_bytes"])
    tags = next(r for r in data["rows"] if r["kind"] == "list")
    assert tags["empty"] >= 3000
    assert text.splitlines()[-1].endswith(f" would save {fmt(data['saving_bytes'])}.")


@pytest.mark.parametrize("args", [["--graph", "Session", "-o", "x.svg"],
                                  ["--export", "heapsnapshot", "-o", "x.heapsnapshot"],
                                  ["--path-to", "NoSuchType"]])
def test_json_errors_are_one_line(snaps, args):
    proc = cli("heap", snaps[0], *args, "--json", check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("memscope: ") and len(proc.stderr.splitlines()) == 1
