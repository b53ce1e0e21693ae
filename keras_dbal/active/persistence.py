"""Saving and continuing an `ActiveLearner`: its checkpoint methods.

What a checkpoint holds and how it is read back is
`keras_dbal.active.learner_state` (and, below it, `keras_dbal.saving`);
this mixin is the learner's side of it: the store it writes on every
`teach`, `save`, `load` and the lock it releases on `close`.
"""

import keras_dbal.active.learner_state as learner_state

__all__ = ["Checkpointed"]


class Checkpointed:
    """The checkpoint methods of `ActiveLearner` (see there). The class
    sets `_store`, the `learner_state.Store` of its `checkpoint_dir` or
    None."""

    @property
    def checkpoint_dir(self):
        """The state directory every `teach` checkpoints into, or None."""
        return None if self._store is None else self._store.directory

    def close(self):
        """Release `checkpoint_dir`'s lock; no more checkpoints are written."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def checkpoint(self, *, needs_fit=False):
        """Write a checkpoint into `checkpoint_dir` now.

        Args:
            needs_fit: Record that labels were added but not fitted yet.
        """
        if self._store is None:
            raise ValueError(
                "This learner has no `checkpoint_dir`; use save(directory)."
            )
        return self._store.write(self, needs_fit=needs_fit)

    def save(self, directory, *, needs_fit=False):
        """Write the whole learner state into a state directory, atomically
        (see `keras_dbal.saving`), under the directory's lock.

        Args:
            directory: The state directory (created if missing).
            needs_fit: Record that labels were added but not fitted yet;
                `load` then refits.

        Returns:
            The path of the new checkpoint.
        """
        return learner_state.save(
            self, directory, needs_fit=needs_fit, store=self._store
        )

    @classmethod
    def load(cls, directory, *, pool=None, acquisition=None, **overrides):
        """Continue a learner from the newest intact checkpoint.

        It holds the directory's lock until `close()` (a later load in the
        same process takes it over). A damaged newest checkpoint is moved
        aside with a `CheckpointWarning`; one saved between adding labels
        and fitting is refitted; one of an older checkpoint format is
        upgraded in place (`keras_dbal.saving.formats`).

        Args:
            directory: The state directory.
            pool: The `Pool` it was taught from, if any: checked against
                the saved fingerprint, and its labels restored.
            acquisition: A custom acquisition function (which cannot be
                saved), or another acquisition to continue with.
            **overrides: Constructor arguments to change. `fit_kwargs`
                are merged into the saved ones; any that could not be
                saved (callbacks) must be given again.

        Raises:
            CheckpointError: no intact checkpoint, an unknown format, a
                pool that does not match, or fit arguments to give again.
            StateLockedError: another process is using the directory.
        """
        return learner_state.load(
            cls, directory, pool=pool, acquisition=acquisition,
            overrides=overrides,
        )

    def _restore(self, state, store):
        """Take the attributes `load` read back, and the store (internal)."""
        for name, value in state.items():
            setattr(self, name, value)
        self._store = store
