"""memscope heap FILE: snapshots written by memscope.dump_heap in a child
process, read back by the CLI; checked against what the program built."""
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT, memscope

class Session:  # the program's class, to measure one here with sys.getsizeof
    def __init__(self, i):
        self.token = "t" * 200 + str(i)


LEAKY = '''
import sys, types, memscope
mod = types.ModuleType("leakymod")
sys.modules["leakymod"] = mod

class Session:
    def __init__(self, i):
        self.token = "t" * 200 + str(i)

mod.registry = [Session(i) for i in range(5000)]
memscope.dump_heap(sys.argv[1])
'''


def dump(tmp_path, source, name="snap.heap"):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent(source))
    out = tmp_path / name
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    subprocess.run([sys.executable, str(script), str(out)], check=True, env=env)
    return out


@pytest.fixture
def leaky(tmp_path):
    return dump(tmp_path, LEAKY)


def test_partition_table(leaky):
    out = memscope("heap", leaky, "--by", "kind", "--limit", "50").stdout
    lines = out.splitlines()
    assert lines[0].startswith("Partition of a set of ")
    rows = {" ".join(line.split()[7:]): line.split() for line in lines[2:] if line[:6].strip().isdigit()}
    assert rows["__main__.Session"][1] == "5000"
    assert int(rows["__main__.Session"][3]) == 5000 * sys.getsizeof(Session(0))
    assert "dict of __main__.Session" in out


def test_by_module_and_size(leaky):
    assert "__main__" in memscope("heap", leaky, "--by", "module").stdout
    assert "Size class" in memscope("heap", leaky, "--by", "size").stdout


def test_retained_names_the_suspect_and_its_path(leaky):
    out = memscope("heap", leaky, "--retained", "--limit", "5").stdout
    assert "5000 __main__.Session objects held by list" in out
    assert "sys.modules['leakymod'].__dict__['registry']" in out


def test_path_to_type_names_module_and_attribute(leaky):
    out = memscope("heap", leaky, "--path-to", "Session").stdout
    assert out.splitlines()[0] == "sys.modules['leakymod'].__dict__['registry'][0]"


def test_path_to_id(tmp_path):
    snap = dump(tmp_path, '''
        import sys, memscope
        holder = {"deep": [None, {"x": bytearray(10)}]}
        print(id(holder["deep"][1]["x"]))
        memscope.dump_heap(sys.argv[1], force=True)  # written twice: see below
    ''')
    # The id printed by the program finds the same object in the snapshot.
    script = tmp_path / "prog.py"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    ident = subprocess.run([sys.executable, str(script), str(snap)], env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    out = memscope("heap", snap, "--path-to", ident).stdout
    assert out.splitlines()[0].endswith("['holder']['deep'][1]['x']")
    assert "bytearray" in out


def test_diff_shows_growth(tmp_path):
    before = dump(tmp_path, '''
        import sys, memscope
        memscope.dump_heap(sys.argv[1])
    ''', "before.heap")
    after = dump(tmp_path, '''
        import sys, memscope
        class Grows: pass
        keep = [Grows() for _ in range(3000)]
        memscope.dump_heap(sys.argv[1])
    ''', "after.heap")
    out = memscope("heap", after, "--diff", before).stdout
    row = next(line for line in out.splitlines() if line.endswith(" __main__.Grows"))
    assert row.split()[:2] == ["3000", "+3000"]


def peak_rss_kib(*args):
    """The peak resident size of one run of the CLI, in KiB (measured by a
    fresh parent, whose only child it is)."""
    probe = ("import resource, subprocess, sys\n"
             "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    from conftest import CLI
    out = subprocess.run([sys.executable, "-c", probe, str(CLI), *map(str, args)],
                         capture_output=True, text=True, check=True).stdout
    return int(out)


def test_diff_holds_a_fraction_of_one_graph(tmp_path):
    """heap --diff needs only the two partitions: it must peak well below
    what reading one whole graph takes, not at two graphs."""
    big = dump(tmp_path, '''
        import sys, memscope
        class Item:
            def __init__(self, i):
                self.__dict__["n"] = i
        keep = [(i, str(i), Item(i).__dict__) for i in range(400_000)]
        memscope.dump_heap(sys.argv[1])
    ''', "big.heap")
    one_graph = peak_rss_kib("heap", big, "--by", "type", "--limit", "1")
    diff = peak_rss_kib("heap", big, "--diff", big)
    assert diff < 0.6 * one_graph, (diff, one_graph)
    out = memscope("heap", big, "--diff", big, "--json").stdout
    assert '"rows": []' in out.replace("\n", "")


@pytest.mark.parametrize("cut", [0, 5, 16, 40, -1])
def test_truncated_files_fail_cleanly(leaky, tmp_path, cut):
    data = leaky.read_bytes()
    bad = tmp_path / "bad.heap"
    bad.write_bytes(data[:cut] if cut >= 0 else data[:-3])
    proc = memscope("heap", bad, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"memscope: cannot read '{bad}': ")
    assert " at byte " in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_damaged_byte_fails_cleanly(leaky, tmp_path):
    data = bytearray(leaky.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "bad.heap"
    bad.write_bytes(bytes(data))
    proc = memscope("heap", bad, "--retained", check=False)
    assert proc.returncode == 2 and "checksum" in proc.stderr


def test_not_a_snapshot(tmp_path):
    other = tmp_path / "x.txt"
    other.write_text("hello world, this is not a heap snapshot\n")
    proc = memscope("heap", other, check=False)
    assert proc.returncode == 2
    assert "not a memscope heap snapshot" in proc.stderr
    assert memscope("heap", tmp_path / "missing", check=False).returncode == 2
    assert memscope("heap", other, "--by", "colour", check=False).returncode == 2


def test_one_view_at_a_time(leaky):
    proc = memscope("heap", leaky, "--retained", "--cycles", check=False)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == "memscope: --retained and --cycles are separate views: choose one\n"
    proc = memscope("heap", leaky, "--by", "type", "--duplicates", check=False)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == "memscope: --by is for the partition table, not for --duplicates\n"
