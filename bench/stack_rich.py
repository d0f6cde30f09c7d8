"""A stack-rich program for the report benchmark: 300 functions, each its
own code, calling each other along random paths 3 to 12 deep (seeded, so
every run is the same), each path ending in an allocation, so almost every
allocation has a stack of its own, as in big real programs (sympy,
networkx) with many modules and varied call paths. The live set is a
sliding window.

    python bench/stack_rich.py [CALLS]      # default 200,000
"""
import random
import sys

FUNCTIONS = 300
SOURCE = """
def f{i}(depth):
    if depth == 0:
        held.append(bytearray({size}))
        if len(held) > 20000:
            del held[:10000]
        return
    CALLS[random.randrange(FUNCTIONS)](depth - 1)
"""

held = []
namespace = {"held": held, "random": random, "FUNCTIONS": FUNCTIONS}
for i in range(FUNCTIONS):
    exec(compile(SOURCE.format(i=i, size=16 + i), f"<generated f{i}>", "exec"), namespace)
CALLS = namespace["CALLS"] = [namespace[f"f{i}"] for i in range(FUNCTIONS)]


def main(calls):
    random.seed(1)
    for _ in range(calls):
        CALLS[random.randrange(FUNCTIONS)](random.randrange(3, 12))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
