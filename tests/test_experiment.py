import numpy as np
import pytest

from keras_dbal.active import experiment


class RecordingLearner:
    """Stands in for ActiveLearner: records what it was built with."""

    made = []

    def __init__(self, model, acquisition, **kwargs):
        self.made.append((acquisition, model.name))
        self.pool_indices_ = np.empty(0, dtype="int64")

    def teach(self, x, y, *, indices=None, **kwargs):
        self.pool_indices_ = np.asarray(indices, dtype="int64")
        return self



def fake_simulate_together(learners, pools, rounds, n, **kwargs):
    return [
        [{"num_labelled": 10, "accuracy": 0.5, "error": 0.5,
          "error_without_dropout": 0.4}]
        for _ in learners
    ]


def test_deterministic_twins_use_point_mass_forms(digits, monkeypatch):
    (x_train, y_train), (x_test, y_test) = digits
    RecordingLearner.made = []
    monkeypatch.setattr(experiment, "ActiveLearner", RecordingLearner)
    monkeypatch.setattr(experiment, "simulate_together",
                        fake_simulate_together)
    config = experiment.ExperimentConfig(
        acquisitions=("variation_ratios",),
        deterministic=("variation_ratios", "bald", "max_entropy"),
        rounds=1, initial_per_class=1, seeds=(0,),
    )
    data = ((x_train[:100], y_train[:100]), (x_test[:20], y_test[:20]))
    results = experiment.run_experiment(
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
        {"acquisition": "bald", "bayesian": True, "seed": seed,
         "num_labelled": [20, 30], "error": error,
         "error_without_dropout": without}
        for seed, error, without in (
            (0, [0.5, 0.2], [0.4, 0.3]), (1, [0.3, 0.1], [0.2, 0.1]),
        )
    ] + [
        {"acquisition": "bald", "bayesian": False, "seed": 0,
         "num_labelled": [20, 30], "error": [0.6, 0.5],
         "error_without_dropout": [0.6, 0.5]},
    ]
    summary = experiment.summarize(runs)
    assert list(summary) == ["bald", "bald (deterministic)"]
    bald = summary["bald"]
    assert bald["seeds"] == [0, 1]
    assert bald["error_mean"] == pytest.approx([0.4, 0.15])
    assert bald["error_std"] == pytest.approx([0.1, 0.05])
    assert bald["error_without_dropout_mean"] == pytest.approx([0.3, 0.2])
    assert bald["error_without_dropout_std"] == pytest.approx([0.1, 0.1])
    assert summary["bald (deterministic)"]["error_std"] == [0.0, 0.0]
