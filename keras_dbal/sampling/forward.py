"""The forward passes the sampler compiles: T samples folded into the batch.

For `(B, ...)` images, `FoldedForward.samples` runs the model's
deterministic prefix once, broadcasts its output to the T samples (folded
into one `(T * B, ...)` batch) through the first dropout's masks, and runs
the stochastic suffix once on the folded batch, with every `MCDropout`
drawing its masks from the seed (see `keras_dbal.sampling.masks`).

An `Ensemble` runs whole: T passes of each of its K members (one pass of
members without `MCDropout`, whose passes would all agree), K x T samples.
"""

import dataclasses
import inspect
import math

import keras
import numpy as np
from keras import ops

from keras_dbal.backend import fold_in
from keras_dbal.layers.mask_scope import MaskScope
from keras_dbal.models.ensemble import Ensemble
from keras_dbal.sampling.masks import masker
from keras_dbal.sampling.model_split import all_layers
from keras_dbal.sampling.model_split import split_model
from keras_dbal.sampling.model_split import split_off_dropout
from keras_dbal.sampling.model_split import stochastic_layers

__all__ = ["FoldedForward", "Output"]

# Folded into a chunk's seed for an acquisition function's own draws, far
# from the small integers the dropout layers fold in.
_SCORE_STREAM = 1 << 20


@dataclasses.dataclass(frozen=True)
class Output:
    """What one compiled function returns per chunk of B images.

    `samples`: `(T, B, C)` probabilities; `without_dropout`: `(B, C)`
    probabilities of one pass with dropout off; `both_ways`: `(T + 1, B,
    C)`, the T samples and then the pass with dropout off, from one run of
    the deterministic prefix; `scores`: `(B,)` scores of `acquisition`.
    Each is compiled once per sampler.
    """

    kind: str
    acquisition: object = None

    @property
    def pool_axis(self):
        return 1 if self.kind in ("samples", "both_ways") else 0


class FoldedForward:
    """`(B, ...)` images to class probabilities, traceable by the backend.

    Args:
        model: The built Keras model.
        mc_samples: T.
        split: Run the deterministic prefix once (see `split_model`).
        consistent_masks: One mask per layer and sample for all images.
        from_logits: Apply a softmax to the model's output.
    """

    def __init__(
        self, model, mc_samples, *, split, consistent_masks, from_logits
    ):
        self.model = model
        self.mc_samples = mc_samples
        self.consistent_masks = consistent_masks
        self.from_logits = from_logits
        self.ensemble = isinstance(model, Ensemble)
        # Passes per member of an ensemble: one when none can differ.
        self.member_passes = (
            mc_samples if stochastic_layers(model) else 1
        )
        if split and not self.ensemble:
            self.prefix, self.suffix = split_model(model)
        else:
            self.prefix, self.suffix = None, model
        self.fused = None
        if self.prefix is not None and self.suffix is not None:
            # The first dropout and what follows it (see split_off_dropout).
            self.fused = split_off_dropout(model, self.suffix)

    @property
    def samples_per_item(self):
        """Samples `samples` draws per image, each a row of the folded
        batch: T, or K x its passes per member for an ensemble of K."""
        if self.ensemble:
            return self.model.size * self.member_passes
        return self.mc_samples

    def bytes_per_item(self):
        """An estimate of the memory one pool image takes in `samples`: the
        largest layer output (as the model was built; T-fold after the
        split), twice, for the input and output of the layer that makes
        it; K times over for an ensemble of K, whose members run side by
        side in one compiled call. None when a layer's output shape is
        not known (a subclassed model, or images of any size)."""
        if self.suffix is None:
            folds = 1
        else:
            # An ensemble's members: K x its passes (see samples_per_item).
            folds = self.samples_per_item
        once = set() if self.prefix is None else {
            id(layer) for layer in all_layers(self.prefix)
        }
        largest = 0
        for layer in all_layers(self.model)[1:]:
            if isinstance(layer, keras.Model):
                continue  # a nested model's own layers are counted
            nodes = getattr(layer, "_inbound_nodes", None)
            if not nodes:
                return None
            for tensor in keras.tree.flatten(nodes[0].output_tensors):
                shape = tuple(tensor.shape)[1:]
                if any(size is None for size in shape):
                    return None
                try:
                    item = np.dtype(tensor.dtype).itemsize
                except TypeError:
                    item = 4
                size = math.prod(shape) * item
                largest = max(largest, size if id(layer) in once
                              else size * folds)
        return 2 * largest if largest else None

    def function_for(self, output):
        """The function of `(images, seed, positions)` that computes
        `output` (an `Output`) for one chunk: B images, the int32 seed pair
        and the images' int32 pool positions, which key their masks."""
        if output.kind == "samples":
            return self.samples
        if output.kind == "without_dropout":
            return self.without_dropout
        if output.kind == "both_ways":
            return self.both_ways
        return self.scores(output.acquisition)

    def samples(self, images, seed, positions):
        """`(B, ...)` images -> `(T, B, C)` probabilities."""
        if self.ensemble:
            return self._ensemble_samples(images, seed, positions)
        return self._samples_of(self._features(images), seed, positions)

    def both_ways(self, images, seed, positions):
        """`(B, ...)` images -> `(T + 1, B, C)`: the T samples, then the
        pass with dropout off, the deterministic prefix run once for
        both."""
        if self.ensemble or self.prefix is None or self.suffix is None:
            without = self.without_dropout(images, seed, positions)
            return ops.concatenate(
                [self.samples(images, seed, positions), without[None]],
                axis=0,
            )
        features = self._features(images)
        with MaskScope(_identity):
            without = self._probabilities(
                self.suffix(features, training=False)
            )
        return ops.concatenate(
            [self._samples_of(features, seed, positions), without[None]],
            axis=0,
        )

    def _features(self, images):
        if self.prefix is None:
            return images
        return self.prefix(images, training=False)

    def _samples_of(self, features, seed, positions):
        """The prefix's outputs -> `(T, B, C)` probabilities."""
        num_samples = self.mc_samples
        batch = features.shape[0]
        if self.suffix is None:
            outputs = self._probabilities(features)
            return ops.broadcast_to(
                outputs[None], (num_samples,) + tuple(outputs.shape)
            )
        masks = masker(seed, num_samples, batch, self.consistent_masks,
                       positions)
        if self.fused is not None:
            # The first dropout folds: its masks broadcast the features to
            # the T samples, so the (T * B, ...) copy is written only once.
            dropout, suffix = self.fused
            folded = masks(dropout, features, folded=False)
        else:
            suffix = self.suffix
            feature_shape = tuple(features.shape[1:])
            folded = ops.reshape(
                ops.broadcast_to(
                    features[None], (num_samples, batch) + feature_shape
                ),
                (num_samples * batch,) + feature_shape,
            )
        with MaskScope(masks):
            outputs = suffix(folded, training=False)
        outputs = self._probabilities(outputs)
        return ops.reshape(outputs, (num_samples, batch, outputs.shape[-1]))

    def _ensemble_samples(self, images, seed, positions):
        """`(B, ...)` images -> `(K * T, B, C)`, member by member."""
        passes, batch = self.member_passes, images.shape[0]
        item_shape = tuple(images.shape[1:])
        folded = ops.reshape(
            ops.broadcast_to(images[None], (passes, batch) + item_shape),
            (passes * batch,) + item_shape,
        )
        masks = masker(seed, passes, batch, self.consistent_masks,
                       positions)
        with MaskScope(masks):
            outputs = self.model.call_members(folded, training=False)
        outputs = self._probabilities(outputs)
        size, classes = outputs.shape[1], outputs.shape[2]
        outputs = ops.reshape(outputs, (passes, batch, size, classes))
        outputs = ops.transpose(outputs, (2, 0, 1, 3))
        return ops.reshape(outputs, (size * passes, batch, classes))

    def scores(self, acquisition):
        """`(images, seed, positions) -> (B,)` scores of `acquisition` on
        `samples`.

        An acquisition function with a `seed` argument (random
        acquisition) gets a seed folded from the sampler's, so its draws
        follow the sampler's seed too; one that also takes `positions`
        gets the images' pool positions, which key its draws as they key
        the masks: its scores then do not depend on the chunking either.
        """
        parameters = _parameters(acquisition)
        takes_seed = "seed" in parameters
        takes_positions = takes_seed and "positions" in parameters

        def function(images, seed, positions):
            probs = self.samples(images, seed, positions)
            if not takes_seed:
                return acquisition(probs)
            stream = fold_in(seed, _SCORE_STREAM)
            if takes_positions:
                return acquisition(probs, seed=stream, positions=positions)
            # Without positions, a stream of its own per chunk, keyed by
            # the chunk's first position.
            return acquisition(probs, seed=fold_in(stream, positions[0]))

        return function

    def without_dropout(self, images, seed, positions):
        """`(B, ...)` images -> `(B, C)` probabilities, dropout off."""
        with MaskScope(_identity):
            outputs = self.model(images, training=False)
        return self._probabilities(outputs)

    def _probabilities(self, outputs):
        """Class probabilities in float32, whatever the model computes in.

        A mixed-precision model (`mixed_bfloat16`) ends in a bfloat16
        softmax, whose 8-bit mantissas leave rows summing to 1 only
        within about 1e-2; acquisition functions read them as
        distributions, so such rows are renormalised in float32.
        """
        low_precision = keras.backend.standardize_dtype(outputs.dtype) in (
            "float16", "bfloat16"
        )
        outputs = ops.cast(outputs, "float32")
        if self.from_logits:
            return ops.softmax(outputs, axis=-1)
        if low_precision:
            outputs = outputs / ops.sum(outputs, axis=-1, keepdims=True)
        return outputs


def _identity(layer, inputs):
    return inputs


def _parameters(function):
    """The names of `function`'s parameters (none for a builtin without
    a signature)."""
    try:
        return inspect.signature(function).parameters
    except (TypeError, ValueError):
        return {}
