"""A service-style leak: a module-level cache that only grows, next to
request data that is freed properly.

    memscope run examples/leaky_cache.py
    memscope table memscope-leaky_cache.*.msc --at exit
"""
import json

_cache = {}


def handle(request_id):
    payload = json.dumps({"id": request_id, "items": list(range(50))})
    parsed = json.loads(payload)
    _cache[request_id] = payload          # never evicted: grows with traffic
    return sum(parsed["items"])


def main():
    total = 0
    for request_id in range(20_000):
        total += handle(request_id)
    print("handled", len(_cache), "requests, checksum", total)


if __name__ == "__main__":
    main()
