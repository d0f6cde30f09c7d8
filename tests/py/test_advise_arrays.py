"""memscope advise on numpy arrays and pandas columns (dtype, downcast,
category): each program is run as it was, which writes the heap snapshot
the advice comes from, and with the advice applied (astype); the saving
the advice predicted must be within 10% of the one measured, by
tracemalloc (numpy reports its buffers to it) and, for DataFrames, by
pandas' memory_usage(deep=True)."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("numpy")
pytest.importorskip("pandas")

from conftest import ROOT, memscope  # noqa: E402

HARNESS = '''
import gc, sys, tracemalloc, memscope
import numpy as np, pandas as pd
after = sys.argv[2] == "after"
tracemalloc.start()
start = tracemalloc.get_traced_memory()[0]
frame = None
{build}
gc.collect()
used = tracemalloc.get_traced_memory()[0] - start
tracemalloc.stop()
if not after:
    memscope.dump_heap(sys.argv[1])
deep = int(frame.memory_usage(deep=True).sum()) if frame is not None else 0
print(used, deep)
'''

PROGRAMS = {
    # int64 holding values below 2^15: int16.
    "dtype-int": ("dtype", "int16", '''
readings = np.arange(2_000_000, dtype=np.int64) % 20_000
if after:
    readings = readings.astype(np.int16)
'''),
    # float64 whose values are exactly float32s (read from a float32 source).
    "dtype-float": ("dtype", "float32", '''
signal = np.linspace(0.0, 1.0, 1_000_000, dtype=np.float32).astype(np.float64)
if after:
    signal = signal.astype(np.float32)
'''),
    # Two int64 columns of small numbers, in one block.
    "downcast": ("downcast", "int16", '''
n = 500_000
frame = pd.DataFrame({"age": np.arange(n) % 90, "visits": np.arange(n) % 1000})
if after:
    frame = frame.astype({"age": "int16", "visits": "int16"})
'''),
    # Row labels that fit int32: the index, not a column.
    "downcast-index": ("downcast", "index.astype(\"int32\")", '''
n = 500_000
frame = pd.DataFrame({"price": np.ones(n, dtype=np.float32)}, index=np.arange(n) * 7)
if after:
    frame.index = frame.index.astype("int32")
'''),
    # An object column of separate copies of five values, as a file read gives them.
    "category": ("category", "category", '''
cities = ["lisbon", "porto", "braga", "faro", "evora"]
names = ["".join(list(cities[i % 5])) + "-district" for i in range(300_000)]
frame = pd.DataFrame({"city": pd.Series(names, dtype=object)})
del names
if after:
    frame["city"] = frame["city"].astype("category")
'''),
    # The same in pandas' default string dtype, whose values are an object
    # array inside a StringArray.
    "category-str": ("category", "category", '''
cities = ["lisbon", "porto", "braga", "faro", "evora"]
names = ["".join(list(cities[i % 5])) + "-district" for i in range(300_000)]
frame = pd.DataFrame({"city": names})
del names
if after:
    frame["city"] = frame["city"].astype("category")
'''),
}


def run(tmp_path, name, version):
    script = tmp_path / "prog_arrays.py"
    script.write_text(HARNESS.format(build=textwrap.dedent(PROGRAMS[name][2])))
    heap = tmp_path / f"{name}-{version}.heap"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    out = subprocess.run([sys.executable, str(script), str(heap), version], env=env,
                         capture_output=True, text=True, check=True).stdout
    used, deep = map(int, out.split())
    return heap, used, deep


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_predicted_saving_is_the_measured_one(tmp_path, name):
    rule, dtype = PROGRAMS[name][:2]
    heap, before, deep_before = run(tmp_path, name, "before")
    _, after, deep_after = run(tmp_path, name, "after")
    advice = json.loads(memscope("advise", heap, "--json", "--limit", "0").stdout)["advice"]
    mine = [a for a in advice if a["rule"] == rule]
    assert len(mine) == 1, advice
    assert dtype in mine[0]["title"] + mine[0]["change"]
    predicted = mine[0]["bytes_saved"]
    measured = before - after
    assert measured > 1_000_000
    assert abs(predicted - measured) <= 0.10 * measured, (predicted, measured, mine[0])
    if deep_before:  # pandas' own count agrees too
        measured = deep_before - deep_after
        assert abs(predicted - measured) <= 0.10 * measured, (predicted, measured)


def test_pandas_advice_names_the_dataframe(tmp_path):
    heap, _, _ = run(tmp_path, "category", "before")
    advice = json.loads(memscope("advise", heap, "--json", "--limit", "0").stdout)["advice"]
    category = next(a for a in advice if a["rule"] == "category")
    assert "DataFrame sys.modules['__main__'].__dict__['frame']" in category["title"]
    assert "300000 values with 5 distinct ones" in category["title"]
    # A plain numpy array is named by its own path, with the dtype rule.
    heap, _, _ = run(tmp_path, "dtype-int", "before")
    advice = json.loads(memscope("advise", heap, "--json", "--limit", "0").stdout)["advice"]
    dtype = next(a for a in advice if a["rule"] == "dtype")
    assert dtype["title"] == "Store sys.modules['__main__'].__dict__['readings'] as int16"
    assert not [a for a in advice if a["rule"] in ("downcast", "category")]


def test_values_that_need_the_width_get_no_dtype_advice(tmp_path):
    script = tmp_path / "wide.py"
    script.write_text(textwrap.dedent('''
        import sys, numpy as np, memscope
        wide = np.arange(1_000_000, dtype=np.int64) * 5_000  # up to 5e9: needs int64
        precise = np.linspace(0.0, 1.0, 1_000_000)            # not float32 values
        memscope.dump_heap(sys.argv[1])
    '''))
    heap = tmp_path / "wide.heap"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    subprocess.run([sys.executable, str(script), str(heap)], check=True, env=env)
    advice = json.loads(memscope("advise", heap, "--json", "--limit", "0").stdout)["advice"]
    assert not [a for a in advice if a["rule"] == "dtype"], advice


# Each dtype the walker reads, with values that fit a narrower one (or not):
# the element size comes from numpy's type number, the values from the
# buffer, so each is checked against what numpy itself says.
DTYPES = '''
import sys, numpy as np, memscope
n = 100_000
arrays = {
    "i2": np.arange(n, dtype=np.int16) % 100,
    "i4": np.arange(n, dtype=np.intc) % 30_000,
    "q": np.arange(n, dtype=np.longlong) % 100,
    "neg": np.arange(-n // 2, n // 2, dtype=np.int64),
    "u8": np.arange(n, dtype=np.uint64) * 1000,
    "u2": np.arange(n, dtype=np.uint16) % 200,
    "f8": np.full(n, 0.5),
    "fortran": np.asfortranarray((np.arange(n, dtype=np.int64) % 50).reshape(400, 250)),
    "f4": np.arange(n, dtype=np.float32),      # float32 is as narrow as the rule goes
    "big": (np.arange(n) % 100).astype(">i8"),  # not in native order: left alone
    "wide": np.arange(n, dtype=np.int64) << 40,
}
globals().update(arrays)
memscope.dump_heap(sys.argv[1])
'''

EXPECTED = {"i2": "int8", "i4": "int16", "q": "int8", "neg": "int32", "u8": "uint32",
            "u2": "uint8", "f8": "float32", "fortran": "int8"}


def test_each_dtype_read_from_its_buffer(tmp_path):
    import numpy as np
    script = tmp_path / "dtypes.py"
    script.write_text(DTYPES)
    heap = tmp_path / "dtypes.heap"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    subprocess.run([sys.executable, str(script), str(heap)], check=True, env=env)
    advice = json.loads(memscope("advise", heap, "--json", "--limit", "0").stdout)["advice"]
    found = {}
    for a in advice:
        if a["rule"] == "dtype":
            name = a["title"].split("['")[-1].split("']")[0]
            found[name] = (a["title"].rsplit(" ", 1)[1], a["bytes_saved"])
    itemsize = {"i2": 2, "i4": np.dtype(np.intc).itemsize, "q": np.dtype(np.longlong).itemsize,
                "neg": 8, "u8": 8, "u2": 2, "f8": 8, "fortran": 8}
    assert {k: v[0] for k, v in found.items()} == EXPECTED
    for name, to in EXPECTED.items():
        assert found[name][1] == 100_000 * (itemsize[name] - np.dtype(to).itemsize), name
