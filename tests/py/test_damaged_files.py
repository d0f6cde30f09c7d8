"""Report commands on damaged and foreign files: a real capture with a
flipped byte, a cut, an absurd chunk length, and files that are not
captures at all. Each ends in exit 2 and one line naming the file, what is
wrong and the byte offset (or, for a capture cut inside a chunk, a warning
and the report of what it holds) — never a crash or a traceback."""
import re
import struct

import pytest

from conftest import memscope

PROGRAM = "blocks = [bytearray(1000) for _ in range(200)]\n"
CHUNK_HEADER = 24


@pytest.fixture
def capture(run_script):
    path, _ = run_script(PROGRAM)
    return path.read_bytes()


def chunk_offsets(data):
    """File offsets of every chunk header."""
    at = 16 + struct.unpack_from("<I", data, 12)[0] + 4
    offsets = []
    while at + CHUNK_HEADER <= len(data):
        offsets.append(at)
        at += CHUNK_HEADER + struct.unpack_from("<I", data, at + 12)[0]
    return offsets


def refused(path, *command):
    """Runs a report command expected to refuse path; returns (what, offset)."""
    proc = memscope(*(command or ("stats",)), path, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    match = re.fullmatch(r"memscope: cannot read '(.+)': (.+?)(?: at byte (\d+))?", lines[0])
    assert match, lines[0]
    assert match.group(1) == str(path)
    return match.group(2), None if match.group(3) is None else int(match.group(3))


@pytest.mark.parametrize("command", [("stats",), ("table",), ("lines",), ("stats", "--json")])
def test_flipped_byte_in_a_chunk(tmp_path, capture, command):
    data = bytearray(capture)
    first = chunk_offsets(data)[0]
    data[first + CHUNK_HEADER + 3] ^= 0x10
    bad = tmp_path / "damaged.msc"
    bad.write_bytes(bytes(data))
    what, offset = refused(bad, *command)
    assert what == "chunk checksum mismatch"
    assert offset == first


def test_every_flipped_header_byte_is_refused(tmp_path, capture):
    head = chunk_offsets(capture)[0]
    bad = tmp_path / "damaged.msc"
    for i in range(0, head, 3):
        data = bytearray(capture)
        data[i] ^= 0x01
        bad.write_bytes(bytes(data))
        what, offset = refused(bad)
        assert what
        assert offset is None or offset < len(capture)


def test_absurd_chunk_length(tmp_path, capture):
    data = bytearray(capture)
    first = chunk_offsets(data)[0]
    struct.pack_into("<II", data, first + 12, 0xFFFFFFFF, 0xFFFFFFFF)
    bad = tmp_path / "damaged.msc"
    bad.write_bytes(bytes(data))
    assert refused(bad) == ("absurd chunk length", first + 12)


def test_cut_inside_the_header(tmp_path, capture):
    bad = tmp_path / "cut.msc"
    bad.write_bytes(capture[:30])
    assert refused(bad) == ("truncated file header", 0)


def test_cut_inside_a_chunk_reports_what_it_holds(tmp_path, capture):
    offsets = chunk_offsets(capture)
    last = offsets[-1]
    bad = tmp_path / "cut.msc"
    bad.write_bytes(capture[:last + 10])
    proc = memscope("stats", bad, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [
        f"memscope: warning: '{bad}' is truncated at byte {last} "
        f"(file ends inside a chunk header); showing what it holds"]
    assert "Peak heap" in proc.stdout


def test_foreign_files(tmp_path):
    png = tmp_path / "picture.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(40))
    assert refused(png) == ("not a memscope capture (bad magic)", None)

    empty = tmp_path / "empty.msc"
    empty.write_bytes(b"")
    assert refused(empty) == ("not a memscope capture (bad magic)", None)

    what, _ = refused(tmp_path)
    assert "directory" in what

    what, offset = refused(tmp_path / "missing.msc")
    assert what == "No such file or directory" and offset is None
