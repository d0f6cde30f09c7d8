"""Memory held for nothing: `memscope heap FILE --duplicates` and `--empty`
and their in-process twins, against what the program knows it built and
what sys.getsizeof says those objects cost."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

import memscope
from conftest import ROOT, memscope as cli

# The program prints its own ground truth (sizes from sys.getsizeof) as JSON
# after the snapshot, so the snapshot does not hold the truth's objects.
PROGRAM = '''
import gc, json, sys, memscope

parts = [chr(97 + i % 26) for i in range(100)]
strs = ["".join(parts) for _ in range(1000)]        # 1000 equal 100-char strs, built at run time
same = [strs[0]] * 300                              # more references to one copy: not copies
blobs = [bytes(range(7, 77)) for _ in range(500)]   # 500 equal 70-byte bytes
interned = [sys.intern("".join(parts[:30])) for _ in range(1000)]  # one object, 1000 references

class Lazy:                                         # attributes never set: inline values only
    pass

class Touched:                                      # dict made real by reading __dict__
    pass

lazies = [Lazy() for _ in range(10_000)]
touched = [Touched() for _ in range(10_000)]
touched_bytes = sum(sys.getsizeof(t.__dict__) for t in touched)
lists = [[] for _ in range(5_000)]
presized = [None] * 1000
del presized[:]                                     # CPython frees the slots: an empty list
popped = {i: i for i in range(1000)}                # grew, then emptied by pops
for i in range(1000):
    popped.pop(i)
sparse = {str(i): i for i in range(1000)}           # grew, then 990 of 1000 popped
for i in range(990):
    sparse.pop(str(i))

from collections import Counter, defaultdict
groups = defaultdict(list)                          # a dict subclass: grew, then emptied
for i in range(1000):
    groups[i].append(i)
for i in range(1000):
    del groups[i]
counters = [Counter() for _ in range(2_000)]        # empty dict subclass instances

gc.collect()
gc.disable()
empty_lists = [o for o in gc.get_objects() if type(o) is list and not o]
truth = {
    "str_size": sys.getsizeof(strs[0]), "bytes_size": sys.getsizeof(blobs[0]),
    "interned": interned[0], "touched_bytes": touched_bytes,
    "empty_lists": len(empty_lists), "empty_list_bytes": sum(map(sys.getsizeof, empty_lists)),
    "presized_bytes": sys.getsizeof(presized),
    "popped_id": id(popped), "popped_bytes": sys.getsizeof(popped),
    "popped_saving": sys.getsizeof(popped) - sys.getsizeof(dict(popped)),
    "sparse_bytes": sys.getsizeof(sparse),
    "sparse_saving": sys.getsizeof(sparse) - sys.getsizeof(dict(sparse)),
    "groups_saving": sys.getsizeof(groups) - sys.getsizeof(defaultdict(list, groups)),
    "counter_bytes": sum(map(sys.getsizeof, counters)),
}
del empty_lists
memscope.dump_heap(sys.argv[1])
print(json.dumps(truth))
'''


@pytest.fixture(scope="module")
def snap(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("waste")
    script = tmp / "prog.py"
    script.write_text(textwrap.dedent(PROGRAM))
    out = tmp / "waste.heap"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    proc = subprocess.run([sys.executable, str(script), str(out)], check=True, env=env,
                          capture_output=True, text=True)
    return out, json.loads(proc.stdout)


def rows_of(text, first_column):
    """Table rows of the CLI's text, from the header line on, split into words."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [first_column])
    return [line.split() for line in lines[start + 1:]
            if line.strip() and line[:10].strip()[:1].isdigit()]


def test_duplicates_names_the_string_and_its_exact_waste(snap):
    path, truth = snap
    out = cli("heap", path, "--duplicates", "--limit", "5").stdout
    top = out.splitlines()[3]
    assert top.split()[:1] == ["1,000"]
    assert "'abcdefghijklmnopqrstuvwxyzabcdefghijklmn'" in top   # its first 40 bytes
    data = json.loads(cli("heap", path, "--duplicates", "--json").stdout)
    row = next(r for r in data["rows"] if r["preview"].startswith("abcdefghij"))
    assert row["type"] == "str" and row["copies"] == 1000
    assert row["bytes_each"] == truth["str_size"]
    assert row["wasted_bytes"] == 999 * truth["str_size"]
    blob = next(r for r in data["rows"] if r["type"] == "bytes" and r["preview"].startswith("\x07"))
    assert blob["copies"] == 500
    assert blob["bytes_each"] == truth["bytes_size"]
    assert blob["wasted_bytes"] == 499 * truth["bytes_size"]
    assert "sys.intern() or a dict of canonical values would save" in out


def test_references_to_one_object_are_not_copies(snap):
    path, truth = snap
    data = json.loads(cli("heap", path, "--duplicates", "--json").stdout)
    assert not any(r["preview"] == truth["interned"] for r in data["rows"])
    # strs[0] is referenced 301 times but is one of the 1000 copies, no more.
    assert sum(r["copies"] for r in data["rows"] if r["preview"].startswith("abcdefghij")) == 1000


def test_empty_instance_dicts_and_lists_counted_exactly(snap):
    path, truth = snap
    data = json.loads(cli("heap", path, "--empty", "--json", "--limit", "0").stdout)
    rows = {r["kind"]: r for r in data["rows"]}
    assert rows["dict of __main__.Touched"]["empty"] == 10_000
    assert rows["dict of __main__.Touched"]["empty_bytes"] == truth["touched_bytes"]
    assert rows["dict of __main__.Touched"]["saving_bytes"] == truth["touched_bytes"]
    assert rows["dict of __main__.Lazy"]["empty"] == 10_000
    # Every empty list in the process, the 5000 and `presized` among them.
    assert rows["list"]["empty"] == truth["empty_lists"] >= 5001
    assert rows["list"]["empty_bytes"] == truth["empty_list_bytes"]
    assert truth["presized_bytes"] == 56 and rows["list"]["mostly_empty"] == 0


def test_dicts_that_shrank_are_mostly_empty(snap):
    path, truth = snap
    data = json.loads(cli("heap", path, "--empty", "--json", "--limit", "0").stdout)
    row = next(r for r in data["rows"] if r["kind"] == "dict (no owner)")
    assert row["example"]["id"] == truth["popped_id"]      # the one that saves the most
    assert row["mostly_empty"] >= 2
    assert row["mostly_empty_bytes"] >= truth["popped_bytes"] + truth["sparse_bytes"]
    assert row["saving_bytes"] >= truth["popped_saving"] + truth["sparse_saving"]


def test_dict_subclasses_are_looked_at_too(snap):
    path, truth = snap
    data = json.loads(cli("heap", path, "--empty", "--json", "--limit", "0").stdout)
    rows = {r["kind"]: r for r in data["rows"]}
    assert rows["collections.Counter"]["empty"] == 2_000
    assert rows["collections.Counter"]["empty_bytes"] == truth["counter_bytes"]
    groups = rows["collections.defaultdict"]
    # The emptied one, plus whatever empty defaultdicts the interpreter holds
    # (an empty one saves all its bytes).
    assert groups["mostly_empty"] == 1 and truth["groups_saving"] > 0
    assert groups["saving_bytes"] == truth["groups_saving"] + groups["empty_bytes"]


def test_empty_text_gives_advice(snap):
    path, _ = snap
    out = cli("heap", path, "--empty").stdout
    assert "10,000 empty dict of __main__.Touched: add __slots__ to __main__.Touched or " \
           "create the dict lazily" in out
    row = next(r for r in rows_of(out, "Empty") if r[8:] == ["dict", "(no", "owner)"])
    assert int(row[3].replace(",", "")) >= 2     # the mostly empty column
    assert out.rstrip().splitlines()[-1].startswith("Not creating the empty ones and "
                                                    "right-sizing the others would save ")


def test_help_lists_the_reports():
    out = cli("heap", "--help").stdout
    lines = out.splitlines()
    assert "memscope heap FILE --duplicates [--limit N] [--json]" in out
    assert "memscope heap FILE --empty [--limit N] [--json]" in out
    for option in ["--duplicates", "--empty", "--graph X", "--json"]:
        assert any(line.startswith(f"  {option} ") for line in lines), option
    assert "  memscope heap app.heap --duplicates --limit 10" in lines
    assert all(len(line) <= 80 for line in lines)


def test_old_snapshots_say_what_is_missing(tmp_path):
    data = bytearray((ROOT / "fuzz" / "seeds" / "heap-small.mh").read_bytes())
    old = tmp_path / "old.heap"
    old.write_bytes(bytes(data))
    proc = cli("heap", old, "--duplicates", check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"memscope: '{old}' records no string digests")


def test_in_process_duplicates():
    parts = ["dup", "licate", "-", "me"] * 10
    held = ["".join(parts) for _ in range(300)]
    rows = memscope.duplicates(limit=None, file=None)
    row = next(r for r in rows if r.preview == "".join(parts)[:40])
    assert row.copies == 300
    assert row.size == sys.getsizeof(held[0]) and row.wasted == 299 * row.size
    assert any(id(s) == row.example_id for s in held)


def test_in_process_empty_containers(capsys):
    class Holder:
        def __init__(self):
            self.items = []
            self.tags = {}
    holders = [Holder() for _ in range(2000)]
    rows = memscope.empty_containers(limit=None)
    assert capsys.readouterr().out.startswith("Containers: ")
    by_kind = {r.kind: r for r in rows}
    assert by_kind["list"].empty >= 2000
    assert by_kind["dict (no owner)"].empty >= 2000
    assert by_kind["dict (no owner)"].empty_bytes >= 2000 * sys.getsizeof(holders[0].tags)
    assert holders
