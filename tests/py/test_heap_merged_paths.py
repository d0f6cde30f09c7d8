"""memscope heap FILE --path-to TYPE: after the one path, the paths of all
the type's instances merged (Eclipse MAT's "merge shortest paths to GC
roots"), checked against what the program built and what the running
process itself measures (sys.getsizeof, memscope.retained_size)."""
import json
import os
import subprocess
import sys
import textwrap

from conftest import ROOT, memscope

PROGRAM = '''
import json, sys, tracemalloc, memscope

class Record:
    def __init__(self, i):
        self.i = i

class Session:
    def __init__(self):
        self.records = [Record(i) for i in range(50)]

registry = {f"id{i}": Record(1000 + i) for i in range(1000)}
sessions = [Session() for _ in range(20)]
loose = Record(-1)


def retained_by_records(first):
    """What 1000 records built like the registry's give back when dropped,
    the list's own storage kept: tracemalloc's exact count."""
    tracemalloc.start()
    twin = [Record(first + i) for i in range(1000)]
    before = tracemalloc.get_traced_memory()[0]
    for k in range(len(twin)):
        twin[k] = None
    freed = before - tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return freed


# Each registry record alone holds its int (above the small-int cache).
facts = {"size": sys.getsizeof(loose), "registry_retained": retained_by_records(1000)}
memscope.dump_heap(sys.argv[1])
print(json.dumps(facts))
'''


def snapshot(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent(PROGRAM))
    out = tmp_path / "snap.heap"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    proc = subprocess.run([sys.executable, str(script), str(out)], check=True, env=env,
                          capture_output=True, text=True)
    return out, json.loads(proc.stdout)


def test_instances_grouped_by_the_chain_that_holds_them(tmp_path):
    snap, facts = snapshot(tmp_path)
    text = memscope("heap", snap, "--path-to", "Record").stdout
    merged = text.split("\n\n")[1].splitlines()
    assert merged[0] == "All 2001 __main__.Record objects, by the path that holds them (3 paths):"
    rows = [line.split() for line in merged[2:]]
    assert [(r[0], r[4]) for r in rows] == [
        ("1000", "sys.modules['__main__'].__dict__['registry'][*]"),
        ("1000", "sys.modules['__main__'].__dict__['sessions'][*].__dict__['records'][*]"),
        ("1", "sys.modules['__main__'].__dict__['loose']")]
    assert [int(r[2]) for r in rows] == [1000 * facts["size"], 1000 * facts["size"],
                                         facts["size"]]
    # The registry's records retain their own big ints and attribute values
    # too: what the walker computes is what tracemalloc sees freed, within
    # the few bytes per object by which a computed size can differ from the
    # allocator's request.
    assert abs(int(rows[0][3]) - facts["registry_retained"]) <= 0.05 * facts["registry_retained"]


def test_merged_paths_in_json_and_limited(tmp_path):
    snap, facts = snapshot(tmp_path)
    data = json.loads(memscope("heap", snap, "--path-to", "Record", "--json", "--limit", "1")
                      .stdout)
    assert data["total_paths"] == 3
    [group] = data["merged"]
    text = memscope("heap", snap, "--path-to", "Record").stdout
    assert group == {"count": 1000, "bytes": 1000 * facts["size"],
                     "retained_bytes": int(text.split("\n\n")[1].splitlines()[2].split()[3]),
                     "path": "sys.modules['__main__'].__dict__['registry'][*]"}
    limited = memscope("heap", snap, "--path-to", "Record", "--limit", "1").stdout
    assert limited.rstrip().endswith("... 2 more (use --limit)")


def test_an_id_gets_its_path_only(tmp_path):
    snap, _ = snapshot(tmp_path)
    ident = json.loads(memscope("heap", snap, "--path-to", "Record", "--json").stdout)["target"]["id"]
    data = json.loads(memscope("heap", snap, "--path-to", str(ident), "--json").stdout)
    assert "merged" not in data
    assert "All " not in memscope("heap", snap, "--path-to", str(ident)).stdout
