"""Workload: string building, the way report and log code does it.

Formats rows with f-strings and ``%``, accumulates them with ``str.join`` and
``io.StringIO``, then splits, strips, upper-cases and re-joins the text like a
CSV/templating pass. Allocation pattern: many short strings of varied sizes,
a few large buffers that grow and are dropped each round.
"""
import io
import random

from _harness import main, profile


def render_rows(rng, n):
    """Return ``n`` formatted CSV-ish lines."""
    rows = []
    for i in range(n):
        name = "item-%05d" % rng.randrange(100000)
        price = rng.random() * 1000
        rows.append(f"{i},{name},{price:.2f},{'yes' if price > 500 else 'no'}")
    return rows


def transform(text):
    """Split ``text`` into fields, rewrite them and return the new text."""
    out = io.StringIO()
    for line in text.splitlines():
        fields = line.split(",")
        fields[1] = fields[1].upper().replace("ITEM", "SKU")
        out.write(" | ".join(f.strip() for f in fields))
        out.write("\n")
    return out.getvalue()


@profile
def run(scale):
    """Render, join and transform blocks of rows; return a checksum."""
    rng = random.Random(3)
    total = 0
    for _ in range(int(30 * scale)):
        text = "\n".join(render_rows(rng, 8000))
        result = transform(text)
        total += len(result) + result.count("yes")
    return total


if __name__ == "__main__":
    main(run)
