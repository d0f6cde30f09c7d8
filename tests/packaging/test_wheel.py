"""The built wheel, as a user gets it: installed with pip into a fresh
virtual environment, used from a directory far from the checkout (the
`memscope` command, `python -m memscope`, `import memscope`), then
uninstalled without a trace.

scripts/test.sh builds the wheels first (scripts/wheels.sh) and points
MEMSCOPE_WHEELS at them; the wheel for the running interpreter is tested."""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

WHEELS = os.environ.get("MEMSCOPE_WHEELS")
ROOT = Path(__file__).resolve().parents[2]
PROGRAM = "blocks = [bytearray(100_000) for _ in range(50)]\nprint('done')\n"


def run(*args, **kw):
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)
    assert proc.returncode == 0, f"{args} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def wheel():
    if not WHEELS:
        pytest.skip("MEMSCOPE_WHEELS is not set (bash scripts/wheels.sh DIR builds them)")
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    found = sorted(Path(WHEELS).glob(f"memscope-*-{tag}-{tag}-manylinux*.whl"))
    assert found, f"no manylinux wheel for {tag} in {WHEELS}"
    return found[-1]


@pytest.fixture(scope="module")
def venv(tmp_path_factory, wheel):
    # A plain venv of the base interpreter: nothing from the test
    # environment or the checkout is importable in it.
    base = getattr(sys, "_base_executable", sys.executable)
    path = tmp_path_factory.mktemp("venv")
    run(base, "-m", "venv", path)
    run(path / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-index",
        "--disable-pip-version-check", wheel)
    return path


def test_wheel_carries_its_libraries(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    vendored = {n.split("/")[-1].split("-")[0] for n in names if n.startswith("memscope.libs/")}
    assert {"libzstd", "libxxhash", "libprotobuf"} <= vendored, names
    assert "memscope/_cli" in names
    assert {"memscope/py.typed", "memscope/_memscope.pyi"} <= set(names)


def test_installed_package_is_typed(venv, tmp_path):
    # PEP 561: the marker and the extension's stubs beside it, so a type
    # checker run against the installed package sees the C functions.
    code = ("import memscope, pathlib; d = pathlib.Path(memscope.__file__).parent; "
            "print((d / 'py.typed').is_file(), 'def start(' in (d / '_memscope.pyi').read_text())")
    proc = run(venv / "bin" / "python", "-c", code, cwd=tmp_path,
               env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert proc.stdout.split() == ["True", "True"]


def test_installed_command_records_and_reports(venv, tmp_path):
    far = tmp_path / "elsewhere"
    far.mkdir()
    (far / "prog.py").write_text(PROGRAM)
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MEMSCOPE_PYTHON")}
    proc = run(venv / "bin" / "memscope", "run", "-o", "prog.msc", "prog.py", cwd=far, env=clean)
    assert proc.stdout == "done\n"
    stats = run(venv / "bin" / "python", "-m", "memscope", "stats", "prog.msc", "--json",
                cwd=far, env=clean)
    assert json.loads(stats.stdout)["peak_bytes"] >= 50 * 100_000
    table = run(venv / "bin" / "memscope", "table", "prog.msc", "--at", "peak", cwd=far, env=clean)
    assert "prog.py:1" in table.stdout, table.stdout


def test_import_comes_from_the_venv(venv, tmp_path):
    code = "import memscope, sys; print(memscope.__file__); print(memscope.__version__)"
    proc = run(venv / "bin" / "python", "-c", code, cwd=tmp_path,
               env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    where, version = proc.stdout.split()
    assert Path(where).is_relative_to(venv), where
    assert version == (ROOT / "VERSION").read_text().strip()


def test_uninstall_leaves_nothing(venv):
    python = venv / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
                .stdout.strip())
    run(python, "-m", "pip", "uninstall", "--yes", "--quiet", "memscope")
    left = [p.name for p in site.iterdir() if p.name.lower().startswith("memscope")]
    assert left == []
    assert not (venv / "bin" / "memscope").exists()
