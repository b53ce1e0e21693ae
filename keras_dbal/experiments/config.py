"""The settings of a simulated experiment (`ExperimentConfig`).

Light on purpose: it imports no Keras, so `keras-dbal --help` reads its
defaults without starting a backend.
"""

import dataclasses

import numpy as np

from keras_dbal.utils import validation

__all__ = ["MODELS", "POINT_MASS_FORMS", "ExperimentConfig", "display_name"]


# Section 5.2 of Gal et al. (2017) runs the acquisition functions on a
# deterministic CNN's probability vector, "formally, by setting q(w) to a
# point mass" at the trained weights. Under a point mass, variation ratios,
# 1 - max_y p(y|x), is least confidence on the softmax output; its
# mode-count estimator would score every image 0 and acquire at random.
# BALD is 0 under a point mass either way (it then acquires at random) and
# max entropy is the softmax entropy, so both keep their own function.
POINT_MASS_FORMS = {"variation_ratios": "least_confidence"}


@dataclasses.dataclass
class ExperimentConfig:
    """Every setting of a simulated experiment, in one place.

    The defaults are those of `keras-dbal run` (whose options read them
    from here): the protocol of Gal et al. (2017) as the authors' released
    code runs it (2 labels per class to start, 10 acquired per round,
    T = 20, Adam, weight decay c / N with c = 3.5, a random pool subset of
    2000 scored each round), except for training, which the 8x8 digits
    embedded in scikit-learn need longer: the paper's 50 epochs of batch
    128 are one gradient step per epoch while fewer than 128 images are
    labelled, which leaves the CNN so undertrained that BALD fell below
    random (measured: 0.29 vs 0.83 accuracy at 220 labels, two seeds);
    100 epochs of batch 32 train it properly in about the same time.
    `ExperimentConfig.paper()` gives the paper's own settings.

    Args:
        acquisitions: Acquisition functions run on the Bayesian CNN: names
            (see `keras_dbal.batch_acquisition.all_names()`) or batch
            acquisition objects (`BatchBALD(num_candidates=200)`), which
            the results name by their `name`.
        deterministic: Acquisition functions also run on its deterministic
            twin (see `POINT_MASS_FORMS`).
        ensembles: Acquisition functions also run on a deep ensemble
            (Beluch et al., 2018) of `ensemble_size` deterministic twins,
            each initialised from its own seed; BALD then measures how much
            the members disagree.
        ensemble_size: K, the members of each ensemble (at least 2).
        seeds: One run per seed and acquisition function.
        rounds: Acquisition rounds per run.
        query_size: Images acquired per round.
        initial_per_class: Balanced initial labels per class.
        mc_samples: T, MC dropout samples per image.
        epochs: Training epochs per fit.
        batch_size: Training batch size.
        variant: `gal_cnn` variant.
        weight_decay: c of the c / N weight decay.
        pool_subset: Random pool images scored per round.
        chunk_size: Sampler chunk size (None: automatic).
        equal_batches: Fit on batches of one size (see `ActiveLearner`);
            off, as in the paper's protocol, whose last batch of a few
            images makes every curve dip at 130 labels.
        input_range: The range image values must lie in, as
            `ActiveLearner` checks it: keras_dbal's loaders give [0, 1];
            None checks nothing (data that goes outside on purpose).
    """

    acquisitions: tuple = ("bald", "random")
    deterministic: tuple = ()
    ensembles: tuple = ()
    ensemble_size: int = 5
    seeds: tuple = (0, 1)
    rounds: int = 20
    query_size: int = 10
    initial_per_class: int = 2
    mc_samples: int = 20
    epochs: int = 100
    batch_size: int = 32
    variant: str = "paper"
    weight_decay: float = 3.5
    pool_subset: int = 2000
    chunk_size: int = None
    input_range: tuple = (0.0, 1.0)
    equal_batches: bool = False

    @classmethod
    def paper(cls, **changes):
        """The settings of Gal et al. (2017), Section 5.1, on MNIST.

        100 rounds of 10 from 20 balanced labels, 3 repetitions, 50 epochs
        of batch 128; `changes` override any field.
        """
        settings = {
            "seeds": (0, 1, 2),
            "rounds": 100,
            "epochs": 50,
            "batch_size": 128,
        }
        return cls(**{**settings, **changes})

    def __post_init__(self):
        from keras_dbal.batch_acquisition import registry as acquisitions

        for field in MODELS.values():
            setattr(self, field, tuple(getattr(self, field)))
            for name in getattr(self, field):
                acquisitions.get(name)
        for field in MODELS.values():
            shown = [display_name(name) for name in getattr(self, field)]
            if len(set(shown)) != len(shown):
                raise ValueError(
                    f"Invalid value received for argument `{field}`: two "
                    f"entries share a name in the results ({shown}); "
                    "results are grouped by name, so give each its own (an "
                    "object's `.name`)."
                )
        self.seeds = tuple(int(seed) for seed in self.seeds)
        for name in ("rounds", "query_size", "initial_per_class",
                     "mc_samples", "epochs", "batch_size", "pool_subset",
                     "ensemble_size"):
            validation.positive_int(getattr(self, name), name)
        if self.ensembles and self.ensemble_size < 2:
            raise ValueError(
                "Invalid value received for argument `ensemble_size`: "
                f"expected at least 2 members. Received: ensemble_size="
                f"{self.ensemble_size} (an ensemble of one is the "
                "deterministic twin: see `deterministic`)."
            )
        if self.query_size > self.pool_subset:
            raise ValueError(
                f"Invalid value received for argument `query_size`: "
                f"query_size={self.query_size} is more than pool_subset="
                f"{self.pool_subset}, the images scored per round."
            )

    def check_data(self, y_train):
        """Raise now if the pool cannot last every round, not at the end.

        Args:
            y_train: The pool's oracle labels.
        """
        classes, counts = np.unique(y_train, return_counts=True)
        short = classes[counts < self.initial_per_class]
        if len(short):
            raise ValueError(
                f"Classes {short[:10].tolist()} have fewer than "
                f"initial_per_class={self.initial_per_class} images in the "
                "pool."
            )
        needed = (
            len(classes) * self.initial_per_class
            + self.rounds * self.query_size
        )
        if needed > len(y_train):
            raise ValueError(
                f"{self.rounds} rounds of {self.query_size} after "
                f"{len(classes) * self.initial_per_class} initial labels "
                f"need {needed} images, but the pool has {len(y_train)}."
            )

    def runs(self):
        """`(acquisition, model)` pairs, `model` one of `"bayesian"`,
        `"deterministic"` and `"ensemble"`, in that order."""
        return [
            (name, model)
            for model, field in MODELS.items()
            for name in getattr(self, field)
        ]


# The three models a run can acquire with, and the `ExperimentConfig` field
# that lists the acquisition functions run on each.
MODELS = {
    "bayesian": "acquisitions",
    "deterministic": "deterministic",
    "ensemble": "ensembles",
}


def display_name(acquisition):
    """The display name of a configured acquisition (a name or object)."""
    from keras_dbal.batch_acquisition import registry

    return registry.name_of(registry.get(acquisition))
