"""The pytest plugin from a user's side: a pytest session in a subprocess
with --memscope, limit_memory and limit_leaks markers, checked by the lines
it prints and its exit code."""
import os
import re
import subprocess
import sys
import textwrap

import pytest

from conftest import _TREE


def pytest_session(tmp_path, source, *args):
    (tmp_path / "test_user.py").write_text(textwrap.dedent(source))
    env = dict(os.environ, PYTHONPATH=str(_TREE / "python"))
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "memscope.pytest_plugin",
                           "-p", "no:cacheprovider", "-q", "test_user.py", *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_limit_memory_fails_over_the_limit_and_names_the_line(tmp_path):
    proc = pytest_session(tmp_path, """
        import pytest

        @pytest.mark.limit_memory("1 MB")
        def test_over():
            block = bytearray(3_000_000)

        @pytest.mark.limit_memory("10 MB")
        def test_under():
            block = bytearray(3_000_000)
    """)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 1 passed" in proc.stdout
    match = re.search(r"Test was limited to 1 MB but its peak was 2\.9 MiB \(([\d,]+) bytes\); "
                      r"at the peak:\n +2\.9 MiB  (\S+):6 in test_over\n", proc.stdout)
    assert match, proc.stdout
    assert 3_000_000 <= int(match.group(1).replace(",", "")) < 3_010_000
    assert match.group(2) == str(tmp_path / "test_user.py")


def test_limit_leaks_finds_a_leak(tmp_path):
    proc = pytest_session(tmp_path, """
        import pytest

        kept = []

        @pytest.mark.limit_leaks("10 KB")
        def test_leaks():
            kept.append(bytearray(100_000))
    """)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(r"Test was limited to 10 KB kept alive per run but kept 9[78]\.\d KiB per "
                     r"run over 5 runs \(after 2 warm-up runs\); still held at the end:\n"
                     r" +488\.\d KiB  \S+test_user\.py:8 in test_leaks\n", proc.stdout), \
        proc.stdout


def test_limit_leaks_does_not_cry_wolf(tmp_path):
    # Each of these keeps memory the first time only: caches that fill once.
    proc = pytest_session(tmp_path, """
        import functools, logging, re
        import pytest

        @functools.lru_cache(maxsize=None)
        def table(n):
            return [str(i) for i in range(n)]

        @pytest.mark.limit_leaks("1 KB")
        def test_caches():
            re.compile(r"(\\d+)-(\\w+)")
            logging.getLogger("app.part").info("hello %s", 1)
            table(10_000)
            temporary = {i: str(i) for i in range(50_000)}

        @pytest.mark.limit_leaks("1 KB")
        def test_nothing_kept():
            data = [bytearray(1000) for _ in range(1000)]
    """)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout


def test_memscope_option_prints_the_top_tests(tmp_path):
    proc = pytest_session(tmp_path, """
        def test_big():
            block = bytearray(8_000_000)

        def test_churn():
            for _ in range(20):
                block = bytearray(1_000_000)

        def test_small():
            block = bytearray(1000)
    """, "--memscope", "--memscope-dir", "caps")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    peak = proc.stdout.split("memscope: top 3 tests by peak memory")[1]
    rows = [line.split()[-1] for line in peak.splitlines()[2:5]]
    assert rows == ["test_user.py::test_big", "test_user.py::test_churn",
                    "test_user.py::test_small"], proc.stdout
    allocated = proc.stdout.split("memscope: top 3 tests by bytes allocated")[1]
    first = allocated.splitlines()[2].split()
    assert first[-1] == "test_user.py::test_churn"
    assert first[2:4] == ["19.1", "MiB"], first
    captures = sorted(p.name for p in (tmp_path / "caps").iterdir())
    assert captures == ["test_user.py_test_big.msc", "test_user.py_test_churn.msc",
                        "test_user.py_test_small.msc"]


def test_bad_size_is_a_clear_error(tmp_path):
    proc = pytest_session(tmp_path, """
        import pytest

        @pytest.mark.limit_memory("lots")
        def test_it():
            pass
    """)
    assert proc.returncode == 1
    assert "not a size: 'lots' (write it as 24MB, 512KiB or 1000)" in proc.stdout


@pytest.mark.parametrize("text, expected", [("24 MB", 24_000_000), ("512KiB", 524_288),
                                            ("1000", 1000), ("1.5 GiB", 1_610_612_736)])
def test_sizes_read_as_the_command_line_reads_them(text, expected):
    from memscope.pytest_plugin import parse_size
    assert parse_size(text) == expected


def test_works_under_xdist(tmp_path):
    proc = pytest_session(tmp_path, """
        import pytest

        def test_big():
            block = bytearray(8_000_000)

        def test_small():
            block = bytearray(1000)

        @pytest.mark.limit_memory("1 MB")
        def test_over():
            block = bytearray(3_000_000)
    """, "-n", "2", "--memscope")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 2 passed" in proc.stdout
    assert "Test was limited to 1 MB but its peak was 2.9 MiB" in proc.stdout
    # The workers' numbers reach the controller's summary.
    peak = proc.stdout.split("memscope: top 3 tests by peak memory")[1]
    rows = [line.split()[-1] for line in peak.splitlines()[2:5]]
    assert rows == ["test_user.py::test_big", "test_user.py::test_over",
                    "test_user.py::test_small"], proc.stdout
