"""memscope's pytest plugin: the memory of each test, limits on it, and leak
tests that do not cry wolf.

Installed with memscope (a ``pytest11`` entry point); in a checkout, load it
with ``-p memscope.pytest_plugin``::

    pytest --memscope                    # the top tests by peak and by allocated bytes
    pytest --memscope --memscope-dir caps/   # and keep each test's capture

    @pytest.mark.limit_memory("24 MB")   # fails when the test's peak is higher
    def test_load(): ...

    @pytest.mark.limit_leaks("1 MB")     # fails when each run of the test keeps
    def test_handler(): ...              # more than 1 MB more alive than the last

Only the test's call phase is recorded (not its fixtures), with every
allocation's full stack, so a failure names the lines responsible. Sizes are
written as the command line takes them: ``5MB`` is 5,000,000 bytes,
``5MiB`` 5,242,880. The marker names and meanings match pytest-memray's.

A leak test runs the test body ``warmups`` times unrecorded (so caches,
interned strings, imported modules and free lists settle), then ``repeats``
times recorded, collecting garbage after each. It fails only when memory
still alive grew in every recorded repetition and by more than the limit per
repetition on average: a one-time cache fills once, a leak grows every time.
Function-scoped fixtures are set up once for all repetitions.
"""
import gc
import os
import re
import tempfile
from typing import Dict, List, Tuple

import _pytest as _pytest_pkg
import pluggy
import pytest

import memscope as memscope_pkg
from memscope import _follow, _memscope

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 10**6, "mb": 10**6,
          "mib": 2**20, "g": 10**9, "gb": 10**9, "gib": 2**30}
_KEY = "memscope"  # the user_properties entry that carries a test's numbers


def parse_size(text) -> int:
    """Bytes from ``"24 MB"``, ``"512KiB"``, ``1000`` (the CLI's rules).

    >>> parse_size("1.5 KiB")
    1536
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool) and text >= 0:
        return int(text)
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*", str(text))
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError(f"not a size: {text!r} (write it as 24MB, 512KiB or 1000)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def format_size(n: float) -> str:
    """``"24.0 MiB"``: binary units, one decimal, as memscope's reports show."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def pytest_addoption(parser):
    group = parser.getgroup("memscope", "memory profiling with memscope")
    group.addoption("--memscope", action="store_true",
                    help="record every test and show the tests with the highest peak and "
                         "the most bytes allocated")
    group.addoption("--memscope-dir", metavar="DIR",
                    help="keep each recorded test's capture in DIR (implies --memscope)")
    group.addoption("--memscope-top", type=int, default=5, metavar="N",
                    help="how many tests each --memscope table shows (default 5)")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "limit_memory(size): fail when the test's peak memory is above size, "
                   "e.g. limit_memory(\"24 MB\")")
    config.addinivalue_line(
        "markers", "limit_leaks(size, warmups=2, repeats=5): run the test repeatedly and "
                   "fail when memory kept alive grows by more than size per run")
    config.pluginmanager.register(_Summary(config), "memscope-summary")


def _record_all(config) -> bool:
    return bool(config.getoption("--memscope") or config.getoption("--memscope-dir"))


def _capture_path(item, tmp: str) -> str:
    where = item.config.getoption("--memscope-dir")
    if not where:
        return os.path.join(tmp, "test.msc")
    os.makedirs(where, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid).strip("_")[:200]
    return os.path.join(where, name + ".msc")


# The test runner's own lines (pytest, pluggy, this plugin) are left out of
# the lines a failure names: they are how the test was called, not what it did.
_RUNNER_DIRS = tuple(os.path.dirname(m.__file__) + os.sep
                     for m in (pytest, _pytest_pkg, pluggy, memscope_pkg))


def _top_lines(capture, at: str, limit: int = 5) -> str:
    rows = [r for r in capture.table(at=at, by="line")
            if not r["file"].startswith(_RUNNER_DIRS)][:limit]
    return "\n".join(f"    {format_size(r['bytes']):>10}  {r['file']}:{r['line']} in "
                     f"{r['function']}" for r in rows)


def _limit(marker) -> Tuple[int, str]:
    """A marker's size in bytes, and as the user wrote it."""
    text = marker.args[0] if marker.args else marker.kwargs["limit"]
    return parse_size(text), text if isinstance(text, str) else format_size(parse_size(text))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    limit = item.get_closest_marker("limit_memory")
    leaks = item.get_closest_marker("limit_leaks")
    if not (limit or leaks or _record_all(item.config)):
        return (yield)
    if _memscope.recording() is not None:
        item.warn(pytest.PytestWarning(
            "memscope: another capture is recording this process; the test's memory is "
            "not measured"))
        return (yield)
    original = item.runtest
    if leaks:
        item.runtest = lambda: _leak_test(item, original, leaks)
    else:
        item.runtest = lambda: _measured(item, original, limit)
    try:
        return (yield)
    finally:
        del item.runtest


def _measured(item, run, limit) -> None:
    """Runs the test once under a Tracker; records its numbers and checks
    limit_memory."""
    with tempfile.TemporaryDirectory(prefix="memscope-pytest-") as tmp:
        path = _capture_path(item, tmp)
        _memscope.start(path, [item.nodeid], force=True)
        try:
            run()
        finally:
            _memscope.stop()
        capture = _memscope.Capture(path)
        capture.advance()
        summary = capture.summary()
        item.user_properties.append((_KEY, {
            "peak_bytes": summary["peak_bytes"],
            "total_allocated_bytes": summary["total_allocated_bytes"]}))
        if limit is None:
            return
        allowed, text = _limit(limit)
        if summary["peak_bytes"] > allowed:
            pytest.fail(f"Test was limited to {text} but its peak was "
                        f"{format_size(summary['peak_bytes'])} "
                        f"({summary['peak_bytes']:,} bytes); at the peak:\n"
                        f"{_top_lines(capture, 'peak')}", pytrace=False)


def _leak_test(item, run, marker) -> None:
    allowed, text = _limit(marker)
    warmups = int(marker.kwargs.get("warmups", 2))
    repeats = int(marker.kwargs.get("repeats", 5))
    if repeats < 2:
        raise pytest.UsageError("limit_leaks needs repeats of at least 2")
    for _ in range(warmups):
        run()
    with tempfile.TemporaryDirectory(prefix="memscope-pytest-") as tmp:
        path = _capture_path(item, tmp)
        _memscope.start(path, [item.nodeid], force=True)
        try:
            alive = [_alive_now()]
            for _ in range(repeats):
                run()
                alive.append(_alive_now())
        finally:
            _memscope.stop()
        capture = _memscope.Capture(path)
        capture.advance()
    growth = [b - a for a, b in zip(alive, alive[1:])]
    per_run = (alive[-1] - alive[0]) / repeats
    item.user_properties.append((_KEY, {"leaked_bytes_per_run": int(per_run)}))
    if min(growth) > 0 and per_run > allowed:
        pytest.fail(f"Test was limited to {text} kept alive per run but "
                    f"kept {format_size(per_run)} per run over {repeats} runs (after "
                    f"{warmups} warm-up runs); still held at the end:\n"
                    f"{_top_lines(capture, 'exit')}", pytrace=False)


def _alive_now() -> int:
    """Bytes recorded and still alive, after a full collection."""
    gc.collect()
    capture = _follow.advanced()
    return capture.summary()["current_bytes"]


class _Summary:
    """Collects each test's numbers and prints the top tables. Its
    logreport hook runs in the controller under pytest-xdist too: the
    numbers travel in each report's user_properties."""

    def __init__(self, config):
        self.config = config
        self.results: List[Tuple[str, Dict[str, int]]] = []

    def pytest_runtest_logreport(self, report):
        if report.when != "call":
            return
        for key, value in report.user_properties:
            if key == _KEY and "peak_bytes" in value:
                self.results.append((report.nodeid, value))

    def pytest_terminal_summary(self, terminalreporter):
        if not self.results or not _record_all(self.config):
            return
        top = self.config.getoption("--memscope-top")
        for key, title in (("peak_bytes", "peak memory"),
                           ("total_allocated_bytes", "bytes allocated")):
            terminalreporter.write_sep("=", f"memscope: top {min(top, len(self.results))} "
                                            f"tests by {title}")
            terminalreporter.write_line(f"{'Peak':>11} {'Allocated':>11}  Test")
            for nodeid, value in sorted(self.results, key=lambda r: -r[1][key])[:top]:
                terminalreporter.write_line(
                    f"{format_size(value['peak_bytes']):>11} "
                    f"{format_size(value['total_allocated_bytes']):>11}  {nodeid}")
        where = self.config.getoption("--memscope-dir")
        if where:
            terminalreporter.write_line(f"memscope: each test's capture is in {where}")
