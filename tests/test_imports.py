"""The package's house rules, read from its source: imports flow one way
(no cycle, function-level imports included) and no module passes 400
lines."""

import ast
import pathlib

import pytest

import keras_dbal

pytestmark = pytest.mark.backend_independent

PACKAGE = pathlib.Path(keras_dbal.__file__).parent
MAX_LINES = 400


def _modules():
    """`{dotted name: path}` of every module in the package."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _imports(name, path, modules):
    """The package modules `name` imports anywhere in its file.

    `from a.b import c` counts `a.b` (its `__init__` runs first) and
    `a.b.c` when that is a module; `import keras_dbal` counts the package
    itself, which imports every
    public subpackage. Importing `a.b.c` does not count its parent
    packages: Python runs them first, but they are the ones that import
    their modules.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) + 1
                                          - node.level]
                base = ".".join(parent + ([base] if base else []))
            # The package named runs first (its __init__ imports what it
            # exports), then any module named in it; `from keras_dbal
            # import x` names only x (every module would otherwise import
            # the top package).
            targets = [f"{base}.{alias.name}" for alias in node.names]
            if base != "keras_dbal":
                targets.append(base)
        else:
            continue
        found.update(
            target for target in targets
            if target in modules and target != name
        )
    return found


def _cycle(edges):
    """One import cycle as a list of modules, or None."""
    state, stack = {}, []

    def visit(module):
        state[module] = "open"
        stack.append(module)
        for target in sorted(edges[module]):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[module] = "done"
        return None

    for module in sorted(edges):
        if module not in state:
            cycle = visit(module)
            if cycle:
                return cycle
    return None


def test_the_reader_sees_imports_inside_functions():
    modules = {"keras_dbal.a": None, "keras_dbal.b": None}
    source = "def f():\n    from keras_dbal import b\n"
    path = pathlib.Path("a.py")
    found = _imports_of_source("keras_dbal.a", path, source, modules)
    assert found == {"keras_dbal.b"}


def _imports_of_source(name, path, source, modules):
    class _Path(type(path)):
        def read_text(self):
            return source

    return _imports(name, _Path(path), modules)


def test_the_cycle_finder_finds_a_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert _cycle(edges) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle():
    modules = _modules()
    edges = {
        name: _imports(name, path, modules) for name, path in modules.items()
    }
    assert _cycle(edges) is None, " -> ".join(_cycle(edges))


def _reachable(edges, start):
    seen, todo = set(), [start]
    while todo:
        for target in edges[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


@pytest.mark.parametrize("lower, higher", [
    ("keras_dbal.saving", "keras_dbal.active"),
    ("keras_dbal.sampling", "keras_dbal.active"),
    ("keras_dbal.layers", "keras_dbal.sampling"),
    ("keras_dbal.utils", "keras_dbal.layers"),
    ("keras_dbal.training", "keras_dbal.active"),
    ("keras_dbal.active", "keras_dbal.experiments"),
    ("keras_dbal.experiments", "keras_dbal.tools"),
])
def test_lower_packages_never_reach_higher_ones(lower, higher):
    modules = _modules()
    edges = {
        name: _imports(name, path, modules) for name, path in modules.items()
    }
    for name in modules:
        if name == lower or name.startswith(lower + "."):
            reached = _reachable(edges, name)
            assert not {
                m for m in reached if m == higher or m.startswith(higher + ".")
            }, f"{name} reaches {higher}"


def test_the_package_itself_counts_as_an_import():
    modules = {"keras_dbal": None, "keras_dbal.a": None}
    found = _imports_of_source(
        "keras_dbal.a", pathlib.Path("a.py"), "import keras_dbal\n", modules
    )
    assert found == {"keras_dbal"}


# Modules past the ~400-line flag that are still one idea, and why. The
# flag is a smell detector, not a design rule (STYLE.md): a module that
# passes it is split by concept, or named here with the one idea it holds.
# Never split one, or shave it, to get under the count.
ONE_IDEA = {}


def test_every_long_module_is_one_named_idea():
    long = {
        str(path.relative_to(PACKAGE.parent)): lines
        for path in PACKAGE.rglob("*.py")
        if (lines := path.read_text().count("\n")) > MAX_LINES
    }
    unnamed = sorted(set(long) - set(ONE_IDEA))
    assert not unnamed, (
        f"split these by concept, or name their one idea: "
        f"{ {name: long[name] for name in unnamed} }"
    )
    # An entry outlives its reason once the module is short again.
    assert not sorted(set(ONE_IDEA) - set(long)), "no longer long"


def _private_names_by_package():
    """`{package: private names}` its classes define: `_method`s and the
    `self._attribute`s they assign."""
    found = {}
    for name, path in _modules().items():
        package = ".".join(name.split(".")[:2])
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                for item in ast.walk(node):
                    if isinstance(item, ast.FunctionDef | ast.Assign):
                        names = (
                            [item.name] if isinstance(item, ast.FunctionDef)
                            else [t.attr for t in item.targets
                                  if isinstance(t, ast.Attribute)]
                        )
                        found.setdefault(package, set()).update(
                            n for n in names
                            if n.startswith("_") and not n.startswith("__")
                        )
    return found


@pytest.mark.parametrize("package", ["keras_dbal.training",
                                     "keras_dbal.experiments"])
def test_no_package_reads_another_packages_private_attributes(package):
    # The engine and the experiments reach the learner through its public
    # hooks (begin_fit / end_fit), never through `learner._store` & co.
    private = _private_names_by_package()
    theirs = set().union(*(
        names for owner, names in private.items() if owner != package
    )) - private.get(package, set())
    reads = []
    for name, path in _modules().items():
        if not name.startswith(package):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute) and node.attr in theirs
                and not (isinstance(node.value, ast.Name)
                         and node.value.id in ("self", "cls"))
            ):
                reads.append(f"{name}:{node.lineno} .{node.attr}")
    assert not reads, reads


def test_the_private_attribute_check_can_fail():
    private = _private_names_by_package()
    assert "_store" in private["keras_dbal.active"]
    assert "_check_taught" in private["keras_dbal.active"]
