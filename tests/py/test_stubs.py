"""The extension's type stubs (python/memscope/_memscope.pyi) describe the
extension as built: the same functions and Capture methods, the parameter
names and defaults each docstring shows, and positional-only parameters
exactly where the extension refuses keywords."""
import ast
import re

import pytest

from conftest import ROOT
from memscope import _memscope

STUB = ROOT / "python" / "memscope" / "_memscope.pyi"  # the one the package installs


def stub_functions():
    """name -> ast.FunctionDef for the module's functions and Capture's methods."""
    tree = ast.parse(STUB.read_text())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef) and node.name == "Capture":
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    found["Capture." + item.name] = item
    return found


def extension_functions():
    """name -> callable, as the extension has them."""
    found = {n: f for n, f in vars(_memscope).items() if callable(f) and not n.startswith("__")}
    del found["Capture"]
    found.update({"Capture." + n: f for n, f in vars(_memscope.Capture).items()
                  if callable(f) and not n.startswith("__")})
    found["Capture.__init__"] = _memscope.Capture
    return found


def parameters(node):
    """(names, defaults as source text, positional-only names) of a stub function."""
    args = node.args
    names = [a.arg for a in args.posonlyargs + args.args if a.arg != "self"]
    defaults = [ast.unparse(d) for d in args.defaults]
    return names, defaults, [a.arg for a in args.posonlyargs]


def documented(func):
    """(names, defaults) from a docstring that opens with name(params), or None."""
    m = re.match(r"\w+\(([^)]*)\)", func.__doc__ or "")
    if not m:
        return None
    names, defaults = [], []
    for part in filter(None, (p.strip() for p in m.group(1).split(","))):
        name, _, default = part.partition("=")
        names.append(name)
        if default:
            defaults.append(default)
    return names, defaults


def test_the_stub_names_every_function_and_no_other():
    assert sorted(stub_functions()) == sorted(extension_functions())


@pytest.mark.parametrize("name", sorted(extension_functions()))
def test_parameters_match_the_docstring(name):
    doc = documented(extension_functions()[name])
    if doc is None:
        pytest.skip("the docstring shows no signature")
    names, defaults, _ = parameters(stub_functions()[name])
    assert (names, defaults) == doc


@pytest.mark.parametrize("name", sorted(n for n, node in stub_functions().items()
                                        if parameters(node)[2]))
def test_positional_only_parameters_refuse_keywords(name):
    # The extension refuses keywords before running anything.
    first = parameters(stub_functions()[name])[2][0]
    with pytest.raises(TypeError, match="keyword"):
        extension_functions()[name](**{first: None})


def test_the_package_says_it_is_typed():
    assert STUB.with_name("py.typed").is_file()
