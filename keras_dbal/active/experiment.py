"""Simulated active-learning experiments in the protocol of Gal et al. (2017).

Start from a few balanced labels, acquire `query_size` images a round with
each acquisition function, refit from scratch, and record the test error
after every round. Used by `keras-dbal run` and by the benchmark suite.
"""

import dataclasses
import time

import keras
import numpy as np

import keras_dbal.active.lockstep as lockstep
import keras_dbal.batch_acquisition.registry as acquisitions
from keras_dbal.active.curves import METRICS
from keras_dbal.active.curves import label as _label
from keras_dbal.active.curves import labels_to_reach
from keras_dbal.active.curves import summarize
from keras_dbal.active.learner import ActiveLearner
from keras_dbal.active.pool import Pool
from keras_dbal.active.selection import balanced_indices
from keras_dbal.active.simulation import simulate_together
from keras_dbal.models import Ensemble
from keras_dbal.models import gal_cnn
from keras_dbal.utils import validation

__all__ = [
    "POINT_MASS_FORMS",
    "ExperimentConfig",
    "labels_to_reach",
    "run_experiment",
    "summarize",
]

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
        for field in _MODELS.values():
            setattr(self, field, tuple(getattr(self, field)))
            for name in getattr(self, field):
                acquisitions.get(name)
        for field in _MODELS.values():
            shown = [_name(name) for name in getattr(self, field)]
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
            for model, field in _MODELS.items()
            for name in getattr(self, field)
        ]


# The three models a run can acquire with, and the `ExperimentConfig` field
# that lists the acquisition functions run on each.
_MODELS = {
    "bayesian": "acquisitions",
    "deterministic": "deterministic",
    "ensemble": "ensembles",
}


def run_experiment(data, config, *, progress=True, log=print,
                   on_result=None, strategy="auto"):
    """Run every acquisition function (and seed) of `config` on `data`.

    The runs advance in lockstep (`simulate_together`): each round every
    run queries and is taught, then all are refitted together, by the
    fastest way this device has (`strategy`). Each run's curve is the one
    a sequential `ActiveLearner` with its seed gives.

    Args:
        data: `((x_train, y_train), (x_test, y_test))`; the training split
            is the pool, its labels the oracle.
        config: An `ExperimentConfig`.
        progress: Show a progress bar over the rounds.
        log: Function that receives one line per run at the end.
        on_result: Function called with the results so far (every run's
            curve up to the current round) after every round, to save them
            as they come.
        strategy: How the runs' fits are computed: `"auto"` or one of
            `keras_dbal.active.lockstep.STRATEGIES`; all give the same
            curves up to float rounding.

    Returns:
        A list of dicts, one per (acquisition, model, seed), with
        `acquisition`, `model` (`"bayesian"`, `"deterministic"` or
        `"ensemble"`), `bayesian` (whether `model` is the Bayesian CNN),
        `num_labelled`, `error` and `accuracy` lists (one entry per
        evaluation, the first before any acquisition), `labelled` (the
        pool positions labelled, in order: the initial ones, then each
        round's), `seconds` (the wall time of the whole experiment, which
        its runs share), and
        `error_without_dropout`: the test error of one pass with dropout
        off, how the authors' code measured it; it puts the Bayesian CNN
        and its deterministic twin on the same footing, so the two differ
        only in what they acquired.
    """
    (x_train, y_train), (x_test, y_test) = data
    config.check_data(y_train)
    lockstep.choose(strategy)  # a bad name fails before any work
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    runs = [
        (name, model_kind, seed)
        for name, model_kind in config.runs()
        for seed in config.seeds
    ]
    learners, pools = [], []
    for name, model_kind, seed in runs:
        learner, pool = _build_run(
            x_train, y_train, num_classes, name, model_kind, seed, config
        )
        learners.append(learner)
        pools.append(pool)
    start = time.perf_counter()

    def results_of(curves):
        seconds = time.perf_counter() - start
        return [
            _result(run, curve, seconds, learner)
            for run, curve, learner in zip(
                runs, curves, learners, strict=True
            )
        ]

    if progress:
        print(f"{len(runs)} runs in lockstep ({lockstep.choose(strategy)} "
              "fits): " + ", ".join(
            f"{_label(_name(name), model_kind)} seed {seed}"
            for name, model_kind, seed in runs
        ))
    curves = simulate_together(
        learners, pools, config.rounds, config.query_size, x_test=x_test,
        y_test=y_test, strategy=strategy, progress=progress,
        on_round=None if on_result is None else (
            lambda curves: on_result(results_of(curves))
        ),
    )
    results = results_of(curves)
    for result in results:
        log(
            f"{_label(result['acquisition'], result['model'])} seed "
            f"{result['seed']}: error {result['error'][0]:.3f} -> "
            f"{result['error'][-1]:.3f} with {result['num_labelled'][-1]} "
            "labels"
        )
    return results


def _result(run, curve, seconds, learner):
    name, model_kind, seed = run
    return {
        "acquisition": _name(name),
        "bayesian": model_kind == "bayesian",
        "model": model_kind,
        "seed": seed,
        "num_labelled": [point["num_labelled"] for point in curve],
        # Every metric `summarize` averages, and accuracy beside them.
        **{
            metric: [point[metric] for point in curve]
            for metric in ("accuracy",) + METRICS
        },
        "seconds": seconds,
        "labelled": learner.pool_indices_.tolist(),
    }


def _build_run(x_train, y_train, num_classes, name, model_kind, seed,
               config):
    """One run's learner, taught its balanced initial labels (not fitted
    yet), and its pool: what `simulate_together` starts from."""
    keras.utils.set_random_seed(seed)
    initial = balanced_indices(y_train, config.initial_per_class, seed=seed)
    bayesian = model_kind == "bayesian"

    def cnn(member_seed=seed):
        return gal_cnn(
            x_train.shape[1:],
            num_classes,
            bayesian=bayesian,
            variant=config.variant,
            weight_decay=config.weight_decay,
            num_labelled=len(initial),
            seed=member_seed,
        )

    if model_kind == "ensemble":
        # Each member's dropout seed differs too: a draw from the global
        # seed `from_builder` sets for that member.
        model = Ensemble.from_builder(
            lambda: cnn(int(np.random.randint(2**31 - 2))),
            config.ensemble_size, seed=seed,
        )
    else:
        model = cnn()
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    learner = ActiveLearner(
        model,
        acquisition=(
            POINT_MASS_FORMS.get(name, name)
            if model_kind == "deterministic" else name
        ),
        mc_samples=config.mc_samples if bayesian else 1,
        fit_kwargs={
            "epochs": config.epochs,
            "batch_size": config.batch_size,
            "verbose": 0,
        },
        pool_subset=config.pool_subset,
        chunk_size=config.chunk_size,
        allow_deterministic=model_kind == "deterministic",
        seed=seed,
    )
    pool = Pool(x_train, y_train)
    learner.teach(pool, y_train[initial], indices=initial, fit=False)
    return learner, pool


def _name(acquisition):
    """The display name of a configured acquisition (a name or object)."""
    return acquisitions.name_of(acquisitions.get(acquisition))
