"""IPython and Jupyter magics: ``%load_ext memscope``, then

    %memscope STATEMENT     the statement's peak and the lines that made it
    %%memscope              the cell, line by line, with exact memory

In a notebook the cell magic's result also renders as memscope's HTML report,
inline and self-contained (an iframe of the same page ``memscope report``
writes; it fetches nothing).

A cell is compiled from a file holding its source, so the line table can
show each line's text, and run in the notebook's namespace under a
recording of its own.
"""
import atexit
import html
import os
import shutil
import subprocess
import tempfile
from typing import Optional

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

from memscope import _memscope
from memscope.__main__ import _cli

_TOP = 5


class Result:
    """What a magic measured: its text (the terminal view) and, in a
    notebook, the HTML report (``_repr_html_``)."""

    def __init__(self, text: str, summary: dict, report_html: Optional[str]):
        self.text = text
        self.peak_bytes = summary["peak_bytes"]
        self.total_allocated_bytes = summary["total_allocated_bytes"]
        self._report_html = report_html

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        body = f"<pre>{html.escape(self.text)}</pre>"
        if self._report_html is None:
            return body
        frame = (f'<iframe srcdoc="{html.escape(self._report_html, quote=True)}" '
                 f'style="width:100%;height:720px;border:1px solid #ccc" '
                 f'sandbox="allow-scripts"></iframe>')
        return body + frame


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


@magics_class
class MemscopeMagics(Magics):
    def __init__(self, shell):
        super().__init__(shell)
        self._cells = tempfile.mkdtemp(prefix="memscope-cells-")
        self._count = 0
        atexit.register(shutil.rmtree, self._cells, True)

    def _run(self, source: str, mode: str):
        """Compiles source from a file of its own, runs it under a recording;
        returns (capture, summary, source file, capture path)."""
        if _memscope.recording() is not None:
            raise RuntimeError("memscope is already recording this process; "
                               "the magic cannot record inside it")
        self._count += 1
        path = os.path.join(self._cells, f"cell{self._count}.py")
        with open(path, "x") as f:
            f.write(source)
        code = compile(source, path, mode)
        capture_path = os.path.join(self._cells, f"cell{self._count}.msc")
        ns = self.shell.user_ns
        _memscope.start(capture_path, [path], root=1)
        try:
            exec(code, ns)
        finally:
            _memscope.stop()
        capture = _memscope.Capture(capture_path)
        capture.advance()
        return capture, capture.summary(), path, capture_path

    @line_magic("memscope")
    def line(self, line: str) -> None:
        """%memscope STATEMENT: runs it, prints its peak and the top lines."""
        capture, summary, path, _ = self._run(line, "exec")
        rows = capture.table(at="peak", by="line", limit=_TOP)
        text = [f"peak {_size(summary['peak_bytes'])}, allocated "
                f"{_size(summary['total_allocated_bytes'])}"]
        for r in rows:
            where = "<statement>" if r["file"] == path else f"{r['file']}:{r['line']}"
            text.append(f"  {_size(r['bytes']):>10}  {where} in {r['function']}")
        print("\n".join(text))
        return None

    @cell_magic("memscope")
    def cell(self, line: str, cell: str) -> Optional[Result]:
        """%%memscope: runs the cell; prints its exact line-by-line table or,
        in a notebook, returns it with the HTML report."""
        capture, summary, path, capture_path = self._run(cell, "exec")
        text = capture.lines(path, 1, max(1, cell.count("\n") + 1))
        if not _in_notebook():
            print(text)
            return None
        return Result(text, summary, _report_html(capture_path))


def _in_notebook() -> bool:
    from IPython import get_ipython
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _report_html(capture_path: str) -> str:
    out = capture_path[:-4] + ".html"
    subprocess.run([_cli(), "report", capture_path, "-o", out], check=True,
                   capture_output=True)
    with open(out, encoding="utf-8") as f:
        return f.read()


def load(ipython) -> None:
    ipython.register_magics(MemscopeMagics(ipython))
