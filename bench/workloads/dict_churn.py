"""Workload: dictionary churn, as in caches, counters and indexes.

Runs an LRU cache (``OrderedDict``) over a skewed key stream, counts words
with ``collections.Counter``, builds and discards per-batch indexes with dict
comprehensions and merges dicts with ``|``. Allocation pattern: dict tables
resized up and down, tuple keys and small int/str values created and freed.
"""
import collections
import random

from _harness import main, profile


def lru_pass(rng, cache, capacity, n):
    """Look up ``n`` skewed keys in an LRU cache; return the hit count."""
    hits = 0
    for _ in range(n):
        key = ("k", int(rng.paretovariate(1.2)) % 50000)
        if key in cache:
            cache.move_to_end(key)
            hits += 1
        else:
            cache[key] = [key[1]] * 4
            if len(cache) > capacity:
                cache.popitem(last=False)
    return hits


def index_batch(rng, n):
    """Build, merge and query throw-away dicts for a batch of ``n`` records."""
    records = [(rng.randrange(5000), f"w{rng.randrange(2000)}") for _ in range(n)]
    by_id = {rid: word for rid, word in records}
    counts = collections.Counter(word for _, word in records)
    merged = by_id | {k: str(v) for k, v in counts.items()}
    return len(merged) + counts.most_common(1)[0][1]


@profile
def run(scale):
    """Alternate LRU passes and index batches; return a checksum."""
    rng = random.Random(4)
    cache = collections.OrderedDict()
    total = 0
    for _ in range(int(28 * scale)):
        total += lru_pass(rng, cache, 5000, 12000)
        total += index_batch(rng, 12000)
    return total


if __name__ == "__main__":
    main(run)
