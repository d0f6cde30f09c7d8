"""%%memscope in a real notebook: cells executed by a Jupyter kernel through
nbclient, as a notebook server runs them; the cell's output carries the
line table as text and the HTML report inline, self-contained."""
import html
import json
import os
import re
import subprocess
import sys

from conftest import _TREE

RUN = '''
import json, nbformat
from nbclient import NotebookClient
nb = nbformat.v4.new_notebook()
nb.cells = [nbformat.v4.new_code_cell(c) for c in json.loads(input())]
NotebookClient(nb, timeout=120, kernel_name="python3").execute()
print(json.dumps([c.get("outputs", []) for c in nb.cells]))
'''


def notebook(*cells):
    env = dict(os.environ, PYTHONPATH=str(_TREE / "python"))
    proc = subprocess.run([sys.executable, "-c", RUN], input=json.dumps(cells), env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_cell_magic_shows_the_table_and_the_report():
    outputs = notebook("%load_ext memscope",
                       "%%memscope\nblock = bytearray(5_000_000)\nsmall = [0] * 1000\n",
                       "print(len(block))")
    [result] = outputs[1]
    text, page = result["data"]["text/plain"], result["data"]["text/html"]
    assert re.search(r"^ +1 +4\.8 MiB +4\.8 MiB +\d+ +4\.8 MiB +block = bytearray", text, re.M)
    assert text in html.unescape(page)
    frame = re.search(r'<iframe srcdoc="([^"]*)"', page)
    assert frame and 'sandbox="allow-scripts"' in page
    report = html.unescape(frame.group(1))
    assert report.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in report
    assert not re.search(r"""(src|href)=["']?https?:""", report)
    assert outputs[2][0]["text"] == "5000000\n"
