"""Tools around the learner: labelling by hand, plots, the command line.

The `keras-dbal` command (`keras_dbal.tools.cli`) is built on these.
"""

from keras_dbal.tools.label_files import LabelFileError
from keras_dbal.tools.label_files import LabelFileWarning
from keras_dbal.tools.labelling import init_session
from keras_dbal.tools.labelling import pending_round
from keras_dbal.tools.labelling import query_session
from keras_dbal.tools.labelling import teach_session
from keras_dbal.tools.plotting import plot_learning_curves

__all__ = [
    "LabelFileError",
    "LabelFileWarning",
    "init_session",
    "pending_round",
    "plot_learning_curves",
    "query_session",
    "teach_session",
]
