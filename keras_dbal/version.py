"""The version of keras_dbal (a module of its own, so any module may read
it without importing the package)."""

__version__ = "0.1.0.dev0"
