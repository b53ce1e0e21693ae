"""The lockstep engine against the sequential `ActiveLearner` path."""

import logging
import types

import keras
import numpy as np
import pytest

import keras_dbal
from keras_dbal import backend
from keras_dbal import experiments
from keras_dbal import training
from keras_dbal.experiments import runner as experiment
from keras_dbal.experiments.simulation import simulate
from keras_dbal.experiments.simulation import simulate_together
from keras_dbal.training import compiled_fit
from tests.conftest import requires_backend

# Two runs per architecture (Bayesian CNN; deterministic twin), so the
# lockstep fit stacks runs and splits them by architecture.
CONFIG = experiments.ExperimentConfig(
    acquisitions=("bald", "random"),
    deterministic=("max_entropy",),
    seeds=(0, 1),
    rounds=1,
    query_size=5,
    initial_per_class=2,
    mc_samples=3,
    epochs=2,
    batch_size=8,
    pool_subset=150,
)
RUNS = [("bald", "bayesian", 0), ("random", "bayesian", 1),
        ("max_entropy", "deterministic", 0),
        ("max_entropy", "deterministic", 1)]


def build(digits):
    (x, y), _ = digits
    return [experiment._build_run(x, y, 10, *run, CONFIG) for run in RUNS]


@pytest.fixture(scope="module")
def sequential(digits):
    """Each run alone: the reference `ActiveLearner` path."""
    _, (x_test, y_test) = digits
    found = []
    for learner, pool in build(digits):
        learner.fit()
        curve = simulate(learner, pool, 1, CONFIG.query_size, x_test=x_test,
                         y_test=y_test, progress=False)
        found.append((curve, learner.history_[0]["indices"],
                      [np.asarray(v) for v in learner.model.weights]))
    return found


@pytest.mark.slow
@pytest.mark.parametrize(
    # Lockstep is the JAX path a GPU takes (one jax.vmap over the runs).
    # Under JAX the compiled strategy shares one compiled step per group.
    "strategy", [pytest.param("compiled", marks=pytest.mark.jax),
                 pytest.param("lockstep", marks=pytest.mark.jax)]
)
def test_engine_equals_the_sequential_learner(digits, sequential, strategy):
    _, (x_test, y_test) = digits
    pairs = build(digits)
    curves = simulate_together(
        [learner for learner, _ in pairs], [pool for _, pool in pairs], 1,
        CONFIG.query_size, x_test=x_test, y_test=y_test, strategy=strategy,
        progress=False,
    )
    for (learner, _), curve, (expected, indices, weights) in zip(
        pairs, curves, sequential, strict=True
    ):
        assert learner.history_[0]["indices"] == indices
        for key in ("error", "error_without_dropout", "nll"):
            assert abs(curve[0][key] - expected[0][key]) <= 1e-5, key
        # After a round the weights still agree: the second fit too.
        for ours, theirs in zip(learner.model.weights, weights, strict=True):
            np.testing.assert_allclose(np.asarray(ours), theirs, atol=1e-5)
    # The runs learned different things (a test that cannot fail is none).
    assert curves[0][1]["error"] != curves[1][1]["error"]


def test_auto_picks_the_measured_strategy_for_this_device():
    device = "gpu" if backend.has_accelerator() else "cpu"
    expected = {"tensorflow": "lockstep", "jax": "compiled"}
    if device == "cpu":
        assert training.choose("auto") == expected[keras.backend.backend()]
    assert training.choose("lockstep") == "lockstep"
    with pytest.raises(ValueError, match="strategy"):
        training.choose("vmap")


@pytest.mark.slow
def test_runs_must_share_their_label_count_and_epochs(digits):
    (learner, pool), (other, other_pool) = build(digits)[:2]
    other.teach(other_pool, other_pool.oracle([5]), indices=[5], fit=False)
    with pytest.raises(ValueError, match="same number of labels"):
        training.fit_together([learner, other])
    # Refused before any learner was reset or counted a fit.
    assert learner.num_fits_ == other.num_fits_ == 0
    learner, other = (run[0] for run in build(digits)[:2])
    other.fit_kwargs["epochs"] = 3
    with pytest.raises(ValueError, match="one `epochs`"):
        training.fit_together([learner, other], "lockstep")
    # What only model.fit does (callbacks, ...): the compiled strategies
    # refuse rather than drop it ("auto" falls back to model.fit).
    other.fit_kwargs = {"epochs": 2, "batch_size": 8, "callbacks": []}
    with pytest.raises(ValueError, match="callbacks"):
        training.fit_together([learner, other], "compiled")
    assert learner.num_fits_ == other.num_fits_ == 0


@pytest.mark.slow
def test_pools_must_match_learners(digits):
    with pytest.raises(ValueError, match="no learners"):
        simulate_together([], [], 1)
    (learner, pool), (other, _) = build(digits)[:2]
    with pytest.raises(ValueError, match="one pool per learner"):
        simulate_together([learner, other], [pool], 1)
    with pytest.raises(ValueError, match="its own Pool"):
        simulate_together([learner, other], [pool, pool], 1)
    with pytest.raises(ValueError, match="more than once"):
        training.fit_together([learner, learner])


@requires_backend("tensorflow")
def test_only_our_retracing_warnings_are_dropped():
    backend.quiet_retracing_notes()
    logger = logging.getLogger("tensorflow")
    note = ("5 out of the last 9 calls to <bound method FoldedForward.samples"
            " of <...>> triggered tf.function retracing. Tracing is ...")
    theirs = note.replace("FoldedForward.samples", "user_step")
    records = [
        logger.makeRecord("tensorflow", logging.WARNING, __file__, 1, text,
                          None, None)
        for text in (note, theirs)
    ]
    assert [bool(logger.filter(record)) for record in records] == [False, True]


def _groups(learners):
    return compiled_fit.same_model_groups(
        [learner.model for learner in learners]
    )


def test_lockstep_groups_runs_one_train_step_can_serve():
    # Under JAX a group runs its first model's train step for all: seeds
    # may differ, layers, settings and optimizers may not.
    def learner(seed, **settings):
        model = keras_dbal.gal_cnn((8, 8, 1), seed=seed, num_labelled=20,
                                   **{"weight_decay": 3.5, **settings})
        model.compile(optimizer=keras.optimizers.Adam(),
                      loss="sparse_categorical_crossentropy")
        return types.SimpleNamespace(model=model)

    learners = [learner(0), learner(1), learner(2, bayesian=False),
                learner(3, weight_decay=1.0), learner(4)]
    assert _groups(learners) == [[0, 1, 4], [2], [3]]
    learners[4].model.compile(optimizer=keras.optimizers.Adam(epsilon=0.1),
                              loss="sparse_categorical_crossentropy")
    assert _groups(learners) == [[0, 1], [2], [3], [4]]


class HeadedModel(keras.Model):
    """A subclassed model whose constructor takes a layer: Keras cannot
    write its config (`get_config` raises NotImplementedError)."""

    def __init__(self, head):
        super().__init__()
        self.flatten = keras.layers.Flatten()
        self.dropout = keras_dbal.MCDropout(0.5, seed=0)
        self.head = head

    def call(self, inputs):
        return self.head(self.dropout(self.flatten(inputs)))


@pytest.mark.slow
@pytest.mark.jax
def test_subclassed_models_without_a_config_fit_together(digits):
    (x, y), _ = digits

    def learners():
        found = []
        for seed in (0, 1):
            keras.utils.set_random_seed(seed)
            model = HeadedModel(keras.layers.Dense(10, activation="softmax"))
            model(x[:2])
            model.compile("adam", "sparse_categorical_crossentropy")
            learner = keras_dbal.ActiveLearner(
                model, "bald", mc_samples=2, seed=seed,
                fit_kwargs={"epochs": 2, "batch_size": 8},
            )
            picks = np.arange(seed, seed + 12)
            learner.teach(x[picks], y[picks], fit=False)
            found.append(learner)
        return found

    with pytest.raises(NotImplementedError):
        learners()[0].model.get_config()
    together, alone = learners(), learners()
    assert _groups(together) == [[0], [1]]
    training.fit_together(together)  # "auto": compiled or lockstep here
    training.fit_together(alone, strategy="sequential")
    for ours, theirs in zip(together, alone, strict=True):
        for a, b in zip(ours.model.weights, theirs.model.weights,
                        strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b),
                                       atol=1e-5)
