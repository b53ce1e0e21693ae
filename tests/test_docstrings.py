"""Every public class documents every argument of its constructor."""

import inspect

import pytest

import keras_dbal

# File formats, commands and checks that do not depend on the Keras
# backend: CI runs this module under TensorFlow only.
pytestmark = pytest.mark.backend_independent

PUBLIC_CLASSES = [
    getattr(keras_dbal, name) for name in keras_dbal.__all__
    if inspect.isclass(getattr(keras_dbal, name))
]
PUBLIC_FUNCTIONS = [keras_dbal.gal_cnn]


@pytest.mark.parametrize(
    "obj", PUBLIC_CLASSES + PUBLIC_FUNCTIONS, ids=lambda obj: obj.__name__
)
def test_arguments_are_documented(obj):
    signature = inspect.signature(
        obj.__init__ if inspect.isclass(obj) else obj
    )
    doc = inspect.getdoc(obj) or ""
    missing = [
        name for name, parameter in signature.parameters.items()
        if name != "self"
        and parameter.kind not in (parameter.VAR_KEYWORD,
                                   parameter.VAR_POSITIONAL)
        and f"{name}:" not in doc
        and f"{name}," not in doc
    ]
    assert not missing, f"{obj.__name__} does not document {missing}"


def test_public_names_resolve():
    for name in keras_dbal.__all__:
        assert hasattr(keras_dbal, name), name
