"""Prediction helpers of the learner: samplers per T, and test metrics."""

import numpy as np

from keras_dbal.sampling.sampler import MCSampler
from keras_dbal.utils import validation

__all__ = ["Samplers", "metrics"]


class Samplers:
    """The learner's sampler, and one per other T that `predict` is asked
    for, each built (and compiled) once.

    Args:
        sampler: The learner's `MCSampler`.
    """

    def __init__(self, sampler):
        self.default = sampler
        self._others = {}

    def get(self, mc_samples):
        """The sampler of T = `mc_samples` (None: the learner's)."""
        if mc_samples is None or mc_samples == self.default.mc_samples:
            return self.default
        mc_samples = validation.positive_int(mc_samples, "mc_samples")
        if mc_samples not in self._others:
            default = self.default
            self._others[mc_samples] = MCSampler(
                default.model,
                mc_samples,
                chunk_size=default.chunk_size,
                consistent_masks=default.consistent_masks,
                split=default.split,
                from_logits=default.from_logits,
                seed=default.seed,
            )
        return self._others[mc_samples]


def metrics(probs, labels):
    """Accuracy, error and NLL of `(N, C)` probabilities for `labels`."""
    accuracy = float(np.mean(probs.argmax(axis=1) == labels))
    picked = np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1.0)
    return {
        "accuracy": accuracy,
        "error": 1.0 - accuracy,
        "nll": float(-np.mean(np.log(picked))),
    }
