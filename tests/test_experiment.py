import numpy as np
import pytest

from keras_dbal import experiments
from keras_dbal.experiments import runner as experiment


class RecordingLearner:
    """Stands in for ActiveLearner: records what it was built with."""

    made = []

    def __init__(self, model, acquisition, **kwargs):
        self.made.append((acquisition, model.name))
        self.model, self.kwargs = model, kwargs
        self.pool_indices_ = np.empty(0, dtype="int64")

    def teach(self, x, y, *, indices=None, **kwargs):
        self.pool_indices_ = np.asarray(indices, dtype="int64")
        return self



def fake_simulate_together(learners, pools, rounds, n, **kwargs):
    return [
        [{"num_labelled": 10, "accuracy": 0.5, "error": 0.5,
          "error_without_dropout": 0.4, "balanced_accuracy": 0.5,
          "auc": 0.7}]
        for _ in learners
    ]


def test_deterministic_twins_use_point_mass_forms(digits, monkeypatch):
    (x_train, y_train), (x_test, y_test) = digits
    RecordingLearner.made = []
    monkeypatch.setattr(experiment, "ActiveLearner", RecordingLearner)
    monkeypatch.setattr(experiment, "simulate_together",
                        fake_simulate_together)
    config = experiments.ExperimentConfig(
        acquisitions=("variation_ratios",),
        deterministic=("variation_ratios", "bald", "max_entropy"),
        rounds=1, initial_per_class=1, seeds=(0,),
    )
    data = ((x_train[:100], y_train[:100]), (x_test[:20], y_test[:20]))
    results = experiments.run_experiment(
        data, config, progress=False, log=lambda line: None
    )
    assert RecordingLearner.made == [
        ("variation_ratios", "gal_cnn"),
        ("least_confidence", "gal_cnn_deterministic"),
        ("bald", "gal_cnn_deterministic"),
        ("max_entropy", "gal_cnn_deterministic"),
    ]
    assert [(r["acquisition"], r["bayesian"]) for r in results] == [
        ("variation_ratios", True),
        ("variation_ratios", False),
        ("bald", False),
        ("max_entropy", False),
    ]
    # Each result names the pool positions its learner was taught: here
    # one balanced image per class, the same for every run of seed 0.
    initial = experiment.balanced_indices(y_train[:100], 1, seed=0)
    assert all(r["labelled"] == initial.tolist() for r in results)


def test_summarize_averages_both_test_errors_over_seeds():
    runs = [
        {"acquisition": "bald", "model": "bayesian", "seed": seed,
         "num_labelled": [20, 30], "error": error,
         "error_without_dropout": without}
        for seed, error, without in (
            (0, [0.5, 0.2], [0.4, 0.3]), (1, [0.3, 0.1], [0.2, 0.1]),
        )
    ] + [
        {"acquisition": "bald", "model": model, "seed": 0,
         "num_labelled": [20, 30], "error": [0.6, 0.5],
         "error_without_dropout": [0.6, 0.5]}
        for model in ("deterministic", "ensemble")
    ]
    summary = experiments.summarize(runs)
    assert list(summary) == [
        "bald", "bald (deterministic)", "bald (ensemble)"
    ]
    bald = summary["bald"]
    assert bald["seeds"] == [0, 1]
    assert bald["error_mean"] == pytest.approx([0.4, 0.15])
    assert bald["error_std"] == pytest.approx([0.1, 0.05])
    assert bald["error_without_dropout_mean"] == pytest.approx([0.3, 0.2])
    assert bald["error_without_dropout_std"] == pytest.approx([0.1, 0.1])
    assert summary["bald (deterministic)"]["error_std"] == [0.0, 0.0]


def test_ensemble_runs_acquire_with_k_distinct_deterministic_members(
    digits, monkeypatch
):
    (x_train, y_train), (x_test, y_test) = digits
    RecordingLearner.made = []
    learners = []

    def recording(*args, **kwargs):
        learners.append(RecordingLearner(*args, **kwargs))
        return learners[-1]

    monkeypatch.setattr(experiment, "ActiveLearner", recording)
    monkeypatch.setattr(experiment, "simulate_together",
                        fake_simulate_together)
    config = experiments.ExperimentConfig(
        acquisitions=("bald",), ensembles=("bald", "random"),
        ensemble_size=3, rounds=1, initial_per_class=1, seeds=(0,),
    )
    data = ((x_train[:100], y_train[:100]), (x_test[:20], y_test[:20]))
    results = experiments.run_experiment(
        data, config, progress=False, log=lambda line: None
    )
    assert [(r["acquisition"], r["model"], r["bayesian"])
            for r in results] == [
        ("bald", "bayesian", True),
        ("bald", "ensemble", False),
        ("random", "ensemble", False),
    ]
    assert list(experiments.summarize(results)) == [
        "bald", "bald (ensemble)", "random (ensemble)"
    ]
    ensemble = learners[1].model
    assert isinstance(ensemble, experiment.Ensemble)
    assert ensemble.size == 3
    # Members are deterministic twins (one pass each: K samples), with
    # their own initial weights and their own training dropout seeds.
    assert learners[1].kwargs["mc_samples"] == 1
    assert all(m.name == "gal_cnn_deterministic" for m in ensemble.members)
    kernels = [m.layers[0].get_weights()[0] for m in ensemble.members]
    assert not np.allclose(kernels[0], kernels[1])
    assert not np.allclose(kernels[1], kernels[2])
    seeds = {
        layer.seed for member in ensemble.members for layer in member.layers
        if "dropout" in layer.name
    }
    assert len(seeds) == 6
    # The same seed builds the same members.
    again = learners[2].model
    assert all(
        np.array_equal(a, b) for a, b in zip(
            ensemble.get_weights(), again.get_weights(), strict=True
        )
    )


def test_an_ensemble_of_one_is_refused():
    with pytest.raises(ValueError, match="ensemble_size.*at least 2"):
        experiments.ExperimentConfig(ensembles=("bald",), ensemble_size=1)
    with pytest.raises(ValueError, match="ensembles.*share a name"):
        experiments.ExperimentConfig(ensembles=("bald", "bald"))


def test_input_range_reaches_every_learner(digits, monkeypatch):
    # 8-bit images are refused when the runs are taught their first
    # labels; input_range=None lets data outside [0, 1] through.
    (x_train, y_train), (x_test, y_test) = digits
    monkeypatch.setattr(experiment, "simulate_together",
                        fake_simulate_together)
    data = ((x_train[:100] * 255, y_train[:100]),
            (x_test[:20] * 255, y_test[:20]))
    config = experiments.ExperimentConfig(
        acquisitions=("bald",), rounds=1, initial_per_class=1, seeds=(0,),
    )
    with pytest.raises(ValueError, match=r"Expected image values in \[0, 1\]"):
        experiments.run_experiment(data, config, progress=False,
                                   log=lambda line: None)
    config = experiments.ExperimentConfig(
        acquisitions=("bald",), rounds=1, initial_per_class=1, seeds=(0,),
        input_range=None,
    )
    results = experiments.run_experiment(data, config, progress=False,
                                         log=lambda line: None)
    assert len(results) == 1


@pytest.mark.parametrize("equal", [False, True])
def test_equal_batches_reach_every_learner(digits, monkeypatch, equal):
    (x_train, y_train), (x_test, y_test) = digits
    seen = []

    def record(learners, pools, rounds, n, **kwargs):
        seen.extend(learner.equal_batches for learner in learners)
        return fake_simulate_together(learners, pools, rounds, n)

    monkeypatch.setattr(experiment, "simulate_together", record)
    config = experiments.ExperimentConfig(
        acquisitions=("bald", "random"), rounds=1, initial_per_class=1,
        seeds=(0,), equal_batches=equal,
    )
    experiments.run_experiment(((x_train[:100], y_train[:100]),
                                (x_test[:20], y_test[:20])), config,
                               progress=False, log=lambda line: None)
    assert seen == [equal, equal]
