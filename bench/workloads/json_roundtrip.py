"""Workload: JSON round trips of API-like documents.

Builds a list of nested records (users with addresses, tags and orders),
then repeatedly serialises it with ``json.dumps`` and parses it back with
``json.loads``, touching the decoded objects so the parse is not dead work.
Allocation pattern: bursts of many small dicts, lists and strings created by
the C decoder and freed a round later.
"""
import json
import random

from _harness import main, profile


def make_document(rng, n):
    """Return ``n`` user records with nested lists and dicts."""
    users = []
    for i in range(n):
        users.append({
            "id": i,
            "name": f"user{i:06d}",
            "email": f"user{i}@example.org",
            "active": rng.random() < 0.8,
            "score": round(rng.random() * 100, 3),
            "tags": [rng.choice(("a", "b", "c", "admin", "beta")) for _ in range(3)],
            "address": {"city": rng.choice(("Oslo", "Lima", "Pune")),
                        "zip": rng.randrange(10000, 99999)},
            "orders": [{"sku": rng.randrange(1000), "qty": rng.randrange(1, 5)}
                       for _ in range(rng.randrange(4))],
        })
    return {"version": 3, "users": users}


def round_trip(doc):
    """Serialise and parse ``doc``; return the parsed copy and its text length."""
    text = json.dumps(doc)
    return json.loads(text), len(text)


@profile
def run(scale):
    """Round-trip a ~4,000-user document; return a checksum of the results."""
    rng = random.Random(1)
    doc = make_document(rng, 4000)
    total = 0
    for _ in range(int(14 * scale)):
        doc, size = round_trip(doc)
        total += size + sum(u["address"]["zip"] for u in doc["users"] if u["active"])
    return total


if __name__ == "__main__":
    main(run)
