"""The files memscope writes and the program's files it must never touch:
the capture's descriptor closed and reused by the program, outputs created
0600 without following links or replacing anything unasked, names with NUL
bytes, outputs that would overwrite their input, relative outputs of a
program that changes directory, children that exec; and what reaches the
terminal: names with control characters, very long command lines and type
names."""
import json
import os
import stat
import textwrap

import pytest

import memscope as api
from conftest import memscope

CLOSES_EVERYTHING = textwrap.dedent("""\
    import os, time
    os.closerange(3, 1000)          # what daemonising code does
    with open("mine.txt", "w") as f:
        f.write("the program's own text\\n")
        junk = [str(i) * 3 for i in range(200_000)]
        time.sleep(0.3)             # the writer flushes every 100 ms
        f.write("end\\n")
    print("done")
    """)

LOST = ("memscope: warning: recording stopped, the capture cannot be written (the program "
        "closed or reused the capture's file descriptor); the program continues")


def test_a_program_that_closes_the_capture_descriptor_keeps_its_file(run_script, tmp_path):
    capture, proc = run_script(CLOSES_EVERYTHING)
    assert proc.returncode == 0 and proc.stdout == "done\n"
    assert (tmp_path / "mine.txt").read_text() == "the program's own text\nend\n"
    lines = proc.stderr.splitlines()
    assert [line for line in lines if "warning" in line] == [LOST]  # one warning
    assert lines[1] == (f"memscope: capture written to '{capture}' (incomplete: the program "
                        "closed or reused the capture's file descriptor)")
    assert "Traceback" not in proc.stderr
    read = memscope("stats", capture, "--json", check=False)
    assert "Traceback" not in read.stderr



def test_a_followed_child_that_closes_its_descriptors_keeps_its_file(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent("""\
        import os, time
        pid = os.fork()
        if pid == 0:
            os.closerange(3, 1000)
            with open("child.txt", "w") as f:
                f.write("the child's own text\\n")
                junk = [str(i) * 3 for i in range(200_000)]
                time.sleep(0.3)
            os._exit(0)
        os.waitpid(pid, 0)
        print(pid)
        """))
    proc = memscope("run", "--follow-fork", "-o", "cap.msc", "prog.py", cwd=tmp_path)
    assert (tmp_path / "child.txt").read_text() == "the child's own text\n"
    assert proc.stderr.splitlines().count(LOST) == 1
    assert memscope("stats", tmp_path / "cap.msc", "--json").returncode == 0

PROGRAM = "blocks = [bytearray(1000) for _ in range(200)]\n"
SECRET = "the user's own file\n"


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def capture(run_script):
    path, _ = run_script(PROGRAM)
    return path


@pytest.fixture
def victim(tmp_path):
    """A file of the user's, readable by all, that memscope must never write."""
    path = tmp_path / "victim.txt"
    path.write_text(SECRET)
    path.chmod(0o644)
    return path


def refused(*args, message):
    proc = memscope(*args, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [message]
    assert "Traceback" not in proc.stderr
    return proc


def test_captures_are_created_for_their_owner_only(capture):
    assert mode(capture) == 0o600


@pytest.mark.parametrize("force", [False, True])
def test_run_never_writes_through_a_link(tmp_path, victim, force):
    script = tmp_path / "prog.py"
    script.write_text(PROGRAM)
    link = tmp_path / "link.msc"
    link.symlink_to(victim)
    message = (f"memscope: cannot replace '{link}': not a regular file" if force else
               f"memscope: '{link}' already exists (use --force to replace it)")
    refused("run", "-o", link, *(["--force"] if force else []), script, message=message)
    assert victim.read_text() == SECRET and mode(victim) == 0o644
    assert link.is_symlink()


def test_run_force_replaces_the_file_not_what_it_shares(tmp_path, victim):
    script = tmp_path / "prog.py"
    script.write_text(PROGRAM)
    out = tmp_path / "out.msc"
    os.link(victim, out)  # a second name for the user's file
    memscope("run", "--force", "-o", out, script)
    assert victim.read_text() == SECRET and mode(victim) == 0o644
    assert mode(out) == 0o600
    assert memscope("stats", out, "--json").returncode == 0


def test_heap_snapshots_are_private_and_never_replaced_unasked(tmp_path, victim):
    script = tmp_path / "prog.py"
    script.write_text("secret = 'hunter2' * 3\n")
    snap = tmp_path / "app.heap"
    memscope("run", "-o", tmp_path / "a.msc", "--heap-at-exit", snap, script)
    assert mode(snap) == 0o600
    refused("run", "-o", tmp_path / "b.msc", "--heap-at-exit", victim, script,
            message=f"memscope: '{victim}' already exists (use --force to replace it)")
    link = tmp_path / "link.heap"
    link.symlink_to(victim)
    refused("run", "--force", "-o", tmp_path / "c.msc", "--heap-at-exit", link, script,
            message=f"memscope: cannot replace '{link}': not a regular file")
    assert victim.read_text() == SECRET and mode(victim) == 0o644


def test_heap_on_signal_does_not_replace_a_snapshot(tmp_path, victim):
    script = tmp_path / "prog.py"
    script.write_text("import os, signal\nos.kill(os.getpid(), signal.SIGUSR2)\n")
    first = tmp_path / "svc.heap.1"
    os.link(victim, first)
    proc = memscope("run", "-o", tmp_path / "a.msc", "--heap-on-signal", tmp_path / "svc.heap",
                    script)
    assert (f"memscope: warning: no heap snapshot: heap snapshot '{first}' already exists "
            "(use force=True to replace it)") in proc.stderr.splitlines()
    assert victim.read_text() == SECRET


def test_dump_heap_keeps_an_existing_file_and_never_follows_a_link(tmp_path, victim):
    with pytest.raises(FileExistsError, match="already exists"):
        api.dump_heap(victim)
    link = tmp_path / "link.heap"
    link.symlink_to(victim)
    with pytest.raises(FileExistsError, match="not a regular file"):
        api.dump_heap(link, force=True)
    assert victim.read_text() == SECRET and mode(victim) == 0o644
    assert api.dump_heap(victim, force=True) > 0
    assert mode(victim) == 0o600 and victim.read_bytes() != SECRET.encode()


def test_show_refs_keeps_an_existing_file(tmp_path, victim):
    dot = tmp_path / "victim.dot"
    os.link(victim, dot)
    with pytest.raises(FileExistsError, match="already exists"):
        api.show_refs([1, 2], dot)
    assert api.show_refs([1, 2], dot, force=True) == str(dot)
    assert victim.read_text() == SECRET and mode(dot) == 0o600


@pytest.mark.parametrize("command", [
    ("report",), ("flamegraph",), ("export", "--format", "json"),
    ("timeline",), ("timeline", "--png"),
])
def test_reports_are_private_and_never_replace_or_follow(capture, tmp_path, victim, command):
    name, *options = command
    suffix = ".png" if options == ["--png"] else ".svg" if name == "timeline" else ".out"
    options = [o for o in options if o != "--png"]
    out = tmp_path / f"new{suffix}"
    memscope(name, capture, *options, "-o", out)
    assert mode(out) == 0o600 and out.stat().st_size > 0
    existing = tmp_path / f"existing{suffix}"
    os.link(victim, existing)
    refused(name, capture, *options, "-o", existing,
            message=f"memscope: '{existing}' already exists (use --force to replace it)")
    link = tmp_path / f"link{suffix}"
    link.symlink_to(victim)
    refused(name, capture, *options, "-o", link, "--force",
            message=f"memscope: cannot replace '{link}': not a regular file")
    memscope(name, capture, *options, "-o", existing, "--force")
    assert victim.read_text() == SECRET and mode(victim) == 0o644
    assert mode(existing) == 0o600


def test_report_default_name_is_not_replaced(capture, tmp_path):
    html = tmp_path / "prog.html"
    html.write_text("mine")
    refused("report", capture,
            message=f"memscope: '{html}' already exists (use --force to replace it)")
    assert html.read_text() == "mine"


@pytest.mark.parametrize("how", [("--graph", "list", "-o", "g.svg"),
                                 ("--graph", "list", "-o", "g.dot"),
                                 ("--export", "heapsnapshot", "-o", "g.heapsnapshot")])
def test_heap_pictures_and_exports_never_replace_or_follow(tmp_path, victim, how):
    snap = tmp_path / "app.heap"
    api.dump_heap(snap)
    *options, name = how
    out = tmp_path / name
    memscope("heap", snap, *options, out)
    assert mode(out) == 0o600 and out.stat().st_size > 0
    refused("heap", snap, *options, out,
            message=f"memscope: '{out}' already exists (use --force to replace it)")
    out.unlink()
    out.symlink_to(victim)
    refused("heap", snap, *options, out, "--force",
            message=f"memscope: cannot replace '{out}': not a regular file")
    assert victim.read_text() == SECRET


def test_a_path_with_a_nul_byte_is_refused_not_cut(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="null byte"):
        api.Tracker("victim\0.msc")
    with pytest.raises(ValueError, match="null byte"):
        api._memscope.start("victim\0.msc", [])
    with pytest.raises(ValueError, match="null byte"):
        api.dump_heap("victim\0.heap")
    assert api._memscope.recording() is None
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("command, name", [
    (command, name)
    for command in [("report",), ("flamegraph",), ("timeline",), ("export", "--format", "json")]
    for name in ["same", "hard link", "symbolic link"]
    if not (command == ("timeline",) and name == "same")  # timeline wants .svg, .png, .html
])
def test_an_output_that_is_the_input_is_refused(capture, tmp_path, command, name):
    out = capture
    if name == "hard link":
        out = tmp_path / "other.svg"
        os.link(capture, out)
    elif name == "symbolic link":
        out = tmp_path / "other.svg"
        out.symlink_to(capture)
    before = capture.read_bytes()
    refused(*command[:1], capture, *command[1:], "-o", out, "--force",
            message=f"memscope: '{out}' is the input file: write the output to another file")
    assert capture.read_bytes() == before


def test_a_heap_export_over_its_snapshot_is_refused(tmp_path):
    snap = tmp_path / "app.heap"
    api.dump_heap(snap)
    before = snap.read_bytes()
    refused("heap", snap, "--export", "heapsnapshot", "-o", snap, "--force",
            message=f"memscope: '{snap}' is the input file: write the output to another file")
    assert snap.read_bytes() == before


def test_run_does_not_record_over_its_own_script(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(PROGRAM)
    refused("run", "-o", script, "--force", script,
            message=f"memscope: '{script}' is the program to run: write the capture to another "
                    "file")
    assert script.read_text() == PROGRAM


HOSTILE = "\x1b]0;owned\x07\x1b[2J\rX\nY\x9b"
HOSTILE_SHOWN = r"\x1b]0;owned\x07\x1b[2J\x0dX\x0aY\xc2\x9b"
HOSTILE_PROGRAM = textwrap.dedent("""\
    import sys, memscope
    NAME = %r
    ns = {}
    exec(compile("def f():\\n    return bytearray(300_000)\\n",
                 NAME + ".py", "exec"), ns)
    f = ns["f"]
    f.__code__ = f.__code__.replace(co_name=NAME, co_qualname=NAME)
    keep = f()
    Evil = type(NAME, (), {})
    cycles = [Evil() for _ in range(50)]
    for c in cycles:
        c.me = c
    del c
    cycles = None
    memscope.dump_heap(sys.argv[1])
    """ % HOSTILE)


def no_raw_controls(text):
    """No terminal control byte but the newlines ending lines."""
    return not any((ord(ch) < 0x20 and ch != "\n") or 0x7F <= ord(ch) <= 0x9F for ch in text)


@pytest.fixture
def hostile(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(HOSTILE_PROGRAM)
    capture, snap = tmp_path / "prog.msc", tmp_path / "app.heap"
    memscope("run", "-o", capture, script, snap)
    return capture, snap


@pytest.mark.parametrize("command", [("stats",), ("table",), ("table", "--by", "function"),
                                     ("tree",), ("heap", "--by", "type", "--limit", "0"),
                                     ("heap", "--cycles"),
                                     ("heap", "--retained")])
def test_control_characters_in_names_are_escaped(hostile, command):
    capture, snap = hostile
    name, *options = command
    out = memscope(name, snap if name == "heap" else capture, *options).stdout
    assert no_raw_controls(out)
    if command != ("heap", "--retained"):
        assert HOSTILE_SHOWN in out


def test_json_keeps_the_names_exact(hostile):
    capture, _ = hostile
    rows = json.loads(memscope("table", capture, "--by", "function", "--json").stdout)["rows"]
    assert any(r["file"] == HOSTILE + ".py" and r["function"] == HOSTILE for r in rows)


def test_every_argument_is_kept_or_counted(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text("import sys\nprint(len(sys.argv))\n")
    args = [f"argument-{i}" for i in range(2000)]
    memscope("run", "-o", tmp_path / "a.msc", script, *args)
    doc = json.loads(memscope("stats", tmp_path / "a.msc", "--json").stdout)
    assert doc["argv"] == [str(script), *args] and doc["argv_omitted"] == 0
    many = ["x" * 1000] * 2000  # 2 MB: more than a header holds
    memscope("run", "-o", tmp_path / "b.msc", script, *many)
    doc = json.loads(memscope("stats", tmp_path / "b.msc", "--json").stdout)
    kept = len(doc["argv"]) - 1
    assert 0 < kept < 2000 and doc["argv"][1:] == many[:kept]
    assert doc["argv_omitted"] == 2000 - kept
    text = memscope("stats", tmp_path / "b.msc").stdout
    assert f" ... ({2000 - kept} more arguments not recorded)\n" in text


def test_relative_outputs_are_resolved_before_the_program_changes_directory(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent("""\
        import os
        os.chdir("elsewhere")
        pid = os.fork()
        if pid == 0:
            data = bytearray(1_000_000)
            os._exit(0)
        os.waitpid(pid, 0)
        print(pid)
        """))
    proc = memscope("run", "--follow-fork", "-o", "rel.msc", "--heap-at-exit", "rel.heap",
                    "prog.py", cwd=tmp_path)
    child = proc.stdout.strip()
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["elsewhere", "prog.py", "rel.msc", f"rel.msc.{child}", "rel.heap"])
    assert os.listdir(tmp_path / "elsewhere") == []
    assert mode(tmp_path / f"rel.msc.{child}") == 0o600


@pytest.mark.parametrize("how", [
    "os.execv('/bin/true', ['/bin/true'])",
    "os.execlp('true', 'true')",
    "os.execve('/bin/true', ['/bin/true'], dict(os.environ))",
])
def test_forked_children_that_exec_leave_no_capture(tmp_path, how):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent(f"""\
        import os, subprocess, sys
        pid = os.fork()
        if pid == 0:
            {how}
        os.waitpid(pid, 0)
        subprocess.run(["/bin/true"], preexec_fn=lambda: None, check=True)
        subprocess.run(["/bin/true"], check=True)
        os.spawnv(os.P_WAIT, "/bin/true", ["/bin/true"])
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        print(pid)
        """))
    proc = memscope("run", "--follow-fork", "-o", "cap.msc", "prog.py", cwd=tmp_path)
    recorded = proc.stdout.strip()  # the one child that ran Python and exited
    assert sorted(os.listdir(tmp_path)) == ["cap.msc", f"cap.msc.{recorded}", "prog.py"]


def test_a_class_name_over_64_kib_keeps_the_snapshot_readable(tmp_path):
    huge = type("C" * 70_000, (), {})
    keep = [huge() for _ in range(3)]
    snap = tmp_path / "app.heap"
    api.dump_heap(snap)
    out = memscope("heap", snap, "--by", "type", "--limit", "0").stdout
    assert f"{__name__}." + "C" * 100 in out
    assert keep


def test_a_long_type_name_is_found_by_its_whole_name(tmp_path):
    name = "L" * 60_000
    long_named = type(name, (), {})
    keep = long_named()
    snap = tmp_path / "app.heap"
    api.dump_heap(snap)
    dot = tmp_path / "g.dot"
    memscope("heap", snap, "--graph", name, "-o", dot)
    assert "L" * 200 in dot.read_text()
    found = json.loads(memscope("heap", snap, "--path-to", f"{__name__}.{name}", "--json").stdout)
    assert found["target"]["type"].startswith(f"{__name__}." + "L" * 300)  # shown cut
    assert keep


def test_a_tracker_with_a_relative_path_survives_a_change_of_directory(tmp_path, monkeypatch):
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path)
    tracker = api.Tracker("rel.msc").start()
    try:
        os.chdir("elsewhere")
        blob = bytearray(5_000_000)
        current, _ = api.get_traced_memory()
    finally:
        written = tracker.stop()
    assert current >= 5_000_000 and blob
    assert written == str(tmp_path / "rel.msc")
    assert os.listdir(tmp_path / "elsewhere") == []
    assert mode(tmp_path / "rel.msc") == 0o600


def test_run_keeps_the_capture_and_the_snapshot_apart_from_the_script(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(PROGRAM)
    refused("run", "--force", "--heap-at-exit", script, "-o", tmp_path / "a.msc", script,
            message=f"memscope: '{script}' is the program to run: write the heap snapshot to "
                    "another file")
    same = tmp_path / "same.out"
    refused("run", "--force", "--heap-at-exit", same, "-o", same, script,
            message=f"memscope: '{same}' is both the capture and the heap snapshot: name two "
                    "files")
    assert script.read_text() == PROGRAM and os.listdir(tmp_path) == ["prog.py"]
