"""Who allocated it joined with who holds it: a snapshot taken while the
allocation recorder runs names, under each leak suspect of `memscope heap
--retained`, the line that allocated it; without recording nothing changes."""
import os
import subprocess
import sys
import textwrap

from conftest import _TREE, memscope

PROGRAM = '''
import sys, memscope

class Item:
    def __init__(self, i):
        self.payload = "x" * 200 + str(i)

class Cache:
    def __init__(self):
        self.items = {}

def build():
    cache = Cache()                      # CACHE
    for i in range(20000):
        cache.items[i] = Item(i)         # ITEMS
    return cache

def main():
    global cache
    cache = build()
    memscope.dump_heap(sys.argv[1])

if len(sys.argv) > 2:
    with memscope.Tracker(sys.argv[2]):
        main()
else:
    main()
'''


def line_of(marker):
    for n, text in enumerate(textwrap.dedent(PROGRAM).splitlines(), 1):
        if marker in text:
            return n
    raise AssertionError(marker)


def retained(tmp_path, record):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent(PROGRAM))
    snap = tmp_path / "snap.heap"
    args = [sys.executable, str(script), str(snap)] + ([str(tmp_path / "run.msc")] if record else [])
    env = dict(os.environ, PYTHONPATH=str(_TREE / "python"))
    subprocess.run(args, check=True, env=env)
    return memscope("heap", snap, "--retained", "--limit", "5").stdout


def test_suspects_carry_path_and_allocation_site(tmp_path):
    out = retained(tmp_path, record=True)
    suspects = out.split("Types retaining the most")[0]
    items = f"prog.py:{line_of('# ITEMS')} in build"
    cache = f"prog.py:{line_of('# CACHE')} in build"
    lines = suspects.splitlines()
    group = next(i for i, l in enumerate(lines) if "__main__.Item objects held by dict" in l)
    assert "['cache'].__dict__['items']" in lines[group + 1]
    assert "20000 of them allocated at" in lines[group + 2] and items in lines[group + 2]
    held = next(i for i, l in enumerate(lines) if l.strip().startswith("1. dict at"))
    assert "['cache'].__dict__['items']" in lines[held + 1]
    # The dict's own site is where its hash table last grew; its holder's
    # site is where the cache was made.
    assert lines[held + 2].strip() == f"storage allocated at {tmp_path / items}"
    assert "held by __main__.Cache" in lines[held + 3] and cache in lines[held + 3]


def test_without_recording_no_site(tmp_path):
    out = retained(tmp_path, record=False)
    assert "__main__.Item objects held by dict" in out
    assert "allocated at" not in out


LIST_PROGRAM = '''
import sys, memscope

def fill(log):
    for i in range(30000):
        log.append("entry %d " % i + "y" * 300)   # APPEND

log = []                                          # LIST
with memscope.Tracker(sys.argv[2]):
    fill(log)
    memscope.dump_heap(sys.argv[1])
'''


def test_list_suspect_names_where_it_grew(tmp_path):
    script = tmp_path / "grow.py"
    script.write_text(textwrap.dedent(LIST_PROGRAM))
    snap = tmp_path / "snap.heap"
    env = dict(os.environ, PYTHONPATH=str(_TREE / "python"))
    subprocess.run([sys.executable, str(script), str(snap), str(tmp_path / "run.msc")],
                   check=True, env=env)
    lines = memscope("heap", snap, "--retained", "--limit", "5").stdout.splitlines()
    held = next(i for i, l in enumerate(lines) if l.strip().startswith("1. list at"))
    append = next(n for n, t in enumerate(textwrap.dedent(LIST_PROGRAM).splitlines(), 1)
                  if "# APPEND" in t)
    assert "'log'" in lines[held + 1]
    assert lines[held + 2].strip() == f"storage allocated at {script}:{append} in fill"
