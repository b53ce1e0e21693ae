"""The public API: exactly the README's table, every name documented.

A public module is one the README's API table names; its public names are
its `__all__`. Every other module is internal. These tests read both the
table and the modules, so a name added, moved or left undocumented fails
here rather than surprising a user.
"""

import importlib
import inspect
import pathlib
import re
import types

import pytest

import keras_dbal

pytestmark = pytest.mark.backend_independent

README = pathlib.Path(__file__).parents[1] / "README.md"
# Methods whose arguments Keras documents in the class docstring
# ("Call arguments:"), or that carry Keras's own documentation.
KERAS_METHODS = {
    "build", "call", "compute_output_shape", "from_config", "get_config",
}


def _table():
    """`{name: also}` from the README's API table: every full name in the
    first column, and the shorter names the second column gives."""
    text = README.read_text()
    section = text.split("\n## API\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`keras_dbal."):
            continue
        also = re.findall(r"`(keras_dbal[.\w]*)`", cells[1])
        rows[cells[0].strip("`")] = also
    return rows


def _resolve(full_name):
    module_name, _, name = full_name.rpartition(".")
    return getattr(importlib.import_module(module_name), name)


def _public_modules():
    return sorted({name.rpartition(".")[0] for name in _table()})


def _exported(module_name):
    module = importlib.import_module(module_name)
    return {
        f"{module_name}.{name}" for name in module.__all__
        if not isinstance(getattr(module, name), types.ModuleType)
        and name != "__version__"
    }


def _documented_objects():
    for name in sorted(_table()):
        obj = _resolve(name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            yield name, obj


def _argument_names(doc):
    """The names an `Args:` (or `Call arguments:`) section describes: the
    entries one level under the heading, `name:` or `x, y:`."""
    names, heading = set(), None
    for line in doc.splitlines():
        text = line.strip()
        indent = len(line) - len(line.lstrip())
        if text in ("Args:", "Arguments:", "Call arguments:"):
            heading = indent
        elif heading is not None and text and indent <= heading:
            heading = None
        elif heading is not None and indent == heading + 4:
            entry = re.match(r"(\*{0,2}\w+(?:, \*{0,2}\w+)*):", text)
            if entry:
                names.update(
                    name.lstrip("*") for name in entry.group(1).split(", ")
                )
    return names


def _undocumented(function, doc, skip=("self", "cls")):
    described = _argument_names(doc)
    return [
        name for name, parameter in inspect.signature(function).parameters
        .items()
        if name not in skip
        and parameter.kind not in (parameter.VAR_KEYWORD,
                                   parameter.VAR_POSITIONAL)
        and name not in described
    ]


def test_the_table_lists_every_public_name_and_nothing_else():
    table = set(_table())
    exported = set().union(*(_exported(m) for m in _public_modules()))
    assert table - exported == set(), "in the README only"
    assert exported - table == set(), "exported but not in the README"


def test_the_table_names_every_public_module():
    modules = {
        f"keras_dbal.{name}" for name in keras_dbal.__all__
        if isinstance(getattr(keras_dbal, name), types.ModuleType)
    }
    assert modules == set(_public_modules())


def test_shorter_names_are_the_same_objects():
    listed = set()
    for name, also in _table().items():
        for other in also:
            assert _resolve(other) is _resolve(name), other
            listed.add(other)
    assert _exported("keras_dbal") <= set(_table()) | listed


@pytest.mark.parametrize(
    "name, obj",
    # Ids by name only: pytest-xdist workers must collect the same ids.
    [pytest.param(name, obj, id=name) for name, obj in _documented_objects()],
)
def test_arguments_are_documented(name, obj):
    doc = inspect.getdoc(obj) or ""
    assert doc, f"{name} has no docstring"
    if inspect.isfunction(obj):
        missing = _undocumented(obj, doc)
        assert not missing, f"{name} does not document {missing}"
        return
    missing = _undocumented(obj.__init__, doc)
    assert not missing, f"{name} does not document {missing}"
    for method_name, method in vars(obj).items():
        if isinstance(method, property) and not method_name.startswith("_"):
            assert inspect.getdoc(method), f"{name}.{method_name} property"
            continue
        if isinstance(method, (classmethod, staticmethod)):
            method = method.__func__
        if (
            method_name.startswith("_")
            or method_name in KERAS_METHODS
            or not inspect.isfunction(method)
        ):
            continue
        method_doc = inspect.getdoc(method) or ""
        assert method_doc, f"{name}.{method_name} has no docstring"
        missing = _undocumented(method, method_doc)
        # An override may leave its arguments to the base method it
        # overrides, when that one documents them all (one text, not two).
        for base in obj.__mro__[1:]:
            overridden = vars(base).get(method_name)
            if missing and inspect.isfunction(overridden):
                missing = _undocumented(method, inspect.getdoc(overridden))
        assert not missing, f"{name}.{method_name} does not document {missing}"


@pytest.mark.parametrize("module_name", _public_modules())
def test_no_public_module_re_exports_a_private_helper(module_name):
    module = importlib.import_module(module_name)
    for name in module.__all__:
        assert not name.startswith("_") or name == "__version__", name
    unlisted = [
        name for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and name not in module.__all__
    ]
    assert not unlisted, (
        f"{module_name} binds {unlisted} without listing them in __all__: "
        "import them under a private name, or make them public"
    )


def test_the_checker_catches_an_undocumented_argument():
    def documented(images, seed=None):
        """Documented.

        Args:
            images: The images.
            seed: A seed.
        """

    def half(images, seed=None):
        """Draw `seed, images` at random (x, y).

        Args:
            images: The images, seed: no.
        """

    def paired(x, y):
        """Paired.

        Args:
            x, y: Test images and labels.
        """

    assert _undocumented(documented, inspect.getdoc(documented)) == []
    assert _undocumented(half, inspect.getdoc(half)) == ["seed"]
    assert _undocumented(paired, inspect.getdoc(paired)) == []
