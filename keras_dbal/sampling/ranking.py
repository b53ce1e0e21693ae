"""The n best pool items of a scan, kept as the chunks' scores arrive."""

import numpy as np

__all__ = ["RunningTopN"]


class RunningTopN:
    """The n highest-scoring `(position, score)` pairs seen so far.

    Memory stays at n pairs however long the scan. Equal scores are
    ordered by a random key drawn from `rng` as the pairs arrive, so ties
    never favour the start of the pool.

    Args:
        n: How many to keep.
        rng: A `numpy.random.Generator` for the tie-breaking keys.
    """

    def __init__(self, n, rng):
        self.n = n
        self._rng = rng
        self.positions = np.empty(0, dtype="int64")
        self.scores = np.empty(0, dtype="float32")
        self._keys = np.empty(0)

    def add(self, positions, scores):
        """Merge one chunk's positions and scores.

        Raises:
            ValueError: a score is not finite.
        """
        if not np.all(np.isfinite(scores)):
            raise ValueError(
                "The acquisition function returned non-finite scores "
                f"for pool positions {positions[~np.isfinite(scores)]}."
            )
        keys = np.concatenate([self._keys, self._rng.random(len(scores))])
        positions = np.concatenate([self.positions, positions])
        scores = np.concatenate([self.scores, scores])
        order = np.lexsort((keys, -scores))[:self.n]
        self.positions = positions[order]
        self.scores = scores[order]
        self._keys = keys[order]
