"""Tools around the learner: labelling by hand, plots, the command line.

The `keras-dbal` command (`keras_dbal.tools.cli`) is built on these. The
names below load on first use, so that the command answers `--help`
without starting a Keras backend.
"""

from keras_dbal.utils import lazy

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


__getattr__, __dir__ = lazy.exports(__name__, _HOMES)
