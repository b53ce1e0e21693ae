"""BatchBALD: a batch that is informative together, not one by one."""

import weakref

import numpy as np
from keras import ops

from keras_dbal import acquisition as acquisition_lib
from keras_dbal.batch_acquisition.base import BatchAcquisition
from keras_dbal.batch_acquisition.joint_entropy import Configurations
from keras_dbal.batch_acquisition.joint_entropy import compiled_entropies
from keras_dbal.utils import validation

__all__ = ["BatchBALD", "greedy_batchbald"]

# Elements of one chunk's (K, M, C) joint table: 2^23 float32 = 32 MiB.
_CHUNK_ELEMENTS = 1 << 23


class BatchBALD(BatchAcquisition):
    """BatchBALD acquisition (Kirsch, van Amersfoort & Gal, 2019).

    Top-n BALD picks n images that are uncertain for the same reason:
    near-duplicates add nothing once one of them is labelled. BatchBALD
    instead grows the batch greedily, each time adding the image that
    most raises the mutual information between the batch's labels and the
    model parameters,

        a(x_1..x_b) = H(y_1, ..., y_b) - sum_i mean_t H(p_t,i),

    with the joint entropy taken under the same T dropout masks for every
    image (see `keras_dbal.batch_acquisition.joint_entropy`). With n = 1
    it is BALD.

    To keep a large pool cheap, the `num_candidates` images with the
    highest BALD are pre-selected, then sampled again with consistent
    masks; memory is bounded by a chunk of candidates x M x C.

    T bounds what a batch can be worth: the T samples are the model's
    whole posterior here, so the batch's mutual information cannot pass
    log T nats, and once it nears that ceiling the remaining picks are
    noise. Use a T of 100 or more for batches of 10 (`mc_samples`).

    Args:
        num_candidates: Images with the highest BALD scores that the
            greedy selection considers (None: every candidate, which
            costs T x pool x C memory). At least `n` are always kept.
        num_configurations: M, the label configurations of the images
            chosen so far, enumerated while C^b is at most M (b images
            chosen), and drawn once it is more.

    Reference:
        - Kirsch, van Amersfoort & Gal, "BatchBALD: Efficient and Diverse
          Batch Acquisition for Deep Bayesian Active Learning", NeurIPS
          2019.
    """

    name = "batchbald"
    scores_with = "bald"

    def __init__(self, num_candidates=1000, num_configurations=10_000):
        if num_candidates is not None:
            num_candidates = validation.positive_int(
                num_candidates, "num_candidates"
            )
        self.num_candidates = num_candidates
        self.num_configurations = validation.positive_int(
            num_configurations, "num_configurations"
        )
        self._samplers = weakref.WeakKeyDictionary()

    def get_config(self):
        return {
            "num_candidates": self.num_candidates,
            "num_configurations": self.num_configurations,
        }

    def select(
        self, sampler, images, positions, n, *, exclude, seed, verbose
    ):
        """The n positions of a BatchBALD batch, in the order chosen (the
        arguments as `BatchAcquisition.select`; `seed` fixes the masks,
        draws and tie breaks).

        Returns:
            `(positions, gains)`: each image's gain in the batch's
            BatchBALD score when it was added (the first is its BALD).
        """
        if self.num_candidates is not None:
            keep = max(n, self.num_candidates)
            if positions is None or len(positions) > keep:
                positions, _ = sampler.top_n(
                    images, acquisition_lib.bald, keep, indices=positions,
                    exclude=exclude, seed=seed, verbose=verbose,
                )
        elif positions is None:  # every image of a dataset
            positions, _ = sampler.score(
                images, acquisition_lib.bald, exclude=exclude, seed=seed,
                verbose=verbose,
            )
        positions = np.sort(positions)
        probs = self._consistent(sampler).sample(
            images, indices=positions, seed=seed
        )
        chosen, gains = greedy_batchbald(
            probs, n, num_configurations=self.num_configurations,
            seed=seed,
        )
        return positions[chosen], gains

    def _consistent(self, sampler):
        """The sampler itself if its masks are consistent, else a twin
        whose masks are, built once per sampler."""
        if sampler.consistent_masks:
            return sampler
        if sampler not in self._samplers:
            self._samplers[sampler] = sampler.replace(consistent_masks=True)
        return self._samplers[sampler]


def greedy_batchbald(probs, n, *, num_configurations=10_000, seed=None):
    """Greedy BatchBALD selection on the candidates' MC samples.

    Args:
        probs: `(T, K, C)` class probabilities of K candidates, drawn with
            consistent dropout masks.
        n: Batch size, at most K.
        num_configurations: M (see `BatchBALD`).
        seed: Integer seed of the configuration draws and tie breaks.

    Returns:
        `(indices, gains)`: n distinct candidate indices in the order
        chosen, and the gain in BatchBALD score each one brought.
    """
    probs = np.asarray(probs, dtype="float32")
    if probs.ndim != 3:
        raise ValueError(
            "Invalid value received for argument `probs`. Expected shape "
            f"(T, K, C). Received: shape={probs.shape}"
        )
    num_samples, num_candidates, num_classes = probs.shape
    n = validation.positive_int(n, "n")
    if n > num_candidates:
        raise ValueError(
            f"Invalid value received for argument `n`: n={n} is more than "
            f"the {num_candidates} candidates."
        )
    rng = np.random.default_rng(seed)
    tie_keys = rng.random(num_candidates)
    conditional = _expected_entropy(probs)
    configurations = Configurations(
        num_samples, num_classes, num_configurations,
        int(rng.integers(2**31 - 1)),
    )
    chunk = max(1, _CHUNK_ELEMENTS // (num_configurations * num_classes))
    chunk = min(chunk, num_candidates)
    entropies = compiled_entropies()
    chosen, gains = [], []
    available = np.ones(num_candidates, dtype=bool)
    previous, chosen_conditional = 0.0, 0.0
    for _ in range(n):
        tables = configurations.tables()
        joint = np.concatenate([
            _chunk_entropies(entropies, tables, probs, start, chunk)
            for start in range(0, num_candidates, chunk)
        ]).astype("float64")
        value = joint - conditional - chosen_conditional
        value = np.where(available, value, -np.inf)
        best = int(np.lexsort((tie_keys, -value))[0])
        chosen.append(best)
        gains.append(value[best] - previous)
        previous = value[best]
        chosen_conditional += conditional[best]
        available[best] = False
        configurations.add(probs[:, best])
    return np.asarray(chosen, dtype="int64"), np.asarray(gains, "float32")


def _expected_entropy(probs):
    """`mean_t H(p_t,k)` per candidate, `(K,)` float64, 0 log 0 = 0."""
    probs = probs.astype("float64")
    positive = probs > 0
    logs = np.log(np.where(positive, probs, 1.0))
    return -np.where(positive, probs * logs, 0.0).sum(axis=-1).mean(axis=0)


def _chunk_entropies(entropies, tables, probs, start, chunk):
    """Joint entropies of the candidates `start:start + chunk`, padded to
    a whole chunk so the compiled function is traced once."""
    part = probs[:, start:start + chunk]
    count = part.shape[1]
    if count < chunk:
        padding = np.full(
            (part.shape[0], chunk - count, part.shape[2]),
            1.0 / part.shape[2], dtype=part.dtype,
        )
        part = np.concatenate([part, padding], axis=1)
    return ops.convert_to_numpy(entropies(*tables, part))[:count]
