"""The IPython magics from a user's side: an IPython shell in a subprocess
loads the extension and runs %memscope and %%memscope; the test reads what
the user would see."""
import os
import re
import subprocess
import sys
import textwrap

from conftest import _TREE

SESSION = '''
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "memscope")
for cell in CELLS:
    ip.run_cell(cell)
'''


def ipython(*cells):
    env = dict(os.environ, PYTHONPATH=str(_TREE / "python"))
    proc = subprocess.run([sys.executable, "-c", f"CELLS = {list(cells)!r}\n" + SESSION],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_cell_magic_prints_the_exact_line_table():
    out = ipython(textwrap.dedent("""\
        %%memscope
        a = bytearray(3_000_000)
        b = bytearray(5_000_000)
        del a
        c = [0] * 1_000_000
        print("cell ran", len(b), len(c))
        """))
    assert "cell ran 5000000 1000000" in out
    rows = {int(m.group(1)): m.group(2) for m in
            re.finditer(r"^ +(\d+) (.*)$", out, re.M)}
    # Line 1 was freed before the peak; lines 2 and 4 held the peak.
    assert re.match(r" {13,}2\.9 MiB +\d+ +a = bytearray\(3_000_000\)", rows[1]), rows[1]
    assert re.match(r" +4\.8 MiB +4\.8 MiB +\d+ +4\.8 MiB +b = bytearray", rows[2]), rows[2]
    assert re.match(r" +7\.6 MiB +7\.6 MiB +\d+ +7\.6 MiB +c = \[0\]", rows[4]), rows[4]


def test_line_magic_prints_peak_and_top_lines():
    out = ipython("def build():\n    return [0] * 1_000_000\n", "%memscope kept = build()",
                  "print(len(kept))")
    lines = out.splitlines()
    assert lines[0] == "peak 7.6 MiB, allocated 7.6 MiB", out
    assert re.match(r" +7\.6 MiB  <ipython-input-1-\w+>:2 in build$", lines[1]), out
    assert lines[-1] == "1000000"


def test_cell_keeps_the_notebook_namespace():
    out = ipython("x = 21", "%%memscope\ny = x * 2\n", "print('y is', y)")
    assert "y is 42" in out
