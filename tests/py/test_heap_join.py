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
    assert "held by __main__.Cache" in lines[held + 2] and cache in lines[held + 2]


def test_without_recording_no_site(tmp_path):
    out = retained(tmp_path, record=False)
    assert "__main__.Item objects held by dict" in out
    assert "allocated at" not in out
