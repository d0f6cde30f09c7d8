"""--native-frames records each allocation's C stack and reports show its
frames under the Python line that called into C: checked with a shared
library built here whose make_buffer mallocs a known size (with and without
debug info, deleted or rebuilt before the report), numpy's buffers, and a
Tracker started in the program."""
import json
import subprocess

import pytest

from conftest import memscope
from test_foreign import run_python

SIZE = 3_000_000

LIBRARY = """\
#include <stdlib.h>
#include <string.h>

void *make_buffer(size_t n)
{
    void *p = malloc(n);
    memset(p, 1, n);
    return p;
}
"""

PROGRAM = """\
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
lib.make_buffer.restype = ctypes.c_void_p
lib.make_buffer.argtypes = [ctypes.c_size_t]
kept = lib.make_buffer(3_000_000)
"""


def build(tmp_path, name, *flags, source=LIBRARY):
    c = tmp_path / "x.c"
    c.write_text(source)
    out = tmp_path / name
    subprocess.run(["gcc", "-shared", "-fPIC", "-O0", *flags, "-o", str(out), str(c)], check=True)
    return out, c


def stacks(capture, at="peak"):
    """The collapsed stacks of one view: (frames, bytes) pairs, outermost
    frame first."""
    out = memscope("export", capture, "--format", "collapsed", "--at", at).stdout
    rows = []
    for row in out.splitlines():
        stack, _, size = row.rpartition(" ")
        rows.append((stack.split(";"), int(size)))
    return rows


def below(capture, python_frame, leaf):
    """Bytes of the stacks that pass through python_frame and end in a frame
    that starts with leaf, and those stacks."""
    found = [(f, n) for f, n in stacks(capture) if python_frame in f and f[-1].startswith(leaf)]
    return sum(n for _, n in found), [f for f, _ in found]


def record(tmp_path, library, *extra):
    script = tmp_path / "prog.py"
    script.write_text(PROGRAM)
    capture = tmp_path / "prog.msc"
    memscope("run", "-o", capture, *extra, script, library, cwd=tmp_path)
    return capture, f"<module> ({script}:5)"


def test_make_buffer_under_its_python_line_with_source_line(tmp_path):
    """The library is loaded after recording started (ctypes.CDLL on line
    2): its module is written when its first address is."""
    library, source = build(tmp_path, "libx.so", "-g")
    capture, line = record(tmp_path, library, "--native", "--native-frames")
    size, found = below(capture, line, f"make_buffer ({source}:")
    assert size == SIZE
    # The malloc call is on line 6 of the C source, and the Python line is
    # above every native frame.
    assert all(f[-1] == f"make_buffer ({source}:6)" for f in found)
    assert all(f.index(line) < len(f) - 1 for f in found)
    tree = memscope("tree", capture).stdout
    assert f"make_buffer  {source}:6" in tree
    rows = json.loads(memscope("table", capture, "--json").stdout)["rows"]
    assert {"file": str(source), "function": "make_buffer", "line": 6, "bytes": SIZE,
            "allocations": 1}.items() <= rows[0].items()


def test_without_debug_info_the_dynamic_symbol_names_the_frame(tmp_path):
    library, _ = build(tmp_path, "libs.so", "-g0")
    subprocess.run(["strip", str(library)], check=True)
    capture, line = record(tmp_path, library, "--native", "--native-frames")
    size, found = below(capture, line, "make_buffer (")
    assert size == SIZE
    assert all(f[-1] == f"make_buffer ({library})" for f in found)


@pytest.mark.parametrize("change", ["deleted", "rebuilt"])
def test_object_gone_or_changed_shows_object_and_offset(tmp_path, change):
    """A report made after the library is deleted, or rebuilt into another
    build id, never names a frame from the wrong file."""
    library, _ = build(tmp_path, "liby.so", "-g")
    capture, line = record(tmp_path, library, "--native", "--native-frames")
    library.unlink()
    if change == "rebuilt":
        build(tmp_path, "liby.so", "-g", source="static int pad[64];\n" + LIBRARY)
    size, found = below(capture, line, "liby.so+0x")
    assert size == SIZE
    assert not any("make_buffer" in frame for f, _ in stacks(capture) for frame in f)
    offsets = {int(f[-1].split("+0x")[1].split(" ")[0], 16) for f in found}
    assert len(offsets) == 1 and 0 < offsets.pop() < 1 << 20


def test_debug_file_found_by_build_id_after_the_object_is_gone(tmp_path):
    """The library is deleted; its debug file, laid out by build id under
    MEMSCOPE_DEBUG_DIR (as /usr/lib/debug is), names the frame and line."""
    library, source = build(tmp_path, "libd.so", "-g")
    capture, line = record(tmp_path, library, "--native", "--native-frames")
    note = subprocess.run(["readelf", "-n", str(library)], capture_output=True, text=True,
                          check=True).stdout
    build_id = note.split("Build ID:")[1].split()[0]
    debug = tmp_path / "debug" / ".build-id" / build_id[:2] / f"{build_id[2:]}.debug"
    debug.parent.mkdir(parents=True)
    subprocess.run(["objcopy", "--only-keep-debug", str(library), str(debug)], check=True)
    library.unlink()
    env = {"MEMSCOPE_DEBUG_DIR": str(tmp_path / "debug")}
    out = memscope("export", capture, "--format", "collapsed", env=env).stdout
    found = [row for row in out.splitlines() if line in row and "make_buffer" in row]
    assert len(found) == 1
    assert found[0].endswith(f";make_buffer ({source}:6) {SIZE}")
    assert "make_buffer" not in memscope("export", capture, "--format", "collapsed").stdout


def test_without_native_frames_nothing_changes(tmp_path):
    library, _ = build(tmp_path, "libx.so", "-g")
    capture, line = record(tmp_path, library, "--native")
    rows = stacks(capture)
    assert sum(n for f, n in rows if f[-1] == line) >= SIZE
    assert not any("make_buffer" in frame for f, _ in rows for frame in f)


def test_python_only_program_peaks_the_same(tmp_path):
    """Native frames add frames, never bytes: the peak and the bytes on each
    Python line are what the capture without them says."""
    script = tmp_path / "prog.py"
    script.write_text("rows = [str(i) * 10 for i in range(50_000)]\nbig = bytearray(8_000_000)\n")
    peaks = []
    for extra in ([], ["--native-frames"]):
        capture = tmp_path / f"p{len(extra)}.msc"
        memscope("run", "-o", capture, *extra, script, cwd=tmp_path)
        stats = json.loads(memscope("stats", capture, "--json").stdout)
        peaks.append(stats["peak_bytes"])
        line2 = sum(n for f, n in stacks(capture) if f"<module> ({script}:2)" in f)
        assert 8_000_000 <= line2 <= 8_000_000 + 4096
    assert abs(peaks[0] - peaks[1]) <= peaks[0] * 0.01


NUMPY_PROGRAM = """\
import numpy as np
a = np.ones(5_000_000)
"""


@pytest.mark.parametrize("extra", [["--native", "--native-frames"], ["--native-frames"]])
def test_numpy_functions_under_the_python_line(tmp_path, extra):
    """numpy's buffer (a malloc with --native, its PyTraceMalloc_Track
    report without) sits under numpy's own C functions, under the line."""
    pytest.importorskip("numpy")
    script = tmp_path / "prog.py"
    script.write_text(NUMPY_PROGRAM)
    capture = tmp_path / "np.msc"
    memscope("run", "-o", capture, *extra, script, cwd=tmp_path)
    line = f"<module> ({script}:2)"
    found = [(f, n) for f, n in stacks(capture) if line in f and n >= 40_000_000]
    assert sum(n for _, n in found) == 40_000_000
    for frames, _ in found:
        native = frames[frames.index(line) + 1:]
        names = [frame.split(" (")[0] for frame in native]
        assert "PyArray_NewFromDescr_int" in names
        assert any("_multiarray_umath" in frame for frame in native)


def test_tracker_started_in_the_program(tmp_path):
    library, source = build(tmp_path, "libx.so", "-g")
    capture = tmp_path / "t.msc"
    run_python("""\
        import ctypes, sys
        import memscope
        lib = ctypes.CDLL(sys.argv[2])
        lib.make_buffer.restype = ctypes.c_void_p
        lib.make_buffer.argtypes = [ctypes.c_size_t]
        with memscope.Tracker(sys.argv[1], native=True, native_frames=True):
            kept = lib.make_buffer(3_000_000)
        """, capture, library)
    size, found = below(capture, "<module> (<string>:7)", f"make_buffer ({source}:6)")
    assert size == SIZE
