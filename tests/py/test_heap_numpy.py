"""The heap walker and data-science memory: numpy arrays count the buffer
they own, views keep their base, object arrays' elements are referents, and
a DataFrame's retained size is what pandas says it uses. Ground truth is
numpy's nbytes, sys.getsizeof and pandas' memory_usage(deep=True)."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")

import memscope  # noqa: E402
from conftest import ROOT, memscope as cli  # noqa: E402


def test_an_array_owning_200_mb_counts_200_mb():
    a = np.ones(25_000_000)  # 200 MB of float64
    assert a.nbytes == 200_000_000
    header = sys.getsizeof(np.empty(0))
    assert memscope.sizeof(a) == sys.getsizeof(a) == header + a.nbytes
    assert memscope.retained_size(a) == memscope.sizeof(a)


def test_a_view_counts_its_header_and_keeps_its_base():
    a = np.arange(1_000_000, dtype=np.int64)
    v = a[::2]
    assert v.base is a and not v.flags.owndata
    assert memscope.sizeof(v) == sys.getsizeof(v) < 200
    assert memscope.retained_size(v) == memscope.sizeof(v)  # a is held by a name too
    del a
    # Now only the view holds the array it shows: it retains the buffer.
    assert memscope.retained_size(v) == sys.getsizeof(v) + sys.getsizeof(v.base)
    chain = memscope.backrefs(v.base)
    assert chain is not None and ".base" in str(chain)


def unique_strings(n, tag):
    return ["".join([tag, "-", str(i), "-", "x" * (i % 7)]) for i in range(n)]


def test_object_array_elements_are_referents():
    o = np.array(unique_strings(5000, "obj"), dtype=object)
    expected = sys.getsizeof(o) + sum(sys.getsizeof(s) for s in o)
    assert memscope.sizeof(o) == sys.getsizeof(o)
    assert memscope.retained_size(o) == expected


def test_non_contiguous_object_array_and_its_views():
    o = np.empty((300, 40), dtype=object, order="F")
    for i, s in enumerate(unique_strings(o.size, "f")):
        o[i % 300, i // 300] = s
    del s  # the loop's name would keep the last one alive beside the array
    strings = sum(sys.getsizeof(s) for s in o.flat)
    assert memscope.retained_size(o) == sys.getsizeof(o) + strings
    view = o[::3, 1:]
    assert memscope.sizeof(view) == sys.getsizeof(view)
    # The elements are the owner's: held through a view, counted once, there.
    holder = [o, view]
    expected = sys.getsizeof(holder) + sys.getsizeof(o) + strings + sys.getsizeof(view)
    del o, view
    assert memscope.retained_size(holder) == expected


def frame(n=100_000):
    cities = ["lisbon", "porto", "braga", "faro", "evora"]
    return pd.DataFrame({
        "amount": np.arange(n, dtype=np.float64),
        "count": np.arange(n, dtype=np.int64),
        "name": pd.Series(unique_strings(n, "customer"), dtype=object),
        "city": pd.Categorical([cities[i % 5] for i in range(n)]),
        "label": unique_strings(n, "label"),  # pandas' default str dtype
    })


def test_dataframe_retained_size_agrees_with_memory_usage():
    df = frame()
    expected = int(df.memory_usage(deep=True).sum())
    retained = memscope.retained_size(df)
    # pandas counts the index and each column's arrays, with every object
    # of an object column at its sys.getsizeof; the walk counts those too,
    # plus what pandas leaves out: the DataFrame, its attributes, the block
    # manager and its blocks, and the column names' Index (a few KiB). Both
    # count a Categorical's codes and its categories once.
    assert abs(retained - expected) <= 0.05 * expected, (retained, expected)
    assert retained >= df["amount"].nbytes + df["count"].nbytes


def test_duplicates_finds_strings_repeated_in_an_object_column(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent('''
        import sys, memscope, pandas as pd
        # Separate copies of one value, as a file read gives them.
        statuses = ["".join(["pend", "ing-", "review"]) for _ in range(20_000)]
        df = pd.DataFrame({"status": pd.Series(statuses, dtype=object)})
        del statuses
        memscope.dump_heap(sys.argv[1])
    '''))
    heap = tmp_path / "df.heap"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    subprocess.run([sys.executable, str(script), str(heap)], check=True, env=env)
    data = json.loads(cli("heap", heap, "--duplicates", "--json").stdout)
    row = next(r for r in data["rows"] if r["preview"] == "pending-review")
    assert row["copies"] == 20_000
    assert row["bytes_each"] == sys.getsizeof("pending-review")
    assert row["wasted_bytes"] == 19_999 * row["bytes_each"]
    text = cli("heap", heap, "--duplicates").stdout
    assert "pending-review" in text


def test_reports_name_arrays_by_dtype_and_shape(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent('''
        import sys, memscope, numpy as np
        table = np.zeros((500_000, 3))
        column = table[:, 1]
        memscope.dump_heap(sys.argv[1])
    '''))
    heap = tmp_path / "arrays.heap"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    subprocess.run([sys.executable, str(script), str(heap)], check=True, env=env)
    out = cli("heap", heap, "--retained").stdout
    size = sys.getsizeof(np.zeros((500_000, 3)))
    assert f"'float64 (500000, 3)' retains {size} bytes" in out
    out = cli("heap", heap, "--path-to", "ndarray", "--limit", "0").stdout
    assert "['column']" in out
    data = json.loads(cli("heap", heap, "--retained", "--json").stdout)
    previews = json.dumps(data)
    assert "float64 (500000, 3)" in previews
