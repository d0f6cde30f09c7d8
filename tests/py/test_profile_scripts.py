"""memory_profiler's scripts unchanged: a bare @profile (the builtin
`python -m memory_profiler` provides) works under memscope run and prints
each decorated function's exact line table when the program ends,
generators included; and @memscope.profile inside a running capture says
in one line why it prints no table of its own."""
import os
import re
import subprocess
import sys
import textwrap

from conftest import _TREE

SCRIPT = """\
@profile
def load():
    data = [bytearray(1000) for _ in range(2000)]
    return len(data)

@profile
def chunks():
    for i in range(3):
        yield bytearray(1_000_000)

print(load(), sum(len(c) for c in chunks()))
"""


def table_rows(out, filename):
    """{line: row text} of each table printed for filename."""
    tables = out.split(f"Filename: {filename}\n")[1:]
    return [{int(m.group(1)): m.group(2) for m in re.finditer(r"^ +(\d+) (.*)$", t, re.M)}
            for t in tables]


def test_bare_profile_prints_each_table_at_exit(run_script, tmp_path):
    capture, proc = run_script(SCRIPT)
    assert proc.returncode == 0
    first = proc.stdout.splitlines()[0]
    assert first == "2000 3000000"
    load, chunks = table_rows(proc.stdout, str(tmp_path / "prog.py"))
    # 2,000 bytearrays of 1,001 bytes and their objects, on line 3, all held
    # by `data` at the peak and freed when load() returns (At exit blank).
    assert re.match(r" +2\.0 MiB +2\.[01] MiB +[\d,]+ {10,}data = \[bytearray\(1000\)",
                    load[3]), load
    assert set(load) == {1, 2, 3, 4}
    # The generator's line allocated three 1 MB blocks over its life.
    assert set(chunks) == {6, 7, 8, 9}
    assert re.search(r"2\.9 MiB +\d+ +yield bytearray\(1_000_000\)", chunks[9]), chunks


def test_profile_inside_a_running_capture_says_why(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent("""\
        import memscope

        @memscope.profile
        def work():
            return [0] * 1000

        with memscope.Tracker("run.msc"):
            work()
            work()
        """))
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=str(_TREE / "python")))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (f"memscope.profile: work is not profiled on its own while "
                           f"'{tmp_path / 'run.msc'}' records; its lines are in that capture "
                           f"(memscope lines {tmp_path / 'run.msc'})\n")
