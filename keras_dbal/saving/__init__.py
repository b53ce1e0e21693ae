"""Checkpoints that lose no label, and the lock on a state directory.

`ActiveLearner.save` / `ActiveLearner.load` and `checkpoint_dir` use them;
the errors and the warning below are what a user may meet. `replacing`
writes any file of yours the same way: whole, or not at all.
"""

from keras_dbal.saving.atomic import replacing
from keras_dbal.saving.checkpoint import CheckpointError
from keras_dbal.saving.checkpoint import CheckpointWarning
from keras_dbal.saving.locking import StateLockedError

__all__ = [
    "CheckpointError",
    "CheckpointWarning",
    "StateLockedError",
    "replacing",
]
