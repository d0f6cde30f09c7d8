"""Workload: numpy and pandas, as a data-science script runs them.

Builds numpy arrays and their temporaries (arithmetic, boolean masks,
sorting), a pandas DataFrame with numeric, string and categorical columns,
then groups, joins and aggregates it. Allocation pattern: few large buffers
from numpy's allocator (reported through PyTraceMalloc_Track, and malloc
underneath), many small Python objects for the string column and pandas'
own bookkeeping.
"""
import numpy as np
import pandas as pd

from _harness import main, profile


def arrays(rng, n):
    """Array arithmetic with temporaries; returns a checksum."""
    a = rng.random(n)
    b = rng.integers(0, 1000, n)
    c = a * 2.5 + b                       # temporaries for each operation
    mask = c > c.mean()
    d = np.sort(c[mask])
    return int(d[: n // 10].sum()) + int(mask.sum())


def frame(rng, n):
    """A DataFrame grouped, merged and aggregated; returns a checksum."""
    df = pd.DataFrame({
        "key": rng.integers(0, 500, n),
        "value": rng.random(n),
        "name": [f"user-{i % 2000}" for i in range(n)],
    })
    df["kind"] = pd.Categorical(df["key"] % 7)
    sums = df.groupby("key")["value"].sum().reset_index()
    joined = df.merge(sums, on="key", suffixes=("", "_sum"))
    joined["share"] = joined["value"] / joined["value_sum"]
    top = joined.sort_values("share").tail(n // 100)
    return len(top) + int(joined["share"].sum()) + df["name"].str.len().sum()


@profile
def run(scale):
    """Arrays and frames, several rounds; return a checksum."""
    rng = np.random.default_rng(3)
    total = 0
    for _ in range(max(1, int(4 * scale))):
        total += arrays(rng, 2_000_000)
        total += frame(rng, 200_000)
    return int(total)


if __name__ == "__main__":
    main(run)
