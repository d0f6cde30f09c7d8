"""memscope tree and memscope export: the call tree in the terminal, folded
stacks, speedscope and the JSON call tree, each checked against what
`memscope stats` says about the same capture."""
import gzip
import json
import os
import pty
import re
import subprocess
import sys

import pytest

from conftest import CLI, ROOT, memscope

# The frames of big's list comprehension, outermost first: its own frame
# under big before 3.12, inlined into big from 3.12 on (PEP 709).
BIG = ["big"] + (["big.<locals>.<listcomp>"] if sys.version_info < (3, 12) else [])

PROGRAM = """\
def big():
    return [bytearray(1000) for _ in range(20000)]

def small():
    return [str(i) * 10 for i in range(5000)]

def outer():
    a = big()
    b = small()
    return a, b

keep = outer()
del keep
leak = [bytearray(100) for _ in range(300)]
"""


@pytest.fixture
def capture(run_script):
    path, _ = run_script(PROGRAM)
    return path


def stats(path):
    return json.loads(memscope("stats", path, "--json").stdout)


def test_tree_shows_the_biggest_path_first(capture):
    out = memscope("tree", capture).stdout
    assert "\033[" not in out  # piped: no colours
    lines = out.splitlines()
    assert lines[0].startswith("Live at peak:")
    frames = [l for l in lines[2:] if l.strip()]
    assert re.match(r"\s*100\.0%\s+\S+ \S+\s+all$", frames[0])
    # The first path down the tree is the biggest: <module> -> outer -> big.
    path = ["<module>", "outer", *BIG]
    names = [re.split(r"[\u2500 ]+", l.split("\u2500 ", 1)[1])[0]
             for l in frames[1:1 + len(path)]]
    assert names == path
    big = frames[len(path)]
    assert "prog.py:2" in big
    assert float(big.split("%")[0]) > 90


def test_tree_depth_min_percent_and_inverted(capture):
    shallow = memscope("tree", capture, "--depth", "1").stdout
    assert "<module>" in shallow and "outer" not in shallow
    folded = memscope("tree", capture, "--min-percent", "50").stdout
    assert "small" not in folded and "more frame" in folded
    inverted = memscope("tree", capture, "--inverted", "--depth", "1").stdout.splitlines()
    assert BIG[-1] + "  " in inverted[3]  # the allocating frame comes first
    leaks = memscope("tree", capture, "--at", "exit", "--min-percent", "0").stdout
    assert "prog.py:14" in leaks and "big" not in leaks


def on_terminal(*args, env=None):
    """Runs the CLI with stdout on a pseudo-terminal; returns what it printed."""
    main, sub = pty.openpty()
    full_env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    full_env.update(env or {})
    proc = subprocess.Popen([str(CLI), *map(str, args)], stdout=sub, env=full_env)
    os.close(sub)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO once the program has closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    assert proc.wait(timeout=60) == 0
    return b"".join(chunks).decode()


def test_tree_colours_on_a_terminal_unless_no_color(capture):
    assert "\033[" in on_terminal("tree", capture)
    assert "\033[" not in on_terminal("tree", capture, env={"NO_COLOR": "1"})


def parse_collapsed(text):
    rows = []
    for line in text.splitlines():
        stack, _, value = line.rpartition(" ")
        rows.append((stack.split(";"), int(value)))
    return rows


def test_collapsed_stacks_add_up_to_each_view(capture):
    s = stats(capture)
    want = {"peak": s["peak_bytes"], "exit": s["leaked_bytes"],
            "total": s["total_allocated_bytes"]}
    for view, total in want.items():
        rows = parse_collapsed(memscope("export", capture, "--format", "collapsed",
                                        "--at", view).stdout)
        assert sum(v for _, v in rows) == total, view
    rows = parse_collapsed(memscope("export", capture, "--format", "collapsed").stdout)
    stack, value = max(rows, key=lambda r: r[1])
    assert stack[0].startswith("<module> (") and stack[0].endswith("prog.py:12)")
    assert [f.split(" (")[0] for f in stack] == ["<module>", "outer", *BIG]
    assert value >= 20000 * 1000


def test_speedscope_file(capture, tmp_path):
    out = tmp_path / "x.speedscope.json"
    memscope("export", capture, "--format", "speedscope", "--at", "total", "-o", out)
    doc = json.loads(out.read_text())
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    frames = doc["shared"]["frames"]
    profile = doc["profiles"][0]
    assert profile["type"] == "sampled" and profile["unit"] == "bytes"
    assert len(profile["samples"]) == len(profile["weights"])
    assert sum(profile["weights"]) == profile["endValue"] == stats(capture)["total_allocated_bytes"]
    assert all(0 <= i < len(frames) for sample in profile["samples"] for i in sample)
    names = [(f["name"], f.get("line")) for f in frames]
    assert len(names) == len(set((f["name"], f.get("file"), f.get("line")) for f in frames))
    assert (BIG[-1], 2) in names


def check_node(node):
    """Inclusive values are self plus the children's, children largest first."""
    kids = node["children"]
    assert node["bytes"] == node["self_bytes"] + sum(k["bytes"] for k in kids)
    assert node["allocations"] == node["self_allocations"] + sum(k["allocations"] for k in kids)
    assert [k["bytes"] for k in kids] == sorted((k["bytes"] for k in kids), reverse=True)
    for k in kids:
        assert set(k) >= {"file", "function", "line", "bytes", "allocations"}
        check_node(k)


def test_json_tree(capture, tmp_path):
    s = stats(capture)
    out = tmp_path / "tree.json"
    memscope("export", capture, "--format", "json", "-o", out)
    doc = json.loads(out.read_text())
    assert doc["view"] == "peak"
    assert doc["total_bytes"] == doc["tree"]["bytes"] == s["peak_bytes"]
    assert doc["tree"]["function"] == "all" and doc["tree"]["file"] is None
    check_node(doc["tree"])
    module = doc["tree"]["children"][0]
    assert module["function"] == "<module>" and module["file"].endswith("prog.py")
    exit_doc = json.loads(memscope("export", capture, "--format", "json", "--at", "exit").stdout)
    assert exit_doc["total_bytes"] == s["leaked_bytes"]


def test_export_usage_errors(capture, tmp_path):
    for args in (["--format", "svg"], [], ["--at", "noon", "--format", "json"]):
        proc = memscope("export", capture, *args, check=False)
        assert proc.returncode == 2, args
        assert proc.stdout == "" and "Traceback" not in proc.stderr
    bad = tmp_path / "bad.msc"
    bad.write_bytes(b"not a capture at all")
    proc = memscope("export", bad, "--format", "json", check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and f"cannot read '{bad}'" in proc.stderr
    proc = memscope("tree", bad, check=False)
    assert proc.returncode == 2 and f"cannot read '{bad}'" in proc.stderr
    proc = memscope("export", capture, "--format", "json", "-o", tmp_path / "no" / "x.json",
                    check=False)
    assert proc.returncode == 2 and "cannot write" in proc.stderr
    for cmd in ("tree", "export"):
        help_text = memscope(cmd, "--help").stdout
        assert "examples:" in help_text


def decode_pprof(path):
    """The profile as protoc prints it, decoded against our profile.proto."""
    raw = gzip.decompress(path.read_bytes())
    proc = subprocess.run(["protoc", f"--proto_path={ROOT / 'src' / 'report'}",
                           "--decode", "perftools.profiles.Profile", "pprof.proto"],
                          input=raw, capture_output=True, check=True)
    return proc.stdout.decode()


def pprof_totals(text):
    """Sums each sample type's values over the samples; the string table."""
    totals, strings, values, in_sample = [0, 0, 0, 0], [], [], False
    for line in text.splitlines():
        if line == "sample {":
            in_sample, values = True, []
        elif line == "}" and in_sample:
            in_sample = False
            totals = [t + v for t, v in zip(totals, values)]
        elif in_sample and line.strip().startswith("value:"):
            values.append(int(line.split(":")[1]))
        elif line.startswith("string_table:"):
            strings.append(json.loads(line.split(":", 1)[1]))
    return totals, strings


def test_pprof_decodes_and_adds_up(capture, tmp_path):
    s = stats(capture)
    out = tmp_path / "prof.pb.gz"
    memscope("export", capture, "--format", "pprof", "-o", out)
    assert out.read_bytes()[:2] == b"\x1f\x8b"  # gzip
    text = decode_pprof(out)
    totals, strings = pprof_totals(text)
    assert totals == [s["allocations"], s["total_allocated_bytes"], s["peak_allocations"],
                      s["peak_bytes"]]
    assert strings[0] == ""
    assert strings[1:7] == ["alloc_objects", "count", "alloc_space", "bytes", "inuse_objects",
                            "inuse_space"]
    assert BIG[-1] in strings and any(x.endswith("prog.py") for x in strings)
    assert "function {" in text and "location {" in text and "line: 2" in text
    memscope("export", capture, "--format", "pprof", "--at", "exit", "-o", out, "--force")
    totals, _ = pprof_totals(decode_pprof(out))
    assert totals[2:] == [s["leaked_allocations"], s["leaked_bytes"]]
