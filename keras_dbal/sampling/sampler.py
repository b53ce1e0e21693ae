"""The compiled Monte Carlo dropout sampler.

`MCSampler` turns a pool of images into T stochastic predictions per image,
shaped `(T, N, C)`, or directly into acquisition scores and a top-n query.
Scoring the pool is the hot path of active learning, so the sampler

- **splits the model** at its first stochastic layer: the deterministic
  prefix (for the Gal CNN, both convolutions and the pooling) runs once per
  chunk, and only the stochastic suffix runs T times, with the T samples
  folded into the batch dimension (one large matmul rather than T calls).
  When that layer is an `MCDropout`, it is the one to fold: its masks
  broadcast the prefix's output to the T samples in one pass;
  a model it cannot split (subclassed, or with a branch around the split)
  runs whole on the folded batch, with the same result;
- compiles one function per acquisition function (`tf.function`, or
  `jax.jit` under the JAX backend), fed chunks of one fixed size (the last
  one padded), so it is traced once; a pool smaller than one chunk is
  padded only to the next power of two;
- keeps memory bounded by the chunk size: scores and a running top-n come
  back per chunk, and the `(T, N, C)` tensor of the pool is never built
  unless `sample` is asked for it;
- draws every dropout mask from the seed it is given and the image's
  position in the pool, so the same seed and pool give the same
  probabilities and the same queries, whatever the chunk size and however
  the pool is split. Masks are cut from random 32-bit words, as few bits
  per unit as the rate needs (see `keras_dbal.sampling.masks`): one word
  serves 32 samples at rate 0.5.

Only `MCDropout` is stochastic while sampling: every other layer, batch
normalization included, runs in inference mode.

Masks are independent across pool items by default (the paper's setting).
With `consistent_masks=True`, sample t uses one mask per layer for every
pool item, whatever the chunking, as BatchBALD needs.
"""

import keras
import numpy as np

from keras_dbal import backend
from keras_dbal.sampling.chunks import automatic_chunk_size
from keras_dbal.sampling.chunks import check_pool
from keras_dbal.sampling.chunks import pool_length
from keras_dbal.sampling.forward import FoldedForward
from keras_dbal.sampling.forward import Output
from keras_dbal.sampling.model_io import check_one_input_one_output
from keras_dbal.sampling.model_io import input_dtype
from keras_dbal.sampling.model_io import input_item_shape
from keras_dbal.sampling.model_split import stochastic_layers
from keras_dbal.sampling.ranking import RunningTopN
from keras_dbal.sampling.scan import scan
from keras_dbal.utils import validation

__all__ = ["MCSampler"]

_SAMPLES = Output("samples")
_WITHOUT_DROPOUT = Output("without_dropout")
_BOTH_WAYS = Output("both_ways")


class MCSampler:
    """Draws T Monte Carlo dropout predictions for a pool, chunk by chunk.

    Args:
        model: A built Keras model with one input whose output is class
            probabilities (or logits, with `from_logits=True`) of shape
            `(batch, C)`. Its `MCDropout` layers are the stochastic ones.
        mc_samples: T, the number of stochastic forward passes per item.
        chunk_size: Pool items per compiled call. `None` picks
            `max(1, 8192 // mc_samples)` (an `Ensemble` of K members:
            8192 // (K x its passes per member)), so a chunk folds to
            about 8192 rows, or fewer where a chunk's largest layer output
            and its input (T-fold after the split; K times for an
            ensemble) would pass 1 GiB.
        consistent_masks: If True, sample t uses the same dropout masks for
            every pool item (BatchBALD); if False, every item and sample
            gets its own masks (Gal et al., 2017), keyed by the seed and
            the item's pool position.
        split: Whether to run the deterministic prefix once per chunk
            (see `split_model`). False always runs the whole model on the
            folded batch; the result is the same.
        from_logits: Whether the model outputs logits (a softmax is then
            applied).
        seed: Integer seed used when a call passes none.
        input_range: `(low, high)` that every pool image's values must lie
            in, checked chunk by chunk (a dataset's too); None (the
            default) checks nothing. `ActiveLearner` passes its own.

    Every method refuses images whose shape is not the model's input
    shape, before the model runs (a dataset: from its `element_spec`),
    and returns float32 whatever the model computes in (a
    mixed-precision policy's bfloat16 probabilities are renormalised in
    float32, so every row sums to 1).

    Example:

    >>> sampler = MCSampler(model, mc_samples=20, seed=0)
    >>> probs = sampler.sample(x_pool[:100])          # (20, 100, C)
    >>> idx, scores = sampler.top_n(x_pool, keras_dbal.acquisition.bald, 10)
    """

    def __init__(
        self,
        model,
        mc_samples=20,
        *,
        chunk_size=None,
        consistent_masks=False,
        split=True,
        from_logits=False,
        seed=None,
        input_range=None,
    ):
        backend.check_supported()
        if not isinstance(model, keras.Model):
            raise ValueError(
                "Invalid value received for argument `model`. Expected a "
                f"keras.Model. Received: model={type(model).__name__}"
            )
        if not model.built:
            raise ValueError(
                "The model must be built (called once, or created with an "
                "Input) before it is sampled."
            )
        check_one_input_one_output(model)
        self.model = model
        self.item_shape = input_item_shape(model)
        self.mc_samples = validation.positive_int(mc_samples, "mc_samples")
        if chunk_size is not None:
            validation.positive_int(chunk_size, "chunk_size")
        self.consistent_masks = bool(consistent_masks)
        self.split = bool(split)
        self.from_logits = bool(from_logits)
        self.seed = seed
        self.input_range = validation.input_range(input_range)
        self._passes = FoldedForward(
            model,
            self.mc_samples,
            split=self.split,
            consistent_masks=self.consistent_masks,
            from_logits=self.from_logits,
        )
        if chunk_size is None:
            chunk_size = automatic_chunk_size(
                self._passes.samples_per_item, self._passes.bytes_per_item()
            )
        self.chunk_size = validation.positive_int(chunk_size, "chunk_size")
        self.prefix_ = self._passes.prefix
        self.suffix_ = self._passes.suffix
        self._compiled = {}

    def replace(self, **changes):
        """A new sampler with this one's settings, `changes` applied.

        The one way to derive a sampler (another T, consistent masks, the
        head of a split model): every constructor argument is carried over
        unless changed, so a new argument needs no threading through the
        code that derives samplers. The automatic chunk size this sampler
        resolved is carried over as it is.

        Args:
            **changes: Constructor arguments of `MCSampler` to change
                (`model`, `mc_samples`, `chunk_size`, `consistent_masks`,
                `split`, `from_logits`, `seed`, `input_range`).

        Returns:
            A new `MCSampler`.
        """
        settings = {"model": self.model, **self.get_config()}
        unknown = sorted(set(changes) - set(settings))
        if unknown:
            raise ValueError(
                f"MCSampler.replace received unknown settings {unknown}; "
                f"expected some of {sorted(settings)}."
            )
        return MCSampler(**{**settings, **changes})

    def get_config(self):
        """The constructor arguments but the model, as a dict: with the
        model, `MCSampler(model, **get_config())` builds this sampler again
        (in another process too). The automatic chunk size is given as it
        was resolved."""
        return {
            "mc_samples": self.mc_samples,
            "chunk_size": self.chunk_size,
            "consistent_masks": self.consistent_masks,
            "split": self.split,
            "from_logits": self.from_logits,
            "seed": self.seed,
            "input_range": self.input_range,
        }

    def resolve_seed(self, seed=None):
        """The integer seed a call given `seed` draws from: `seed`, else the
        sampler's, else a fresh one, reduced below 2**31 - 1.

        Args:
            seed: Integer seed, or None.
        """
        if seed is None:
            seed = self.seed
        if seed is None:
            seed = int(np.random.default_rng().integers(2**31 - 1))
        return int(seed) % (2**31 - 1)

    @property
    def is_stochastic(self):
        """Whether the model has an `MCDropout` layer, or is an ensemble of
        two or more members."""
        if self._passes.ensemble and self.model.size > 1:
            return True
        return bool(stochastic_layers(self.model))

    @property
    def item_ndim(self):
        """Rank of one input item, or None when the model does not say."""
        return None if self.item_shape is None else len(self.item_shape)

    def sample(self, pool, *, indices=None, seed=None, verbose=0):
        """Class probabilities of T stochastic passes over the pool.

        Args:
            pool: Images (see `keras_dbal.sampling.chunks.iter_chunks`).
            indices: Optional positions in the pool to sample.
            seed: Integer seed; defaults to the sampler's.
            verbose: 1 shows a progress bar.

        Returns:
            float32 numpy array `(T, N, C)`.
        """
        return self._gather(pool, _SAMPLES, indices, seed, verbose)

    def predict_without_dropout(self, pool, *, indices=None, verbose=0):
        """Class probabilities of one pass with every `MCDropout` off.

        Each `MCDropout` is the identity here, which is standard dropout's
        weight-scaling approximation: what `model.evaluate` gives for the
        same network built with Keras `Dropout`, and how the authors' code
        measured test error (Gal et al., 2017). `sample(...).mean(axis=0)`
        is the MC dropout prediction instead.

        Args:
            pool: Images (see `keras_dbal.sampling.chunks.iter_chunks`).
            indices: Optional positions in the pool to predict.
            verbose: 1 shows a progress bar.

        Returns:
            float32 numpy array `(N, C)`.
        """
        return self._gather(pool, _WITHOUT_DROPOUT, indices, None, verbose)

    def sample_both_ways(self, pool, *, indices=None, seed=None,
                         verbose=0):
        """`sample` and `predict_without_dropout` in one scan, the model's
        deterministic prefix run once per image for both: a test set's
        MC prediction and its dropout-off one at little more than the
        cost of the first.

        Args:
            pool, indices, seed, verbose: As for `sample`.

        Returns:
            `(samples, without_dropout)`: float32 `(T, N, C)` and `(N, C)`.
        """
        both = self._gather(pool, _BOTH_WAYS, indices, seed, verbose)
        return both[:-1], both[-1]

    def score(
        self,
        pool,
        acquisition,
        *,
        indices=None,
        exclude=None,
        seed=None,
        verbose=0,
        keys=None,
    ):
        """Acquisition scores of the pool items.

        Args:
            pool: Images (see `keras_dbal.sampling.chunks.iter_chunks`).
            acquisition: Function `(T, N, C) -> (N,)` written with
                `keras.ops` (see `keras_dbal.acquisition`).
            indices: Optional positions in the pool to score.
            exclude: Optional positions not to score.
            seed: Integer seed; defaults to the sampler's.
            verbose: 1 shows a progress bar.
            keys: Optional ints `(len(pool),)`, the position each item's
                dropout masks are keyed by (default: its position in
                `pool`): a part of a larger pool, given its positions
                there, scores as it does in the whole.

        Returns:
            `(positions, scores)`: int64 and float32 numpy arrays `(N,)`.
        """
        positions, scores = [], []
        for chunk_positions, chunk_scores in self._scan(
            pool, Output("scores", acquisition), indices, seed, verbose,
            exclude, keys,
        ):
            positions.append(chunk_positions)
            scores.append(chunk_scores)
        if not scores:
            raise ValueError("Received an empty pool.")
        return np.concatenate(positions), np.concatenate(scores)

    def top_n(
        self,
        pool,
        acquisition,
        n,
        *,
        indices=None,
        exclude=None,
        seed=None,
        verbose=0,
    ):
        """The n highest-scoring pool items, best first.

        A running top-n is kept chunk by chunk, so memory does not grow
        with the pool. Equal scores are ordered by a random key drawn from
        the seed, so ties never favour the start of the pool.

        Args:
            pool: Images (see `keras_dbal.sampling.chunks.iter_chunks`).
            acquisition: Function `(T, N, C) -> (N,)`.
            n: Number of items to return.
            indices: Optional positions in the pool that may be chosen.
            exclude: Optional positions that may not be chosen.
            seed: Integer seed; defaults to the sampler's.
            verbose: 1 shows a progress bar.

        Returns:
            `(positions, scores)` of the chosen items, best first; fewer
            than n when the pool is smaller.
        """
        n = validation.positive_int(n, "n")
        seed = self.resolve_seed(seed)
        best = RunningTopN(n, np.random.default_rng([seed, 1]))
        for positions, scores in self._scan(
            pool, Output("scores", acquisition), indices, seed, verbose,
            exclude,
        ):
            best.add(positions, scores)
        return best.positions, best.scores

    def _gather(self, pool, output, indices, seed, verbose):
        """Every chunk's probabilities, joined along the pool axis."""
        chunks = [
            probs for _, probs in self._scan(
                pool, output, indices, seed, verbose
            )
        ]
        if not chunks:
            raise ValueError("Received an empty pool.")
        return np.concatenate(chunks, axis=output.pool_axis)

    def _scan(self, pool, output, indices, seed, verbose, exclude=None,
              keys=None):
        """`(positions, result)` per chunk, `result` trimmed (`scan`)."""
        check_pool(pool, self.item_shape)
        if keys is not None:
            keys = _checked_keys(keys, pool)
        return scan(
            self._compiled_for(output), pool, seed=self.resolve_seed(seed),
            chunk_size=self.chunk_size, indices=indices, exclude=exclude,
            item_shape=self.item_shape, input_range=self.input_range,
            dtype=input_dtype(self.model), pool_axis=output.pool_axis,
            verbose=verbose, keys=keys,
        )

    def _compiled_for(self, output):
        if output not in self._compiled:
            self._compiled[output] = backend.compile_function(
                self._passes.function_for(output), self.model.variables
            )
        return self._compiled[output]


def _checked_keys(keys, pool):
    """`keys` as int32: one distinct position in `[0, 2**31)` per image of
    an array pool."""
    length = pool_length(pool)
    keys = validation.indices(keys, "keys", 2**31)
    if length is None or len(keys) != length:
        raise ValueError(
            "Invalid value received for argument `keys`: expected one "
            f"position per image of an array pool ({length}). Received "
            f"{len(keys)}."
        )
    return keys.astype("int32")
