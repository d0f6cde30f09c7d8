"""Sampled recording (--sample / Tracker(sample=...)): unbiased estimates
within the statistical error the sampling rate allows, exact pairing of
sampled frees, and the capture saying it was sampled."""
import json
import textwrap

import memscope
from conftest import memscope as cli


def rows(capture, at):
    return json.loads(cli("table", capture, "--at", at, "--limit", 0, "--json").stdout)["rows"]


def at_line(table, line):
    return sum(r["bytes"] for r in table if r["line"] == line and r["file"].endswith("prog.py"))


WORKLOAD = textwrap.dedent("""\
    keep = [bytes(200) for _ in range(250_000)]          # ~58 MB live to the end
    for i in range(200_000):
        tmp = str(i) * 20                                # churn, all freed
    big = bytearray(30_000_000)
    """)


def test_sampled_estimates_are_within_their_error(run_script, tmp_path):
    """The exact capture of the same program is the ground truth. With
    R = 16 KiB the relative standard error of a site of B bytes is about
    sqrt(R / B): 1.7% for the 60 MB line, 1.8% for the 49 MB of churn; 8% is
    more than four standard errors."""
    exact, _ = run_script(WORKLOAD)
    sampled = tmp_path / "sampled.msc"
    cli("run", "-o", sampled, "--sample", "16KiB", tmp_path / "prog.py", cwd=tmp_path)
    assert json.loads(cli("stats", sampled, "--json").stdout)["sample_bytes"] == 16384
    for view, line in (("peak", 1), ("peak", 4), ("total", 3)):
        truth = at_line(rows(exact, view), line)
        estimate = at_line(rows(sampled, view), line)
        assert truth > 20_000_000
        assert abs(estimate - truth) <= 0.08 * truth, (view, line, estimate, truth)


def test_sampled_frees_pair_up_exactly(run_script):
    capture, _ = run_script(WORKLOAD, extra=("--sample", "16KiB"))
    assert at_line(rows(capture, "exit"), 3) == 0   # every sampled temporary was freed


def test_tracker_sample_parameter(tmp_path):
    path = tmp_path / "sampled.msc"
    with memscope.Tracker(path, sample=128 * 1024):
        blob = bytearray(10_000_000)
    del blob
    s = json.loads(cli("stats", path, "--json").stdout)
    assert s["sample_bytes"] == 128 * 1024
    assert 9_900_000 <= s["peak_bytes"] <= 10_300_000
    out = cli("stats", path).stdout
    assert "estimates" in out


def test_bad_sample_values_are_usage_errors(tmp_path):
    for value in ("0", "lots", "-5"):
        proc = cli("run", "--sample", value, "-c", "pass", check=False, cwd=tmp_path)
        assert proc.returncode == 2 and proc.stderr.startswith("memscope: ")
