"""`Ensemble`: K independently initialised networks as one Keras model."""

import keras
import numpy as np
from keras import ops

__all__ = ["Ensemble"]


class _Stash:
    """Holds the members' outputs of a training call until the loss reads
    them, out of sight of Keras's attribute tracking."""

    def __init__(self):
        self.prediction = None
        self.outputs = None


@keras.saving.register_keras_serializable(package="keras_dbal")
class Ensemble(keras.Model):
    """A deep ensemble (Beluch et al., 2018) as one Keras model.

    The K members see the same input; the ensemble predicts the mean of
    their class probabilities. Trained with `fit`, each member minimises
    its own loss: the training loss is the sum of the members' compiled
    losses (and every regularisation loss, once), so a member's gradients
    are exactly those it would get trained alone on the same batches,
    whatever the loss and its reduction. Members differ by their initial
    weights (and their own dropout masks).

    Everything that takes a model takes an ensemble: `ActiveLearner`
    (which resets, refits and checkpoints it as one model) and `MCSampler`,
    which draws T passes of every member, K x T samples in all (T = 1 is
    enough for members without `MCDropout`), so BALD measures how much the
    members disagree. It saves to and loads from `.keras` like any model.

    Args:
        members: Built Keras models, at least one, with the same input and
            output shapes, each ending in a softmax. Distinct objects:
            a model listed twice would be trained twice per step.
        **kwargs: Passed to `keras.Model` (`name`, ...).

    Example:

    >>> ensemble = Ensemble.from_builder(
    ...     lambda: keras_dbal.gal_cnn(bayesian=False), size=5, seed=0)
    >>> ensemble.compile("adam", "sparse_categorical_crossentropy")
    >>> learner = ActiveLearner(ensemble, acquisition="bald", mc_samples=1)

    Reference:
        - Beluch, Genewein, Nürnberger & Köhler, "The Power of Ensembles for
          Active Learning in Image Classification", CVPR 2018.
        - Lakshminarayanan, Pritzel & Blundell, "Simple and Scalable
          Predictive Uncertainty Estimation using Deep Ensembles", NeurIPS
          2017.
    """

    def __init__(self, members, **kwargs):
        super().__init__(**kwargs)
        members = list(members)
        if not members or not all(
            isinstance(member, keras.Model) for member in members
        ):
            raise ValueError(
                "Invalid value received for argument `members`. Expected a "
                "non-empty list of keras.Model. Received: "
                f"{[type(member).__name__ for member in members]}"
            )
        if len({id(member) for member in members}) != len(members):
            raise ValueError(
                "Invalid value received for argument `members`: the same "
                "model appears more than once; build each member anew."
            )
        shapes = {_signature(member) for member in members}
        if len(shapes) != 1:
            raise ValueError(
                "Invalid value received for argument `members`. Expected "
                "members with the same input and output shapes. Received: "
                f"{sorted(shapes, key=str)}"
            )
        self.members = members
        self._stash = _Stash()
        input_shape = next(iter(shapes))[0]
        if input_shape is not None:
            self.build((None,) + input_shape)

    @classmethod
    def from_builder(cls, builder, size, *, seed=None, **kwargs):
        """An ensemble of `size` models made by `builder()`.

        Args:
            builder: Function of no arguments returning a new built model.
            size: K, the number of members.
            seed: If given, Keras's global seed is set
                (`keras.utils.set_random_seed`) to a seed derived from it
                before each member is built, so the same seed gives the
                same initial members.
            **kwargs: Passed to `Ensemble`.
        """
        if isinstance(size, bool) or int(size) != size or size < 1:
            raise ValueError(
                "Invalid value received for argument `size`. Expected an "
                f"integer >= 1. Received: size={size!r}"
            )
        members = []
        for index in range(int(size)):
            if seed is not None:
                member_seed = np.random.SeedSequence([int(seed), index])
                keras.utils.set_random_seed(
                    int(member_seed.generate_state(1)[0] >> 1)
                )
            members.append(builder())
        return cls(members, **kwargs)

    @property
    def size(self):
        """K, the number of members."""
        return len(self.members)

    def build(self, input_shape):
        for member in self.members:
            if not member.built:
                member.build(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        outputs = self.call_members(inputs, training=training)
        prediction = ops.mean(outputs, axis=1)
        if training:
            # For the compute_loss of this train step (matched by the
            # identity of `prediction`); a training call that no loss
            # reads keeps them only until the next one.
            self._stash.prediction = prediction
            self._stash.outputs = outputs
        return prediction

    def call_members(self, inputs, training=None):
        """Every member's output, stacked: `(batch, K, C)`.

        Args:
            inputs: A batch of images.
            training: Passed to every member.
        """
        return ops.stack(
            [member(inputs, training=training) for member in self.members],
            axis=1,
        )

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        """The sum of the members' losses while training (see the class
        docstring); the loss of the mean prediction otherwise.

        Args:
            x, y: Inputs and targets of the batch.
            y_pred: What `call` returned for `x`.
            sample_weight: Optional weights of the batch's items.
            training: Whether the loss is for a train step.
        """
        outputs = self._stash.outputs
        made_here = self._stash.prediction is y_pred
        self._stash.prediction = self._stash.outputs = None
        if not training:
            return super().compute_loss(
                x, y, y_pred, sample_weight, training=training
            )
        if not made_here:
            # Training on the mean prediction would train the mixture,
            # not K independent members: refuse rather than do it.
            raise ValueError(
                "Ensemble.compute_loss(training=True) needs the members' "
                "outputs of the call that returned `y_pred`: call the "
                "ensemble with training=True on `x` just before."
            )
        # Member 0's loss with every regularisation loss (once), plus each
        # other member's own loss, under whatever reduction was compiled.
        total = super().compute_loss(
            x, y, outputs[:, 0], sample_weight, training=training
        )
        if self._compile_loss is None:
            return total
        for index in range(1, self.size):
            total = total + self._compile_loss(
                y, outputs[:, index], sample_weight
            )
        return total

    def compute_output_shape(self, input_shape):
        return self.members[0].compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config["members"] = [
            keras.saving.serialize_keras_object(member)
            for member in self.members
        ]
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        members = [
            keras.saving.deserialize_keras_object(member)
            for member in config.pop("members")
        ]
        return cls(members, **config)


def _signature(model):
    """`(input item shape, output shape)` of a member, as far as known."""
    try:
        item = tuple(model.inputs[0].shape[1:])
        output = tuple(model.outputs[0].shape[1:])
    except (AttributeError, IndexError, TypeError, ValueError):
        return (None, None)
    return (item, output)
