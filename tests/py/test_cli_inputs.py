"""What the commands do with inputs and outputs that are not what they
expect: a capture cut short given to advise, a FIFO for a file, a capture
whose writer died, a standard output that cannot be written, a --source
path spelt another way, names and paths with control characters or bytes
that are not UTF-8, and options out of range or in conflict. Each ends in
one line saying what is wrong and exit 2, or in the report, and never in a
crash, a hang or a raw control byte on the terminal."""
import os
import subprocess
import sys

import pytest

from conftest import CLI, memscope

PROGRAM = "blocks = [bytearray(1000) for _ in range(200)]\n"


@pytest.fixture
def capture(run_script):
    path, _ = run_script(PROGRAM)
    return path


def one_line(proc):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize("keep", [8, 64])
def test_advise_on_a_capture_cut_short(tmp_path, capture, keep):
    cut = tmp_path / "cut.msc"
    cut.write_bytes(capture.read_bytes()[:keep])
    line = one_line(memscope("advise", cut, check=False))
    assert line.startswith(f"memscope: cannot read '{cut}': ")


def test_advise_on_a_damaged_capture(tmp_path, capture):
    data = bytearray(capture.read_bytes())
    data[len(data) - 40] ^= 0x40
    bad = tmp_path / "bad.msc"
    bad.write_bytes(bytes(data))
    proc = memscope("advise", bad, check=False)
    assert proc.returncode == 2, proc.stderr
    assert f"'{bad}'" in proc.stderr


@pytest.mark.parametrize("command", [("stats",), ("report",), ("heap",), ("advise",),
                                     ("diff", "OTHER")])
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path, capture, command):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    args = [capture if a == "OTHER" else a for a in command]
    proc = memscope(*args, fifo, check=False, timeout=60)
    assert one_line(proc) == f"memscope: cannot read '{fifo}': is not a regular file"


def test_lines_source_fifo_is_refused(tmp_path, capture):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    proc = memscope("lines", capture, "--source", fifo, check=False, timeout=60)
    assert one_line(proc) == f"memscope: cannot read '{fifo}': is not a regular file"


def test_live_ends_when_the_writer_is_gone(tmp_path, capture):
    """A capture without its trailer whose process no longer exists (killed,
    or a copy cut short) is shown once and the view ends with a warning."""
    cut = tmp_path / "cut.msc"
    cut.write_bytes(capture.read_bytes()[:3000])
    proc = memscope("live", cut, "--interval", "0.1", check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "memscope live:" in proc.stdout
    assert proc.stderr.startswith(f"memscope: warning: '{cut}' ends without a trailer and "
                                  "process ")
    assert "is gone: the program was killed" in proc.stderr


@pytest.mark.parametrize("command", [("stats", "--json"), ("table",), ("tree",), ("lines",),
                                     ("diff", "SELF")])
def test_a_full_standard_output_is_a_failure(capture, command):
    args = [capture if a == "SELF" else a for a in command]
    with open("/dev/full", "w") as full:
        proc = subprocess.run([str(CLI), args[0], capture, *args[1:]], stdout=full,
                              stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ, MEMSCOPE_PYTHON=sys.executable))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "memscope: cannot write 'standard output': No space left on device"]


def test_lines_source_spelt_relative(tmp_path, run_script):
    capture, _ = run_script(PROGRAM)
    plain = memscope("lines", capture, "--source", "prog.py", cwd=tmp_path).stdout
    assert "bytearray(1000)" in plain
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "link.py").symlink_to(tmp_path / "prog.py")
    for where, source in [(tmp_path, "./prog.py"), (sub, "../prog.py"),
                          (tmp_path, tmp_path / "prog.py"), (sub, "link.py"),
                          (sub, "./../sub/../prog.py")]:
        out = memscope("lines", capture, "--source", source, cwd=where).stdout
        assert out.splitlines()[1:] == plain.splitlines()[1:], (where, source)
        assert out.splitlines()[0] == f"Filename: {tmp_path / 'prog.py'}"


def test_lines_source_not_in_the_capture(tmp_path, capture):
    for source in ["/nonexistent/prog.py", __file__]:
        line = one_line(memscope("lines", capture, "--source", source, check=False))
        assert line == (f"memscope: no stack in '{capture}' runs a line of '{source}' "
                        f"(memscope table {capture} --by file lists the files it names)")
    line = one_line(memscope("lines", capture, "--source", tmp_path, check=False))
    assert line == f"memscope: cannot read '{tmp_path}': is a directory"


def test_lines_escapes_the_source_text(run_script):
    capture, _ = run_script('x = [bytearray(100) for _ in range(10)]\n'
                            'c = "red \x1b[31m here\\tand a tab"\t# comment\n')
    out = memscope("lines", capture).stdout
    assert "\x1b" not in out
    assert '   c = "red \\x1b[31m here\\tand a tab"\t# comment\n' in out


def test_messages_escape_paths(tmp_path, run_script):
    proc = memscope("stats", tmp_path / "no\x1b[31m.msc", check=False)
    assert one_line(proc) == (f"memscope: cannot read '{tmp_path}/no\\x1b[31m.msc': "
                              "No such file or directory")
    script = tmp_path / "prog.py"
    script.write_text(PROGRAM)
    out = tmp_path / "a \x1b[31mb.msc"
    proc = memscope("run", "-o", out, script)
    assert "\x1b" not in proc.stderr
    shown = f"{tmp_path}/a \\x1b[31mb.msc"
    assert f"memscope: capture written to '{shown}'" in proc.stderr
    assert f"  memscope stats '{shown}'" in proc.stderr
    page = tmp_path / "f \x1b[31m.html"
    proc = memscope("flamegraph", out, "-o", page)
    assert proc.stdout == f"memscope: flame graph written to '{tmp_path}/f \\x1b[31m.html'\n"


def test_names_that_are_not_utf8_change_nothing(tmp_path):
    """Lone surrogates (bytes of argv that are not UTF-8, a thread's name, a
    mark's label) are the program's data: it runs as it runs without
    memscope, and the capture is written."""
    script = tmp_path / "prog.py"
    script.write_text(
        "import sys, threading, memscope\n"
        "memscope.mark('label \\udcff')\n"
        "t = threading.Thread(target=lambda: print('thread ran'), name='x\\udcff')\n"
        "t.start(); t.join()\n"
        "print(ascii(sys.argv[1:]))\n")
    capture = os.fsencode(tmp_path) + b"/\xfe.msc"
    env = dict(os.environ, MEMSCOPE_PYTHON=sys.executable)
    plain = subprocess.run([sys.executable, os.fsencode(script), b"\xff"], capture_output=True,
                           env=dict(os.environ, PYTHONPATH=os.fsdecode(CLI.parent.parent /
                                                                       "python")),
                           timeout=60)
    proc = subprocess.run([os.fsencode(CLI), b"run", b"-o", capture, os.fsencode(script),
                           b"\xff"], capture_output=True, env=env, timeout=60)
    assert proc.returncode == plain.returncode == 0, proc.stderr
    assert proc.stdout == plain.stdout == b"thread ran\n['\\udcff']\n"
    stats = subprocess.run([os.fsencode(CLI), b"stats", capture], capture_output=True,
                           env=env, timeout=60)
    assert stats.returncode == 0, stats.stderr
    assert b"/\\xfe.msc (Python " in stats.stdout.splitlines()[0]


@pytest.mark.parametrize("args, line", [
    (("tree", "CAP", "--min-percent", "nan"),
     "--min-percent wants a number from 0 to 100, not 'nan'"),
    (("diff", "CAP", "CAP", "--fail-over", "1e999%"),
     "--fail-over wants a size (5MB) or a percentage (10%), not '1e999%'"),
    (("stats", "CAP", "--top", "99999999999999999999999"),
     "--top wants a number, not '99999999999999999999999'"),
    (("export", "CAP", "--format", "collapsed", "--metric", "cpu", "--at", "exit"),
     "--at picks a memory view and --metric a time: give one of them"),
    (("table", "CAP", "--at", "exit", "--metric", "cpu"),
     "--at picks a memory view and --metric a time: give one of them"),
    (("live", "CAP", "-o", "x.msc"),
     "-o and --force name the capture live --pid makes; without --pid, live only reads FILE"),
])
def test_options_out_of_range_or_in_conflict(capture, args, line):
    proc = memscope(*[capture if a == "CAP" else a for a in args], check=False)
    assert one_line(proc) == f"memscope: {line}"
