"""Acquisition functions: Monte Carlo samples `(T, N, C)` -> scores `(N,)`.

Every function takes `probs`, the class probabilities of T stochastic
forward passes over N pool items and C classes, shaped `(T, N, C)`, and
returns one score per item: **higher means acquire first**. They are written
with `keras.ops`, so they run eagerly on numpy arrays and compile inside
`tf.function` or `jax.jit`. Zero and one-hot probabilities are safe: the
convention `0 log 0 = 0` is used, so no score is NaN or infinite.

Notation: `p_t = probs[t]`, `p_bar = mean_t p_t` (the MC estimate of the
predictive distribution), `H[p] = -sum_c p_c log p_c` (nats).

Reference:
    - Gal, Islam & Ghahramani, "Deep Bayesian Active Learning with Image
      Data", ICML 2017, Section 3.
"""

import numbers

import keras
import numpy as np
from keras import ops

from keras_dbal import acquisition_registry
from keras_dbal import backend
from keras_dbal import keyed_random
from keras_dbal.utils import validation

__all__ = [
    "bald",
    "get",
    "least_confidence",
    "margin",
    "max_entropy",
    "mean_std",
    "name_of",
    "names",
    "random",
    "variation_ratios",
]


# Mutual information below this is float32 rounding, not disagreement.
_ENTROPY_RESOLUTION = 1e-6


# Probabilities below this count as 0 in `p log p`. Denormal float32 values
# pass `p > 0` but CPUs that flush denormals to zero take their log as -inf;
# their true contribution is below 1e-28 nats.
_TINY = 1e-30


def _xlogx(p):
    positive = p > _TINY
    return ops.where(positive, p * ops.log(ops.where(positive, p, 1.0)), 0.0)


def _entropy(p, axis=-1):
    return -ops.sum(_xlogx(p), axis=axis)


def max_entropy(probs):
    """Predictive entropy (Shannon, 1948).

    `score = H[p_bar] = -sum_c p_bar_c log p_bar_c`, between 0 and log C.

    Args:
        probs: Class probabilities, `(T, N, C)`.

    Returns:
        Scores, `(N,)`.
    """
    return _entropy(ops.mean(probs, axis=0))


def bald(probs):
    """Bayesian Active Learning by Disagreement (Houlsby et al., 2011).

    The mutual information between the prediction and the model posterior:
    `score = H[p_bar] - mean_t H[p_t]`, between 0 and `H[p_bar]`. High for
    items on which individual stochastic passes are confident but disagree.
    The difference of two entropies of up to log C nats carries float32
    rounding of about 1e-6, so values below `1e-6` are set to exactly 0:
    identical samples (a deterministic model) then tie exactly, and ties
    are broken at random by the sampler rather than by rounding noise.

    Args:
        probs: Class probabilities, `(T, N, C)`.

    Returns:
        Scores, `(N,)`.
    """
    expected_entropy = ops.mean(_entropy(probs), axis=0)
    mutual_information = max_entropy(probs) - expected_entropy
    return ops.where(
        mutual_information > _ENTROPY_RESOLUTION, mutual_information, 0.0
    )


def variation_ratios(probs):
    """Variation ratios (Freeman, 1965), as defined by Gal et al. (2017).

    `score = 1 - f_m / T`, with `f_m` the number of the T passes whose
    predicted class (argmax) is the modal one. This is Gal's definition on
    MC samples, not `1 - max_c p_bar_c` (see `least_confidence`). It is 0
    when all passes agree and at most `1 - 1/C`.

    Args:
        probs: Class probabilities, `(T, N, C)`.

    Returns:
        Scores, `(N,)`.
    """
    num_samples, num_classes = ops.shape(probs)[0], ops.shape(probs)[-1]
    votes = ops.one_hot(ops.argmax(probs, axis=-1), num_classes)
    modal_count = ops.max(ops.sum(votes, axis=0), axis=-1)
    return 1.0 - modal_count / ops.cast(num_samples, modal_count.dtype)


def mean_std(probs):
    """Mean standard deviation (Kampffmeyer et al., 2016).

    `score = mean_c sqrt(E_t[(p_tc - p_bar_c)^2])`: the standard deviation
    of each class probability over the T passes, averaged over classes.

    Args:
        probs: Class probabilities, `(T, N, C)`.

    Returns:
        Scores, `(N,)`.
    """
    # Two passes (deviations from the mean) rather than E[p^2] - E[p]^2,
    # whose cancellation leaves sqrt(rounding) ~ 1e-4 of noise.
    deviations = probs - ops.mean(probs, axis=0, keepdims=True)
    variance = ops.mean(ops.square(deviations), axis=0)
    return ops.mean(ops.sqrt(variance), axis=-1)


def margin(probs):
    """Margin sampling (Scheffer et al., 2001) on the predictive mean.

    `score = 1 - (p_bar_(1) - p_bar_(2))`, with `p_bar_(1) >= p_bar_(2)` the
    two largest mean class probabilities: items whose top two classes are
    close come first.

    Args:
        probs: Class probabilities, `(T, N, C)`.

    Returns:
        Scores, `(N,)`.
    """
    top_two = ops.top_k(ops.mean(probs, axis=0), 2, sorted=True)[0]
    return 1.0 - (top_two[..., 0] - top_two[..., 1])


def least_confidence(probs):
    """Least confidence (Lewis & Gale, 1994) on the predictive mean.

    `score = 1 - max_c p_bar_c`.

    Args:
        probs: Class probabilities, `(T, N, C)`.

    Returns:
        Scores, `(N,)`.
    """
    return 1.0 - ops.max(ops.mean(probs, axis=0), axis=-1)


def random(probs, seed=None, positions=None):
    """Uniform random scores, the baseline of Gal et al. (2017).

    `score ~ U(0, 1)`, independent of `probs` (which only sets N). The
    learner never runs the model for this function: it scores the
    candidates directly.

    Args:
        probs: Class probabilities, `(T, N, C)`, or anything with N as its
            second dimension.
        seed: Integer seed (the same seed gives the same scores), a
            `keras.random.SeedGenerator`, None for Keras's global one, or
            an int32 seed pair tensor `(2,)`, which `MCSampler` passes
            inside its compiled function (see `MCSampler.score`).
        positions: Distinct integer `(N,)` keys of the items in
            `[0, 2**31)`, their positions in the pool, or None. With them
            (and an integer seed or a seed pair), an item's score depends
            on `(seed, position)` alone, not on the other items scored
            with it: `MCSampler` passes them, with a seed pair folded from
            its own, so its random scores do not depend on how the pool is
            chunked.

    Returns:
        Scores, `(N,)`.
    """
    shape = (ops.shape(probs)[1],)
    if positions is None:
        if seed is None or isinstance(seed, keras.random.SeedGenerator):
            return keras.random.uniform(shape, seed=seed)
    seed = _seed_pair(seed, keyed=positions is not None)
    if positions is not None:
        positions = _positions(positions, shape[0])
        return keyed_random.keyed_uniform(seed, positions)
    if isinstance(seed, int):
        return keras.random.uniform(shape, seed=seed)
    # A seed tensor: 24 random bits per score, drawn statelessly.
    bits = ops.right_shift(backend.stateless_bits(shape, seed), 8)
    return ops.cast(bits, "float32") * (1.0 / (1 << 24))


def _seed_pair(seed, keyed):
    """`random`'s seed: an int (a seed pair when `keyed`: the pair
    `(seed mod 2**31 - 1, 0)`, as `MCSampler` makes of an integer seed)
    or a `(2,)` seed tensor, else a `ValueError`."""
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if not keyed:
            return int(seed)
        return np.array([int(seed) % (2**31 - 1), 0], dtype="int32")
    shape = (
        tuple(ops.shape(seed)) if ops.is_tensor(seed) else np.shape(seed)
    )
    if (
        seed is None or isinstance(seed, bool | keras.random.SeedGenerator)
        or shape != (2,)
    ):
        raise ValueError(
            "Invalid value received for argument `seed`. Expected an "
            "integer or an int32 seed pair `(2,)`"
            + (" when `positions` are given" if keyed else "")
            + f". Received: seed={seed!r}"
        )
    return seed


def _positions(positions, num_items):
    """`random`'s `positions` as int32 keys, checked where their values are
    known (arrays, eager tensors; a traced tensor is the sampler's own)."""
    values = backend.known_values(positions)
    if values is not None:
        positions = validation.indices(values, "positions", 2**31)
        if isinstance(num_items, int) and len(positions) != num_items:
            raise ValueError(
                "Invalid value received for argument `positions`. Expected "
                f"one per item ({num_items}). Received: "
                f"{len(positions)} positions."
            )
    return ops.cast(positions, "int32")


# Functions that measure model (epistemic) uncertainty, and so mean nothing
# on a deterministic network, where all T passes agree.
BAYESIAN = frozenset({"bald", "mean_std", "variation_ratios"})


def names():
    """The registered single-image acquisition names, sorted (see
    `keras_dbal.acquisition_registry`)."""
    return acquisition_registry.names(batch=False)


def get(identifier):
    """Look an acquisition function up by name.

    Args:
        identifier: A registered name (see `names()`) or a callable
            `(T, N, C) -> (N,)`, which is returned unchanged.

    Returns:
        The acquisition function.
    """
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in names():
        return acquisition_registry.make(identifier)
    raise ValueError(
        "Invalid value received for argument `acquisition`. Expected a "
        f"callable or one of {names()}. Received: {identifier!r}"
    )


def name_of(identifier):
    """The registered name of an acquisition function, or its `__name__`.

    Args:
        identifier: A registered name or an acquisition function.
    """
    function = get(identifier)
    for name in names():
        if acquisition_registry.make(name) is function:
            return name
    return getattr(function, "__name__", repr(function))
