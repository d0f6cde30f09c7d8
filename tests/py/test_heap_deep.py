"""memscope.sizeof(obj, deep=True) counts what the object holds and stops at
what the whole program shares: modules, classes, and the globals and
builtins a function or a generator's frame only points to."""
import sys
import types

import memscope

# Ten megabytes in the globals of the module the generators come from: a
# deep size that follows a frame into its globals would count them.
SOURCE = """
BALLAST = [bytes(1000) for _ in range(10_000)]

def produce(data):
    for item in data:
        yield item
"""


def ballast_module():
    mod = types.ModuleType("deep_size_ballast")
    exec(SOURCE, mod.__dict__)
    sys.modules[mod.__name__] = mod
    return mod


def test_generator_deep_size_does_not_enter_its_globals():
    mod = ballast_module()
    try:
        data = [bytes(100 + i) for i in range(1000)]
        # By hand: the list and the 1,000 distinct bytes it holds.
        held = sys.getsizeof(data) + sum(map(sys.getsizeof, data))
        full, empty = mod.produce(data), mod.produce(())
        deep_full = memscope.sizeof(full, deep=True)
        deep_empty = memscope.sizeof(empty, deep=True)
        # The two generators differ only in the argument they hold.
        assert deep_full - deep_empty == held - sys.getsizeof(())
        # What is left (the generator, its function and code, their names)
        # is a few kilobytes, not the module's ten megabytes.
        assert held < deep_full < held + 64 * 1024
    finally:
        del sys.modules["deep_size_ballast"]


def test_function_deep_size_does_not_enter_globals_of_an_exec_namespace():
    namespace: dict = {}
    exec(SOURCE, namespace)
    gen = namespace["produce"](())
    assert memscope.sizeof(gen, deep=True) < 64 * 1024
