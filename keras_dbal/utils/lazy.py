"""Packages whose public names load from their modules on first use.

`keras-dbal --help` must not start a Keras backend, so a package that the
command line reads from (its light modules) cannot import its heavy ones
when it is imported: it names where each public name lives instead.
"""

import importlib
import sys


def exports(package, homes):
    """`(__getattr__, __dir__)` for `package` (PEP 562).

    Args:
        package: The package's `__name__`.
        homes: `{public name: module of the package defining it}`.
    """

    def __getattr__(name):
        if name not in homes:
            raise AttributeError(
                f"module {package!r} has no attribute {name!r}"
            )
        module = importlib.import_module(f"{package}.{homes[name]}")
        return getattr(module, name)

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(homes))

    return __getattr__, __dir__
