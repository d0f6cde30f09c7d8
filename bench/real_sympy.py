"""A symbolic-algebra program for the report benchmark (bench/README.md,
"The advice's second look at the capture"): sympy expands and
differentiates a sum of 60 products, simplifies a series, factors a 5x5
determinant and integrates, about 9 M events under `memscope run`.

    python bench/real_sympy.py          # sympy from requirements/bench.txt
"""
import sympy as sp

x, y, z = sp.symbols("x y z")
e = sum((x + i * y) ** 3 * sp.sin(z * i) for i in range(60))
out = [
    sp.diff(sp.expand(e), x, y),
    sp.simplify(sp.series(sp.exp(x) * sp.cos(x), x, 0, 10).removeO()),
    sp.factor(sp.Matrix(5, 5, lambda i, j: (x + i) ** j).det()),
    sp.integrate(sp.exp(-x) * sp.sin(x), x),
]
print(sum(len(str(o)) for o in out))
