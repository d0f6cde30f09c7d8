"""Workload: a large peak, like loading a dataset into memory.

Builds an in-memory table of about 600,000 row objects (tuples of ints,
floats and strings, grouped by key in a dict of lists), aggregates it, then
drops it all at once. Allocation pattern: a steep climb to a peak of several
hundred megabytes of small objects, then a mass free.
"""
import random

from _harness import main, profile


def load(rng, n):
    """Return a dict mapping 1,000 group keys to lists of row tuples."""
    groups = {}
    for i in range(n):
        key = f"g{i % 1000}"
        groups.setdefault(key, []).append((i, rng.random(), f"row-{i}", i * 3))
    return groups


def aggregate(groups):
    """Return the sum over groups of the largest value column."""
    return sum(int(max(row[1] for row in rows) * 1000) for rows in groups.values())


@profile
def run(scale):
    """Load, aggregate and release the table; return a checksum."""
    rng = random.Random(5)
    groups = load(rng, int(600_000 * scale))
    total = aggregate(groups) + sum(len(rows) for rows in groups.values())
    del groups
    return total


if __name__ == "__main__":
    main(run)
