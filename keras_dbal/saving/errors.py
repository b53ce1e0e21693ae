"""What reading a state directory may raise or warn about.

A module of its own because both the readers of each format
(`keras_dbal.saving.formats`) and the directory's bookkeeping
(`keras_dbal.saving.checkpoint`) raise them.
"""

__all__ = ["CheckpointError", "CheckpointWarning", "DamagedCheckpointError"]


class CheckpointError(ValueError):
    """A state directory that cannot be used, and exactly why."""


class CheckpointWarning(UserWarning):
    """A damaged checkpoint was set aside and an older one loaded."""


class DamagedCheckpointError(CheckpointError):
    """A checkpoint whose files cannot be read back as they were saved:
    the loader sets it aside and reads the one before it."""
