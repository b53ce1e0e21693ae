"""Joint entropies of a few predictions under shared model samples.

BatchBALD (Kirsch, van Amersfoort & Gal, 2019) needs the joint entropy
`H(y_1, ..., y_b)` of the predictions of b pool items under the MC
estimate of the predictive distribution,

    P(y_1, ..., y_b) = mean_t prod_i p_t,i(y_i),

where `p_t,i` is item i's class distribution under sample t (the same
dropout masks for every item: `MCSampler(consistent_masks=True)`).

The configurations of the first b - 1 items are enumerated while there
are at most M of them, C^(b-1) <= M (exact; the last item's C classes are
summed in the compiled function). Beyond that, M configurations are
drawn from P itself and the entropy is their average surprise (sampled):
draw a sample t_m, then every y_m,i from `p_t_m,i`. Each draw keeps its
`t_m`, so adding an item extends the configurations already drawn rather
than drawing them again.

Both cases are held in one table `(T, M)`, `P_t(configuration)`, so one
compiled function serves them, and its memory, chunk x M x C, never grows
with the number of items or the pool.
"""

import numpy as np
from keras import ops

from keras_dbal import backend
from keras_dbal.utils import validation

__all__ = ["Configurations", "joint_entropy"]

# Probabilities below this count as 0 in `p log p` (as in acquisition.py).
_TINY = 1e-30


class Configurations:
    """The configurations of the items chosen so far, exact or sampled.

    Args:
        num_samples: T.
        num_classes: C.
        num_configurations: M, the most configurations enumerated, and
            the number drawn once there are more.
        seed: Integer seed of the draws.
    """

    def __init__(self, num_samples, num_classes, num_configurations, seed):
        self.num_configurations = num_configurations
        self.num_classes = num_classes
        self._rng = np.random.default_rng(seed)
        # Exact: P_t of every configuration of the items so far.
        self._exact = np.ones((num_samples, 1))
        # Sampled: the draws' samples t_m, and P_t(configuration m) divided
        # by a scale per draw (kept as its log), so products of many small
        # probabilities never underflow.
        self._draws = self._rng.integers(num_samples, size=num_configurations)
        self._sampled = np.ones((num_samples, num_configurations))
        self._log_scale = np.zeros(num_configurations)

    @property
    def exact(self):
        """Whether the configurations are still enumerated."""
        return self._exact is not None

    def add(self, probs):
        """Extend every configuration with one more item.

        Args:
            probs: The item's class probabilities per sample, `(T, C)`.
        """
        probs = np.asarray(probs, dtype="float64")
        if self._exact is not None:
            count = self._exact.shape[1] * self.num_classes
            if count <= self.num_configurations:
                self._exact = (
                    self._exact[:, :, None] * probs[:, None, :]
                ).reshape(len(probs), count)
            else:
                self._exact = None
        # Each draw's class from its own sample's distribution: the first
        # class whose cumulative probability passes u * total, so a class
        # of probability 0 is never drawn, whatever the rounding.
        cumulative = np.cumsum(probs[self._draws], axis=1)
        uniform = self._rng.random(self.num_configurations)[:, None]
        classes = (cumulative <= uniform * cumulative[:, -1:]).sum(axis=1)
        self._sampled = self._sampled * probs[:, classes]
        scale = self._sampled.max(axis=0)
        self._sampled /= scale
        self._log_scale += np.log(scale)

    def tables(self):
        """`(table, weights, log_scale)` that `entropies` reads.

        `table` is `(T, M)` float32. Exact: the configurations, padded
        with zero columns, weighted by their probability. Sampled: the
        draws, each weighted 1/M, with their scales' logs.
        """
        size = self.num_configurations
        if self._exact is not None:
            table = np.zeros((len(self._exact), size))
            table[:, :self._exact.shape[1]] = self._exact
            weights = table.mean(axis=0)
            log_scale = np.zeros(size)
        else:
            table = self._sampled
            weights = np.full(size, 1.0 / size)
            log_scale = self._log_scale
        return (
            table.astype("float32"),
            weights.astype("float32"),
            log_scale.astype("float32"),
        )


def entropies(table, weights, log_scale, candidates):
    """`H(chosen items, y_k)` for each candidate k, in `keras.ops`.

    Args:
        table: `(T, M)`, P_t of each configuration (scaled).
        weights: `(M,)`: a configuration's probability (exact) or 1/M
            (sampled).
        log_scale: `(M,)`, the log of each configuration's scale.
        candidates: `(T, K, C)` class probabilities of K candidates.

    Returns:
        `(K,)` joint entropies in nats.
    """
    num_samples = ops.cast(ops.shape(table)[0], table.dtype)
    # P(configuration m, y_k = c), scaled like the configuration: (K, M, C).
    joint = ops.einsum("tm,tkc->kmc", table, candidates) / num_samples
    marginal = ops.mean(table, axis=0)
    present = marginal > 0
    conditional = joint / ops.where(present, marginal, 1.0)[None, :, None]
    positive = joint > _TINY
    log_joint = ops.log(ops.where(positive, joint, 1.0))
    surprise = ops.sum(
        ops.where(positive, conditional * log_joint, 0.0), axis=-1
    )
    surprise = surprise + ops.where(present, log_scale, 0.0)[None, :]
    return -ops.sum(weights[None, :] * surprise, axis=-1)


_compiled = {}


def compiled_entropies():
    """`entropies`, compiled once per backend session."""
    if "entropies" not in _compiled:
        _compiled["entropies"] = backend.compile_function(entropies, [])
    return _compiled["entropies"]


def joint_entropy(probs, *, num_configurations=10_000, seed=None):
    """Joint entropy `H(y_1, ..., y_b)` of b items' predictions, in nats.

    Exact while the configurations of all but the last item are at most
    `num_configurations` (C^(b-1) <= M); beyond that, estimated from
    `num_configurations` configurations drawn from the joint predictive
    distribution (unbiased; its error shrinks as 1/sqrt(M)).

    Args:
        probs: Class probabilities `(T, b, C)` of b items under T model
            samples, drawn with consistent dropout masks.
        num_configurations: M.
        seed: Integer seed of the draws (only used when sampled).

    Returns:
        float, the joint entropy.
    """
    probs = np.asarray(probs, dtype="float32")
    if probs.ndim != 3 or probs.shape[1] == 0:
        raise ValueError(
            "Invalid value received for argument `probs`. Expected class "
            "probabilities of shape (T, b, C) with b >= 1. Received: "
            f"shape={probs.shape}"
        )
    num_configurations = validation.positive_int(
        num_configurations, "num_configurations"
    )
    num_samples, _, num_classes = probs.shape
    configurations = Configurations(
        num_samples, num_classes, num_configurations, seed
    )
    for item in range(probs.shape[1] - 1):
        configurations.add(probs[:, item])
    result = compiled_entropies()(
        *configurations.tables(), probs[:, -1:]
    )
    return float(ops.convert_to_numpy(result)[0])
