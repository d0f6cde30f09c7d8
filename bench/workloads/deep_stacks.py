"""Workload: recursive descent parsing, allocating from deep stacks.

Generates arithmetic expressions, tokenises them and parses them with a
recursive-descent parser into tuple trees, then evaluates the trees
recursively. Allocations happen 20-60 Python frames deep, which is what makes
full-stack recording expensive.
"""
import random

from _harness import main, profile


def gen_expr(rng, depth):
    """Return a random expression string of nesting ``depth``."""
    if depth == 0:
        return str(rng.randrange(1, 100))
    op = rng.choice("+-*")
    return f"({gen_expr(rng, depth - 1)} {op} {gen_expr(rng, rng.randrange(depth))})"


def tokenize(text):
    """Split ``text`` into number and operator tokens."""
    return text.replace("(", " ( ").replace(")", " ) ").split()


def parse(tokens, pos):
    """Parse an expression at ``tokens[pos]``; return (tree, next position)."""
    if tokens[pos] == "(":
        left, pos = parse(tokens, pos + 1)
        op = tokens[pos]
        right, pos = parse(tokens, pos + 1)
        return (op, left, right), pos + 1
    return ("num", int(tokens[pos])), pos + 1


def evaluate(tree):
    """Evaluate a parsed tree modulo a prime, building a result list per node."""
    if tree[0] == "num":
        return [tree[1]]
    left, right = evaluate(tree[1])[0], evaluate(tree[2])[0]
    if tree[0] == "+":
        return [(left + right) % 1000003]
    if tree[0] == "-":
        return [(left - right) % 1000003]
    return [(left * right) % 1000003]


@profile
def run(scale):
    """Parse and evaluate a few thousand deep expressions; return a checksum."""
    rng = random.Random(6)
    total = 0
    for _ in range(int(1200 * scale)):
        tokens = tokenize(gen_expr(rng, 14))
        tree, _ = parse(tokens, 0)
        total += evaluate(tree)[0]
    return total


if __name__ == "__main__":
    main(run)
