"""A frozen backbone's features of a pool, computed once and reused.

When a model's deterministic prefix (everything before its first
`MCDropout`; see `split_model`) has no trainable weight, a frozen
pretrained backbone say, its output for a pool image cannot change from
one round to the next: only the head is refitted. `FeatureCache` keeps
those outputs per `Pool` position, so a query runs the prefix only on
images it has not seen, and the T stochastic passes of the head on the
cached features. The cache is keyed by the pool's fingerprint and a
digest of the prefix's weights: another pool, or weights that changed
(`set_weights`, a backbone unfrozen and fine-tuned), start it afresh, so
it never serves stale features. A prefix with trainable weights (the Gal
CNN's convolutions, refitted every round) is never cached.
"""

import hashlib
import weakref

import numpy as np

__all__ = ["FeatureCache", "for_sampler"]

_CACHES = weakref.WeakKeyDictionary()


# The most memory the features of one pool may take; a larger pool is
# scored through the whole model every round, as without a cache.
MAX_BYTES = 2 * 1024**3


def for_sampler(sampler, pool=None):
    """The `FeatureCache` serving `sampler` now, or None.

    None unless the sampler splits its model, the prefix has no trainable
    weights at this moment, and the features of `pool` (if given) fit in
    `MAX_BYTES`.
    """
    if sampler not in _CACHES:
        _CACHES[sampler] = (
            None if sampler.prefix_ is None or sampler.suffix_ is None
            else FeatureCache(sampler)
        )
    cache = _CACHES[sampler]
    if cache is None or cache.prefix.trainable_weights:
        return None
    if pool is not None:
        feature_size = np.prod(cache.prefix.output_shape[1:], dtype="int64")
        if 4 * len(pool) * int(feature_size) > MAX_BYTES:
            return None
    return cache


class FeatureCache:
    """Prefix outputs of a pool's images, and the sampler of the rest.

    Args:
        sampler: An `MCSampler` whose model splits (see `for_sampler`).

    Attributes:
        head: An `MCSampler` of the suffix, with the sampler's settings:
            on cached features it gives what the sampler gives on images.
        images_computed_: Pool images the prefix has run on so far.
    """

    def __init__(self, sampler):
        self.prefix = sampler.prefix_
        # Features are no images: their values have no range to check.
        self.head = sampler.replace(model=sampler.suffix_, input_range=None)
        self.images_computed_ = 0
        self._key = None
        self._features = None
        self._known = None

    def pool_features(self, pool, positions):
        """The prefix's outputs for the whole pool, computing only those of
        `positions` not cached under the current pool and weights.

        Scored at their pool positions, the head's masks are keyed as the
        whole model's would be.

        Args:
            pool: A `Pool`.
            positions: int64 pool positions needed now.

        Returns:
            float32 array `(len(pool), ...)`: `positions` (and every
            position computed before) filled, the others zeros.
        """
        key = (pool.fingerprint(), self._weights_digest())
        if key != self._key:
            self._key, self._features = key, None
            self._known = np.zeros(len(pool), dtype=bool)
        missing = positions[~self._known[positions]]
        if len(missing):
            computed = np.asarray(self.prefix.predict(
                pool.x[missing], batch_size=self.head.chunk_size, verbose=0
            ), dtype="float32")
            if self._features is None:
                self._features = np.zeros(
                    (len(pool),) + computed.shape[1:], dtype="float32"
                )
            bad = ~np.isfinite(computed.reshape(len(missing), -1)).all(1)
            if bad.any():
                raise ValueError(
                    "The model's deterministic part (its backbone) gives "
                    "non-finite features for pool positions "
                    f"{missing[bad][:10].tolist()}."
                )
            self._features[missing] = computed
            self._known[missing] = True
            self.images_computed_ += len(missing)
        return self._features

    def _weights_digest(self):
        digest = hashlib.sha256()
        for weight in self.prefix.weights:
            digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
        return digest.hexdigest()
