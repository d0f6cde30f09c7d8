"""The files memscope writes and the program's files it must never touch:
the capture's descriptor closed and reused by the program, outputs created
0600 without following links or replacing anything unasked, names with NUL
bytes, outputs that would overwrite their input."""
import os
import stat
import textwrap

import pytest

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
    assert proc.stderr.splitlines().count(LOST) == 1
    assert "Traceback" not in proc.stderr
    read = memscope("stats", capture, "--json", check=False)
    assert "Traceback" not in read.stderr
