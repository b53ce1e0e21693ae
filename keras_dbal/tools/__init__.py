"""Tools around the learner: labelling by hand, plots, the command line.

The `keras-dbal` command (`keras_dbal.tools.cli`) is built on these. The
names below load on first use, so that the command answers `--help`
without starting a Keras backend.
"""

import importlib

# Each public name, and the module of this package that defines it.
_HOMES = {
    "LabelFileError": "label_files",
    "LabelFileWarning": "label_files",
    "init_session": "labelling",
    "pending_round": "labelling",
    "plot_learning_curves": "plotting",
    "query_session": "labelling",
    "session_status": "labelling",
    "teach_session": "labelling",
}

__all__ = sorted(_HOMES)


def __getattr__(name):
    if name not in _HOMES:
        raise AttributeError(
            f"module 'keras_dbal.tools' has no attribute {name!r}"
        )
    module = importlib.import_module(f"keras_dbal.tools.{_HOMES[name]}")
    return getattr(module, name)


def __dir__():
    return sorted(set(globals()) | set(__all__))
