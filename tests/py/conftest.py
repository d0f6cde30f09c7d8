"""Shared fixtures: the checkout's package on sys.path, the CLI binary, and a
helper that runs a script under ``memscope run`` and returns its capture."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# MEMSCOPE_BUILD names a sanitizer build tree (build-asan) with its own CLI
# and package; by default the checkout's bin/ and python/.
_BUILD = os.environ.get("MEMSCOPE_BUILD")
_TREE = ROOT / _BUILD if _BUILD else ROOT
sys.path.insert(0, str(_TREE / "python"))

CLI = _TREE / "bin" / "memscope"


def memscope(*args, check=True, env=None, **kw):
    """Runs the CLI; returns the CompletedProcess (text mode)."""
    full_env = dict(os.environ, MEMSCOPE_PYTHON=sys.executable)
    full_env.update(env or {})
    proc = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True,
                          env=full_env, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"memscope {' '.join(map(str, args))} exited "
                             f"{proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


@pytest.fixture
def run_script(tmp_path):
    """run_script(source, *args) writes source to prog.py, records it, and
    returns (capture_path, completed_process)."""
    def run(source, *args, check=True, extra=(), env=None):
        script = tmp_path / "prog.py"
        script.write_text(source)
        capture = tmp_path / "prog.msc"
        proc = memscope("run", "-o", capture, *extra, script, *args, check=check,
                        cwd=tmp_path, env=env)
        return capture, proc
    return run
