"""--native records what libraries allocate with the malloc family and mmap,
on the Python line that caused it, checked against what the program asked
for (ctypes, mmap) or what the library reports (sqlite3_memory_used); and
counts nothing twice: a pure-Python program peaks at the same bytes with and
without it."""
import json
import os
import subprocess
import sys

import pytest

from conftest import memscope
from test_foreign import domains, line_bytes, run_python

SLACK = 64 * 1024

# A preloaded sanitizer runtime's malloc is the process's; libc's own is then
# another allocator, which the program asked for by name.
ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")

CTYPES_PROGRAM = """\
import ctypes, sys
libc = ctypes.CDLL(sys.argv[1] or None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
big = libc.malloc(50_000_000)
kept = libc.calloc(1000, 1000)
libc.free(big)
"""


@pytest.mark.parametrize("library", [
    "",
    pytest.param("libc.so.6", marks=pytest.mark.skipif(ASAN, reason="libc is not the malloc")),
])
def test_ctypes_malloc_and_free(run_script, tmp_path, library):
    capture, _ = run_script(CTYPES_PROGRAM, library, extra=["--native"])
    script = tmp_path / "prog.py"
    assert 50_000_000 <= line_bytes(capture, script, 5) <= 50_000_000 + SLACK
    assert line_bytes(capture, script, 5, at="exit") < SLACK
    assert 1_000_000 <= line_bytes(capture, script, 6, at="exit") <= 1_000_000 + SLACK
    native = domains(capture)["native"]
    assert native["peak_bytes"] >= 51_000_000
    assert json.loads(memscope("stats", capture, "--json").stdout)["native"] is True


def test_without_native_ctypes_malloc_is_not_seen(run_script, tmp_path):
    capture, _ = run_script(CTYPES_PROGRAM, "")
    assert line_bytes(capture, tmp_path / "prog.py", 5) < SLACK
    assert "native" not in domains(capture)


def test_anonymous_mmap_whole_and_in_part(run_script, tmp_path):
    """Python's mmap module, and an munmap of the middle of a mapping that
    leaves two pieces."""
    capture, _ = run_script("""\
import ctypes, mmap
m = mmap.mmap(-1, 30_000_000)
m[:5] = b"hello"
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
page = mmap.PAGESIZE
p = libc.mmap(None, 100 * page, 3, 0x22, -1, 0)
assert libc.munmap(p + 10 * page, 30 * page) == 0
m.close()
""", extra=["--native"])
    script = tmp_path / "prog.py"
    page = __import__("mmap").PAGESIZE
    assert 30_000_000 <= line_bytes(capture, script, 2) <= 30_000_000 + SLACK
    assert line_bytes(capture, script, 2, at="exit") < SLACK
    assert 70 * page <= line_bytes(capture, script, 9, at="exit") <= 70 * page + 1024
    assert domains(capture)["mmap"]["leaked_bytes"] == 70 * page


def test_sqlite_in_memory_database(run_script, tmp_path):
    truth = tmp_path / "truth.json"
    capture, _ = run_script("""\
import ctypes, json, sqlite3, sys
lib = ctypes.CDLL("libsqlite3.so.0")
lib.sqlite3_memory_used.restype = ctypes.c_int64
before = lib.sqlite3_memory_used()
db = sqlite3.connect(":memory:")
db.execute("create table t(x)")
db.executemany("insert into t values (?)", (("a" * 100,) for _ in range(100_000)))
db.commit()
json.dump({"sqlite": lib.sqlite3_memory_used() - before}, open(sys.argv[1], "w"))
""", truth, extra=["--native"])
    used = json.loads(truth.read_text())["sqlite"]
    assert used > 5_000_000
    held = sum(line_bytes(capture, tmp_path / "prog.py", n, at="exit") for n in (5, 6, 7))
    assert used * 0.98 <= held <= used * 1.05


PURE_PYTHON = """\
import sys
rows = [{"id": i, "name": str(i) * 4, "tags": [i, i + 1]} for i in range(150_000)]
text = "|".join(r["name"] for r in rows)
index = {r["name"]: r for r in rows}
del rows
print(len(text), len(index))
sys.exit(3)
"""


def test_pure_python_peak_is_the_same_with_native(run_script, tmp_path):
    """pymalloc's arenas and the malloc under RAW blocks count once."""
    peaks = []
    for extra in ([], ["--native"]):
        capture, proc = run_script(PURE_PYTHON, extra=extra, check=False)
        assert proc.returncode == 3
        peaks.append(json.loads(memscope("stats", capture, "--json").stdout)["peak_bytes"])
        capture.unlink()
    assert peaks[0] > 30_000_000
    assert abs(peaks[1] - peaks[0]) <= 0.01 * peaks[0]


def test_program_output_and_exit_code_unchanged(run_script, tmp_path):
    script = tmp_path / "prog.py"
    source = """\
import sqlite3, sys
db = sqlite3.connect(":memory:")
print(db.execute("select 6 * 7").fetchone()[0])
print("to stderr", file=sys.stderr)
raise SystemExit(5)
"""
    script.write_text(source)
    plain = subprocess.run([sys.executable, script], capture_output=True, text=True)
    _, traced = run_script(source, extra=["--native"], check=False)
    assert (traced.returncode, traced.stdout) == (plain.returncode, plain.stdout) == (5, "42\n")
    assert traced.stderr.startswith(plain.stderr)


def test_tracker_native_mid_program(tmp_path):
    """A native Tracker started mid-program: blocks malloc'ed before start
    and freed after are frees of blocks never seen; what it records
    carries the numpy buffer once (as native memory), not twice."""
    capture = tmp_path / "mid.msc"
    run_python("""\
        import ctypes, sys
        import numpy as np
        import memscope
        libc = ctypes.CDLL(None)
        libc.malloc.restype = ctypes.c_void_p
        libc.free.argtypes = [ctypes.c_void_p]
        old = [libc.malloc(1_000_000) for _ in range(4)]
        with memscope.Tracker(sys.argv[1], native=True):
            for p in old:
                libc.free(p)
            a = np.ones(2_000_000)
        assert a.sum() == 2_000_000
    """, capture)
    found = domains(capture)
    assert "numpy" not in found
    assert 16_000_000 <= found["native"]["leaked_bytes"] <= 16_000_000 + SLACK
    assert json.loads(memscope("stats", capture, "--json").stdout)["complete"]


@pytest.mark.parametrize("native", [False, True])
def test_native_only_when_asked_after_a_native_capture(tmp_path, native):
    """A capture after a native one records no native blocks unless asked.
    (ctypes looks a function up once, at first use: a function first used
    before any native capture started is never seen, so this one is first
    used inside.)"""
    first, second = tmp_path / "a.msc", tmp_path / "b.msc"
    run_python(f"""\
        import ctypes, sys
        import memscope
        with memscope.Tracker(sys.argv[1], native=True):
            libc = ctypes.CDLL(None)
            libc.malloc.restype = ctypes.c_void_p
            x = libc.malloc(3_000_000)
        with memscope.Tracker(sys.argv[2], native={native}):
            y = libc.malloc(5_000_000)
    """, first, second)
    assert domains(first)["native"]["leaked_bytes"] >= 3_000_000
    later = domains(second).get("native", {}).get("leaked_bytes", 0)
    assert (later >= 5_000_000) if native else (later < SLACK)


@pytest.mark.parametrize("native", [False, True])
def test_resident_memory_explained(run_script, tmp_path, native):
    """A touched 100 MB bytearray is live Python objects; a touched 48 MB
    anonymous mapping is an anonymous mapping with --native and unexplained
    without; a read 32 MB file mapping is file-backed. The parts add up to
    the resident total."""
    data = tmp_path / "data.bin"
    data.write_bytes(b"x" * (32 << 20))
    capture, _ = run_script("""\
import mmap, sys, time
big = bytearray(100 << 20)
big[::4096] = b"\\1" * len(range(0, len(big), 4096))
m = mmap.mmap(-1, 48 << 20)
m[::4096] = b"\\1" * len(range(0, len(m), 4096))
f = open(sys.argv[1], "rb")
fm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
total = sum(fm[::4096])
time.sleep(0.5)  # a few samples of where the resident memory is
""", data, extra=["--native"] if native else [])
    split = json.loads(memscope("stats", capture, "--json").stdout)["rss_explained"]
    parts = ("python_objects_bytes", "native_heap_bytes", "anonymous_mappings_bytes",
             "file_backed_bytes", "unexplained_bytes")
    assert sum(split[p] for p in parts) == split["rss_bytes"]
    assert (100 << 20) <= split["python_objects_bytes"] <= (100 << 20) + (4 << 20)
    assert split["file_backed_bytes"] >= 32 << 20
    if native:
        assert split["anonymous_mappings_bytes"] == 48 << 20
    else:
        assert split["anonymous_mappings_bytes"] == 0
        assert split["unexplained_bytes"] >= 48 << 20


def test_pillow_image_in_native_mode(run_script, tmp_path):
    """Pillow's image memory comes from malloc: 4000 x 4000 RGBA is 64 MB."""
    capture, _ = run_script("""\
from PIL import Image
img = Image.new("RGBA", (4000, 4000), (1, 2, 3, 4))
small = img.resize((400, 400))
""", extra=["--native"])
    script = tmp_path / "prog.py"
    image = 4000 * 4000 * 4
    assert image <= line_bytes(capture, script, 2, at="exit") <= image * 1.02
    assert line_bytes(capture, script, 3, at="exit") >= 400 * 400 * 4


def test_sampled_native_capture(run_script, tmp_path):
    """--sample with --native: a block far larger than the sampling rate
    is all but certainly sampled, and weighed back to its size."""
    capture, _ = run_script(CTYPES_PROGRAM, "", extra=["--native", "--sample", "64KiB"])
    script = tmp_path / "prog.py"
    assert 50_000_000 <= line_bytes(capture, script, 5) <= 50_000_000 + (1 << 20)
    assert line_bytes(capture, script, 5, at="exit") < (1 << 20)


def test_ssl_context_in_native_mode(run_script, tmp_path):
    """OpenSSL's context and the certificates it loads are malloc'ed by
    libcrypto: seen with --native, not without."""
    program = """\
import ssl
ctx = ssl.create_default_context()
ctx.load_verify_locations(cadata=None, capath="/etc/ssl/certs")
"""
    held = []
    for extra in ([], ["--native"]):
        capture, _ = run_script(program, extra=extra)
        held.append(line_bytes(capture, tmp_path / "prog.py", 2, at="exit"))
        capture.unlink()
    assert held[1] >= 100_000
    assert held[1] >= 10 * held[0]
