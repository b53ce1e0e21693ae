"""Stochastic batch acquisition: a batch drawn from single-image scores."""

import math
import numbers

import numpy as np

from keras_dbal import acquisition as acquisition_lib
from keras_dbal import acquisition_registry
from keras_dbal.batch_acquisition.base import BatchAcquisition

__all__ = ["MODES", "StochasticBatch", "stochastic_top_n"]

MODES = ("power", "softmax", "softrank")


class StochasticBatch(BatchAcquisition):
    """A batch sampled from single-image scores (Kirsch et al., 2023).

    Taking the top n scores picks n images that are uncertain for the same
    reason. Sampling the n images without replacement, with probabilities
    that grow with the score, spreads the batch at the cost of one scoring
    pass, and does about as well as BatchBALD in Kirsch et al.'s study:

    - `"power"` (PowerBALD with BALD): `P(i) ~ score_i ** beta`;
    - `"softmax"`: `P(i) ~ exp(beta * score_i)`;
    - `"softrank"`: `P(i) ~ rank_i ** -beta`, rank 1 the highest score.

    Drawn with the Gumbel-top-k trick, seeded. `beta` (the coldness) -> inf
    gives top-n.

    Args:
        acquisition: The single-image score: a registered name (see
            `keras_dbal.acquisition.names()`) except `"random"`, or a
            function `(T, N, C) -> (N,)`.
        mode: One of `"power"`, `"softmax"`, `"softrank"`.
        beta: Coldness, `> 0`; `float("inf")` takes the top n.

    Reference:
        - Kirsch, Farquhar, Atighehchian, Jesson, Branchaud-Charron & Gal,
          "Stochastic Batch Acquisition: A Simple Baseline for Deep Active
          Learning", TMLR 2023.
    """

    def __init__(self, acquisition="bald", mode="power", beta=1.0):
        function = acquisition_lib.get(acquisition)
        if not acquisition_registry.needs_model(function):
            raise ValueError(
                "Invalid value received for argument `acquisition`: random "
                "scores are already a random batch; use "
                "acquisition='random'."
            )
        if mode not in MODES:
            raise ValueError(
                "Invalid value received for argument `mode`. Expected one "
                f"of {list(MODES)}. Received: mode={mode!r}"
            )
        if (
            not isinstance(beta, numbers.Real) or isinstance(beta, bool)
            or math.isnan(beta) or beta <= 0
        ):
            raise ValueError(
                "Invalid value received for argument `beta`. Expected a "
                f"number > 0 (inf for top-n). Received: beta={beta!r}"
            )
        self.acquisition = acquisition
        self.function = function
        self.mode = mode
        self.beta = float(beta)

    @property
    def scores_with(self):
        """The name of the single-image score (a registered name, or a
        custom function's `__name__`)."""
        return acquisition_lib.name_of(self.function)

    @property
    def name(self):
        """`"<mode>_<score>"`, e.g. `"power_bald"`."""
        return f"{self.mode}_{self.scores_with}"

    def get_config(self):
        return {
            "acquisition": self.scores_with,
            "mode": self.mode,
            "beta": self.beta,
        }

    def select(
        self, sampler, images, positions, n, *, exclude, seed, verbose
    ):
        """n positions drawn from the scores of every candidate (the
        arguments as `BatchAcquisition.select`; `seed` fixes the masks and
        the draws).

        Returns:
            `(positions, scores)`, in the order drawn, with each image's
            single-image score.
        """
        positions, scores = sampler.score(
            images, self.function, indices=positions, exclude=exclude,
            seed=seed, verbose=verbose,
        )
        chosen = stochastic_top_n(scores, n, self.mode, self.beta, seed)
        return positions[chosen], scores[chosen]


def stochastic_top_n(scores, n, mode, beta, seed):
    """Indices of n of `scores`, drawn without replacement.

    Args:
        scores: `(N,)` finite scores, higher better; `>= 0` for `"power"`.
        n: Number to draw (fewer when N is smaller).
        mode: One of `MODES`.
        beta: Coldness, `> 0` or inf.
        seed: Integer seed.

    Returns:
        int64 indices in the order drawn.
    """
    scores = np.asarray(scores, dtype="float64")
    if not np.all(np.isfinite(scores)):
        raise ValueError(
            "Invalid value received for argument `scores`: non-finite "
            f"scores at {np.flatnonzero(~np.isfinite(scores))[:10].tolist()}."
        )
    rng = np.random.default_rng(seed)
    tie_keys = rng.random(len(scores))
    if mode == "softrank":
        ranks = np.empty(len(scores))
        ranks[np.lexsort((tie_keys, -scores))] = np.arange(1, len(scores) + 1)
        log_weights = -np.log(ranks)
    elif mode == "power":
        if np.any(scores < 0):
            raise ValueError(
                "Invalid value received for argument `scores`. Expected "
                "scores >= 0 for mode='power' (use mode='softmax' for "
                f"signed scores). Received: a minimum of {scores.min()}"
            )
        with np.errstate(divide="ignore"):
            log_weights = np.log(scores)
    else:
        log_weights = scores
    if math.isinf(beta):
        keys = log_weights
    else:
        keys = beta * log_weights + rng.gumbel(size=len(scores))
    return np.lexsort((tie_keys, -keys))[:n].astype("int64")
