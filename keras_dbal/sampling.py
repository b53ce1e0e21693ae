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
  one padded), so it is traced once;
- keeps memory bounded by the chunk size: scores and a running top-n come
  back per chunk, and the `(T, N, C)` tensor of the pool is never built
  unless `sample` is asked for it;
- draws every dropout mask from the seed it is given, so the same seed and
  chunk size give the same probabilities and the same queries. Masks are
  cut from random 32-bit words, as few bits per unit as the rate needs
  (see `keep_mask`): one word serves 32 samples at rate 0.5, which makes
  the noise about a tenth of the cost of one uniform float per unit.

Only `MCDropout` is stochastic while sampling: every other layer, batch
normalization included, runs in inference mode.

Masks are independent across pool items by default (the paper's setting).
With `consistent_masks=True`, sample t uses one mask per layer for every
pool item, whatever the chunking, as BatchBALD needs.
"""

import itertools

import keras
import numpy as np
from keras import ops

from keras_dbal import backend
from keras_dbal import validation
from keras_dbal.layers import MaskScope
from keras_dbal.layers import MCDropout

__all__ = [
    "MCSampler",
    "field_bits",
    "iter_chunks",
    "keep_mask",
    "split_model",
    "stochastic_layers",
]

# Rows of the folded (T * chunk) batch that the automatic chunk size aims at:
# large enough to keep a CPU's or GPU's matmul units busy, small enough that
# a chunk's activations stay well inside memory.
_FOLDED_ROWS = 8192


def stochastic_layers(model):
    """All `MCDropout` layers of a model or layer, nested ones included."""
    return [
        layer for layer in all_layers(model) if isinstance(layer, MCDropout)
    ]


def all_layers(layer):
    """A layer and every layer nested in it."""
    flatten = getattr(layer, "_flatten_layers", None)
    if flatten is not None:
        return list(flatten(include_self=True, recursive=True))
    return [layer] + [
        inner for sub in getattr(layer, "layers", []) for inner in
        all_layers(sub)
    ]


def split_model(model):
    """Split a model at its first stochastic layer.

    Args:
        model: A built Keras model.

    Returns:
        `(prefix, suffix)`: `prefix` maps the input to the input of the
        first layer that holds an `MCDropout` (`None` when that layer comes
        first), and `suffix` maps that tensor to the output. For a model
        with no stochastic layer, `(model, None)`. For a model that cannot
        be split (subclassed, several inputs, a branch that skips the split
        point), `(None, model)`.
    """
    try:
        inputs, outputs = model.inputs, model.outputs
        layers = model.layers
    except (AttributeError, ValueError):
        return None, model
    if not inputs or len(inputs) != 1 or len(outputs) != 1:
        return None, model
    stochastic = {id(layer) for layer in stochastic_layers(model)}
    if not stochastic:
        return model, None
    for _position, layer in enumerate(layers):
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if not any(id(inner) in stochastic for inner in all_layers(layer)):
            continue
        try:
            split_tensor = layer.input
            if isinstance(split_tensor, (list, tuple, dict)):
                return None, model
            if split_tensor is inputs[0]:
                return None, model
            prefix = keras.Model(inputs, split_tensor)
            suffix = keras.Model(split_tensor, outputs)
        except (ValueError, AttributeError, TypeError):
            return None, model
        if {id(lyr) for lyr in stochastic_layers(suffix)} != stochastic:
            return None, model
        return prefix, suffix
    return None, model


def _split_off_dropout(model, suffix):
    """`(dropout, rest)` when `suffix` starts with a lone `MCDropout`.

    `rest` maps the dropout's output to the model's output. `None` when the
    first stochastic layer is not a top-level `MCDropout` used once, or when
    its input also feeds other layers.
    """
    stochastic = {id(layer) for layer in stochastic_layers(suffix)}
    for layer in model.layers:
        if not any(id(inner) in stochastic for inner in all_layers(layer)):
            continue
        if not isinstance(layer, MCDropout):
            return None
        try:
            rest = keras.Model(layer.output, model.outputs)
        except (ValueError, AttributeError, TypeError):
            return None
        if {id(lyr) for lyr in stochastic_layers(rest)} != stochastic - {
            id(layer)
        }:
            return None
        return layer, rest
    return None


def iter_chunks(pool, chunk_size, indices=None, item_ndim=None):
    """Yield `(positions, images)` numpy chunks of at most `chunk_size` items.

    Args:
        pool: numpy array or tensor `(N, ...)`, or a `tf.data.Dataset` of
            images, of `(images, labels)` pairs, batched or not.
        chunk_size: Maximum number of items per chunk.
        indices: Optional positions in the pool to visit, in the order
            they should come; `None` for all of them.
        item_ndim: Rank of one image (3 for `(28, 28, 1)`); tells a batched
            dataset from an unbatched one. `None` treats its elements as
            batches.

    Yields:
        `positions`, int64 `(b,)`, and the images at those positions.
    """
    if hasattr(pool, "as_numpy_iterator"):
        yield from _iter_dataset(pool, chunk_size, indices, item_ndim)
        return
    images = pool if isinstance(pool, np.ndarray) else ops.convert_to_numpy(
        pool
    )
    if indices is None:
        for start in range(0, len(images), chunk_size):
            stop = min(start + chunk_size, len(images))
            yield np.arange(start, stop), images[start:stop]
        return
    indices = np.asarray(indices, dtype="int64")
    for start in range(0, len(indices), chunk_size):
        positions = indices[start:start + chunk_size]
        yield positions, images[positions]


def _iter_dataset(dataset, chunk_size, indices, item_ndim):
    wanted = None if indices is None else np.unique(indices)
    buffer, buffer_positions, seen, buffered = [], [], 0, 0
    for element in dataset.as_numpy_iterator():
        if isinstance(element, (tuple, list)):
            element = element[0]
        if isinstance(element, dict):
            raise ValueError(
                "A dataset pool must yield images or (images, labels) "
                "pairs, not dicts."
            )
        element = np.asarray(element)
        if item_ndim is not None and element.ndim == item_ndim:
            element = element[None]
        positions = np.arange(seen, seen + len(element))
        seen += len(element)
        if wanted is not None:
            keep = np.isin(positions, wanted)
            element, positions = element[keep], positions[keep]
        buffer.append(element)
        buffer_positions.append(positions)
        buffered += len(element)
        while buffered >= chunk_size:
            images = np.concatenate(buffer)
            positions = np.concatenate(buffer_positions)
            yield positions[:chunk_size], images[:chunk_size]
            buffer = [images[chunk_size:]]
            buffer_positions = [positions[chunk_size:]]
            buffered -= chunk_size
    if buffered:
        yield np.concatenate(buffer_positions), np.concatenate(buffer)


class MCSampler:
    """Draws T Monte Carlo dropout predictions for a pool, chunk by chunk.

    Args:
        model: A built Keras model with one input whose output is class
            probabilities (or logits, with `from_logits=True`) of shape
            `(batch, C)`. Its `MCDropout` layers are the stochastic ones.
        mc_samples: T, the number of stochastic forward passes per item.
        chunk_size: Pool items per compiled call. `None` picks
            `max(1, 8192 // mc_samples)`, so a chunk folds to about 8192
            rows.
        consistent_masks: If True, sample t uses the same dropout masks for
            every pool item (BatchBALD); if False, every item and sample
            gets its own masks (Gal et al., 2017).
        split: Whether to run the deterministic prefix once per chunk
            (see `split_model`). False always runs the whole model on the
            folded batch; the result is the same.
        from_logits: Whether the model outputs logits (a softmax is then
            applied).
        seed: Integer seed used when a call passes none.

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
        self.model = model
        self.mc_samples = validation.positive_int(mc_samples, "mc_samples")
        if chunk_size is None:
            chunk_size = max(1, _FOLDED_ROWS // self.mc_samples)
        self.chunk_size = validation.positive_int(chunk_size, "chunk_size")
        self.consistent_masks = bool(consistent_masks)
        self.split = bool(split)
        self.from_logits = bool(from_logits)
        self.seed = seed
        if split:
            self.prefix_, self.suffix_ = split_model(model)
        else:
            self.prefix_, self.suffix_ = None, model
        self._fused = None
        if self.prefix_ is not None and self.suffix_ is not None:
            self._fused = _split_off_dropout(model, self.suffix_)
        self._compiled = {}

    @property
    def is_stochastic(self):
        """Whether the model has an `MCDropout` layer."""
        return bool(stochastic_layers(self.model))

    @property
    def item_ndim(self):
        """Rank of one input item, or None when the model does not say."""
        try:
            return len(self.model.inputs[0].shape) - 1
        except (AttributeError, ValueError, TypeError, IndexError):
            return None

    def sample(self, pool, *, indices=None, seed=None, verbose=0):
        """Class probabilities of T stochastic passes over the pool.

        Args:
            pool: Images (see `iter_chunks`).
            indices: Optional positions in the pool to sample.
            seed: Integer seed; defaults to the sampler's.
            verbose: 1 shows a progress bar.

        Returns:
            float32 numpy array `(T, N, C)`.
        """
        chunks = [
            probs for _, probs in self._scan(
                pool, None, indices, seed, verbose
            )
        ]
        if not chunks:
            raise ValueError("Received an empty pool.")
        return np.concatenate(chunks, axis=1)

    def score(self, pool, acquisition, *, indices=None, seed=None, verbose=0):
        """Acquisition scores of the pool items.

        Args:
            pool: Images (see `iter_chunks`).
            acquisition: Function `(T, N, C) -> (N,)` written with
                `keras.ops` (see `keras_dbal.acquisition`).
            indices: Optional positions in the pool to score.
            seed: Integer seed; defaults to the sampler's.
            verbose: 1 shows a progress bar.

        Returns:
            `(positions, scores)`: int64 and float32 numpy arrays `(N,)`.
        """
        positions, scores = [], []
        for chunk_positions, chunk_scores in self._scan(
            pool, acquisition, indices, seed, verbose
        ):
            positions.append(chunk_positions)
            scores.append(chunk_scores)
        if not scores:
            raise ValueError("Received an empty pool.")
        return np.concatenate(positions), np.concatenate(scores)

    def top_n(
        self, pool, acquisition, n, *, indices=None, seed=None, verbose=0
    ):
        """The n highest-scoring pool items, best first.

        A running top-n is kept chunk by chunk, so memory does not grow
        with the pool. Equal scores are ordered by a random key drawn from
        the seed, so ties never favour the start of the pool.

        Args:
            pool: Images (see `iter_chunks`).
            acquisition: Function `(T, N, C) -> (N,)`.
            n: Number of items to return.
            indices: Optional positions in the pool that may be chosen.
            seed: Integer seed; defaults to the sampler's.
            verbose: 1 shows a progress bar.

        Returns:
            `(positions, scores)` of the chosen items, best first; fewer
            than n when the pool is smaller.
        """
        n = validation.positive_int(n, "n")
        seed = self._resolve_seed(seed)
        tie_rng = np.random.default_rng([seed, 1])
        best_positions = np.empty(0, dtype="int64")
        best_scores = np.empty(0, dtype="float32")
        best_keys = np.empty(0)
        for positions, scores in self._scan(
            pool, acquisition, indices, seed, verbose
        ):
            if not np.all(np.isfinite(scores)):
                raise ValueError(
                    "The acquisition function returned non-finite scores "
                    f"for pool positions {positions[~np.isfinite(scores)]}."
                )
            best_positions = np.concatenate([best_positions, positions])
            best_scores = np.concatenate([best_scores, scores])
            best_keys = np.concatenate(
                [best_keys, tie_rng.random(len(scores))]
            )
            order = np.lexsort((best_keys, -best_scores))[:n]
            best_positions = best_positions[order]
            best_scores = best_scores[order]
            best_keys = best_keys[order]
        return best_positions, best_scores

    def _resolve_seed(self, seed):
        if seed is None:
            seed = self.seed
        if seed is None:
            seed = int(np.random.default_rng().integers(2**31 - 1))
        return int(seed) % (2**31 - 1)

    def _scan(self, pool, acquisition, indices, seed, verbose):
        """Yield `(positions, result)` per chunk, `result` trimmed."""
        seed = self._resolve_seed(seed)
        function = self._compiled_for(acquisition)
        total = len(indices) if indices is not None else _length(pool)
        progress = (
            keras.utils.Progbar(total, unit_name="image") if verbose else None
        )
        dtype = self._input_dtype()
        # One chunk in flight: the next chunk is dispatched before the last
        # result is fetched, so an asynchronous backend (JAX, a GPU) overlaps
        # the host's slicing and copying with the device's work.
        pending = None
        for chunk_index, (positions, images) in enumerate(
            iter_chunks(pool, self.chunk_size, indices, self.item_ndim)
        ):
            count = len(positions)
            images = np.asarray(images, dtype=dtype)
            finite = np.isfinite(images.reshape(count, -1)).all(axis=1)
            if not finite.all():
                raise ValueError(
                    "Invalid value received for argument `pool`: images at "
                    f"positions {positions[~finite][:10].tolist()} contain "
                    "NaN or inf."
                )
            if count < self.chunk_size:
                padding = np.zeros(
                    (self.chunk_size - count,) + images.shape[1:], dtype
                )
                images = np.concatenate([images, padding])
            chunk_seed = np.array(
                [seed, 0 if self.consistent_masks else chunk_index],
                dtype="int32",
            )
            result = function(images, chunk_seed)
            if pending is not None:
                yield self._fetch(pending, acquisition, progress)
            pending = (positions, result)
        if pending is not None:
            yield self._fetch(pending, acquisition, progress)

    @staticmethod
    def _fetch(pending, acquisition, progress):
        positions, result = pending
        count = len(positions)
        result = ops.convert_to_numpy(result)
        result = result[:, :count] if acquisition is None else result[:count]
        if progress is not None:
            progress.add(count)
        return positions, result

    def _input_dtype(self):
        try:
            return keras.backend.standardize_dtype(self.model.inputs[0].dtype)
        except (AttributeError, ValueError, TypeError, IndexError):
            return keras.backend.floatx()

    def _compiled_for(self, acquisition):
        if acquisition not in self._compiled:
            if acquisition is None:
                function = self._forward
            else:
                def function(images, seed):
                    return acquisition(self._forward(images, seed))
            self._compiled[acquisition] = backend.compile_function(
                function, self.model.variables
            )
        return self._compiled[acquisition]

    def _forward(self, images, seed):
        """`(B, ...)` images -> `(T, B, C)` probabilities."""
        num_samples = self.mc_samples
        batch = images.shape[0]
        if self.prefix_ is not None:
            features = self.prefix_(images, training=False)
        else:
            features = images
        if self.suffix_ is None:
            outputs = self._probabilities(features)
            return ops.broadcast_to(
                outputs[None], (num_samples,) + tuple(outputs.shape)
            )
        masker = self._masker(seed, num_samples, batch)
        if self._fused is not None:
            # The first dropout folds: its masks broadcast the features to
            # the T samples, so the (T * B, ...) copy is written only once.
            dropout, suffix = self._fused
            folded = masker(dropout, features, folded=False)
        else:
            suffix = self.suffix_
            feature_shape = tuple(features.shape[1:])
            folded = ops.reshape(
                ops.broadcast_to(
                    features[None], (num_samples, batch) + feature_shape
                ),
                (num_samples * batch,) + feature_shape,
            )
        with MaskScope(masker):
            outputs = suffix(folded, training=False)
        outputs = self._probabilities(outputs)
        return ops.reshape(outputs, (num_samples, batch, outputs.shape[-1]))

    def _probabilities(self, outputs):
        return ops.softmax(outputs, axis=-1) if self.from_logits else outputs

    def _masker(self, seed, num_samples, batch):
        """The function MCDropout calls inside the folded forward pass.

        The i-th MCDropout call of a pass draws its masks from
        `fold_in(seed, i)` with `keep_mask`, shaped (T, B, ...) for
        independent masks and (T, 1, ...) for consistent ones, which
        broadcast over the B items of each sample. Inputs come folded,
        (T * B, ...), or, with `folded=False`, as (B, ...) features that
        the masks broadcast to the T samples.
        """
        counter = itertools.count()
        consistent = self.consistent_masks

        def apply(layer, inputs, folded=True):
            layer_seed = backend.fold_in(seed, next(counter))
            shape = tuple(inputs.shape)
            item_shape = shape[1:]
            if folded:
                inputs = ops.reshape(
                    inputs, (num_samples, batch) + item_shape
                )
            else:
                inputs = inputs[None]
            if layer.rate > 0:
                noise_shape = _concrete_noise_shape(
                    layer.noise_shape, (batch,) + item_shape
                )
                if consistent:
                    noise_shape = (1,) + noise_shape[1:]
                keep = keep_mask(
                    layer.rate, num_samples, noise_shape, layer_seed
                )
                scaled = inputs * ops.cast(
                    1.0 / (1.0 - layer.rate), inputs.dtype
                )
                inputs = ops.where(keep, scaled, ops.zeros((), scaled.dtype))
            else:
                inputs = ops.broadcast_to(
                    inputs, (num_samples, batch) + item_shape
                )
            return ops.reshape(inputs, (num_samples * batch,) + item_shape)

        return apply


def field_bits(rate):
    """Bits per unit that express a dropout rate exactly, at most 32.

    1 for 0.5, 2 for 0.25 or 0.75, 3 for 0.125 or 0.375, and so on; a rate
    that no 32-bit fraction expresses (0.1, say) gets 32 bits, which
    rounds it to the nearest multiple of 2**-32.
    """
    for bits in range(1, 32):
        if float(rate) * 2**bits == int(float(rate) * 2**bits):
            return bits
    return 32


def keep_mask(rate, num_samples, shape, seed):
    """Dropout keep masks for T samples, cut from random 32-bit words.

    With k = `field_bits(rate)`, each word holds `32 // k` fields of k
    bits. Fields are dealt out evenly: `W = ceil(T / (32 // k))` words per
    unit and `P = ceil(T / W)` fields used in each. Sample t reads field
    `t % P` of word `t // P`, that is the top k bits of that word shifted
    left by `k * (t % P)`, and keeps the unit when those shifted bits,
    as an unsigned integer, are at least `round(rate * 2**32)`. The unit is
    dropped with probability exactly `rate` (to 2**-32 when k = 32), and
    different samples read disjoint bits, so their masks are independent.

    Args:
        rate: Dropout rate in (0, 1).
        num_samples: T.
        shape: Shape of the mask of one sample.
        seed: int32 seed pair `(2,)` of the words.

    Returns:
        Boolean tensor `(T,) + shape`, True where a unit is kept.
    """
    bits = field_bits(rate)
    words_per_unit = -(-num_samples // (32 // bits))
    fields_per_word = -(-num_samples // words_per_unit)
    words = backend.stateless_bits(
        (words_per_unit, 1) + tuple(shape), seed
    )
    shifts = np.arange(fields_per_word, dtype="uint32") * bits
    shifts = shifts.reshape((1, fields_per_word) + (1,) * len(shape))
    fields = ops.left_shift(words, ops.convert_to_tensor(shifts))
    fields = ops.reshape(
        fields, (words_per_unit * fields_per_word,) + tuple(shape)
    )
    if words_per_unit * fields_per_word > num_samples:
        fields = fields[:num_samples]
    threshold = min(round(float(rate) * 2**32), 2**32 - 1)
    return ops.greater_equal(
        fields, ops.convert_to_tensor(np.uint32(threshold))
    )


def _concrete_noise_shape(noise_shape, shape):
    if noise_shape is None:
        return shape
    return tuple(
        size if declared is None else declared
        for declared, size in zip(noise_shape, shape, strict=True)
    )


def _length(pool):
    if hasattr(pool, "as_numpy_iterator"):
        return None  # a dataset's cardinality counts batches, not images
    return len(pool)
