"""Memory extensions report through PyTraceMalloc_Track (numpy's array data,
domain 389047) is recorded in the default mode, on the line that made it,
checked against numpy's own nbytes and against tracemalloc running in the
same process."""
import json
import os
import subprocess
import sys
import textwrap

from conftest import ROOT, _TREE, memscope

NUMPY_DOMAIN = 389047


def line_bytes(capture, script, line, at="peak"):
    """Bytes held (or allocated, at="total") by every stack that passes
    through script:line: the line's inclusive share, as `memscope lines`
    counts it."""
    out = memscope("export", capture, "--format", "collapsed", "--at", at).stdout
    total = 0
    for row in out.splitlines():
        stack, _, size = row.rpartition(" ")
        if f"({script}:{line})" in stack:
            total += int(size)
    return total


def domains(capture):
    stats = json.loads(memscope("stats", capture, "--json").stdout)
    return {d["domain"]: d for d in stats["domains"]}


NUMPY_PROGRAM = """\
import json, sys
import numpy as np
a = np.ones(25_000_000)
b = a.copy()
v = a[::2]
t = float((a * 2 + 1).sum())
del b
json.dump({"nbytes": a.nbytes, "view_owns": v.flags.owndata}, open(sys.argv[1], "w"))
"""


def test_numpy_arrays_are_on_their_lines(run_script, tmp_path):
    truth = tmp_path / "truth.json"
    capture, _ = run_script(NUMPY_PROGRAM, truth)
    script = tmp_path / "prog.py"
    nbytes = json.loads(truth.read_text())["nbytes"]
    slack = 64 * 1024
    # At the peak a, b and the temporaries of line 6 were all live.
    assert nbytes <= line_bytes(capture, script, 3) <= nbytes + slack   # np.ones
    assert nbytes <= line_bytes(capture, script, 4) <= nbytes + slack   # a.copy()
    assert line_bytes(capture, script, 5) < 4096                        # a view: no data
    assert line_bytes(capture, script, 6) >= nbytes                     # a * 2 + 1
    assert line_bytes(capture, script, 6, at="total") >= nbytes
    # At exit: a still held, the copy deleted, the temporaries gone.
    assert nbytes <= line_bytes(capture, script, 3, at="exit") <= nbytes + slack
    assert line_bytes(capture, script, 4, at="exit") < 4096
    assert line_bytes(capture, script, 6, at="exit") < 4096
    numpy = domains(capture)["numpy"]
    assert numpy["tracemalloc_domain"] == NUMPY_DOMAIN
    assert 3 * nbytes <= numpy["peak_bytes"] <= 4 * nbytes + slack
    assert nbytes <= numpy["leaked_bytes"] <= nbytes + slack


def run_python(code, *args):
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(_TREE / "python")))
    assert proc.returncode == 0, proc.stderr
    return proc


def test_agrees_with_tracemalloc_running_beside_it(tmp_path):
    """tracemalloc, started by the program before the Tracker, still sees
    numpy's blocks (the wrapper forwards them) and counts exactly what
    memscope counts."""
    capture, truth = tmp_path / "both.msc", tmp_path / "truth.json"
    run_python("""\
        import json, sys, tracemalloc
        import memscope
        tracemalloc.start()
        with memscope.Tracker(sys.argv[1]):
            import numpy as np
            arrays = [np.arange(n * 100_000, dtype=np.float32) for n in range(1, 6)]
            del arrays[2]
            snap = tracemalloc.take_snapshot()
        numpy = snap.filter_traces([tracemalloc.DomainFilter(True, 389047)])
        json.dump({"numpy": sum(t.size for t in numpy.traces),
                   "nbytes": sum(a.nbytes for a in arrays)}, open(sys.argv[2], "w"))
    """, capture, truth)
    seen = json.loads(truth.read_text())
    assert seen["numpy"] >= seen["nbytes"] == 4 * 1_200_000
    assert domains(capture)["numpy"]["leaked_bytes"] == seen["numpy"]


def test_tracker_mid_program_with_numpy_imported_before(tmp_path):
    """Arrays made before start and freed while recording are frees of
    blocks never seen, not errors; arrays made while recording count."""
    capture = tmp_path / "mid.msc"
    run_python("""\
        import sys
        import numpy as np
        import memscope
        old = [np.ones(1_000_000) for _ in range(3)]
        with memscope.Tracker(sys.argv[1]):
            del old
            new = np.zeros(2_000_000)
            new += 1
        assert new.sum() == 2_000_000
    """, capture)
    numpy = domains(capture)["numpy"]
    assert 16_000_000 <= numpy["leaked_bytes"] <= 16_000_000 + 4096
    stats = json.loads(memscope("stats", capture, "--json").stdout)
    assert stats["complete"]


def test_numpy_imported_after_start(tmp_path):
    """An extension loaded while recording is patched before its code runs."""
    capture = tmp_path / "late.msc"
    run_python("""\
        import sys
        import memscope
        assert "numpy" not in sys.modules
        with memscope.Tracker(sys.argv[1]):
            import numpy as np
            kept = np.empty(3_000_000, dtype=np.uint8)
    """, capture)
    numpy = domains(capture)["numpy"]
    assert 3_000_000 <= numpy["leaked_bytes"] <= 3_000_000 + 64 * 1024


def test_pandas_numeric_columns(run_script, tmp_path):
    """A DataFrame's numeric columns are numpy buffers: on the line that
    built the frame, as many bytes as pandas' own memory_usage says."""
    truth = tmp_path / "truth.json"
    capture, _ = run_script("""\
import json, sys
import numpy as np, pandas as pd
df = pd.DataFrame({"a": np.arange(1_000_000, dtype=np.float64), "b": np.ones(1_000_000, dtype=np.int32)})
json.dump({"usage": int(df.memory_usage(deep=True).sum())}, open(sys.argv[1], "w"))
""", truth)
    usage = json.loads(truth.read_text())["usage"]
    assert usage >= 12_000_000
    held = line_bytes(capture, tmp_path / "prog.py", 3, at="exit")
    assert usage <= held <= usage * 1.1
