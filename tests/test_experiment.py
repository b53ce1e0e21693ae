import numpy as np

from keras_dbal import experiment


def test_deterministic_twins_use_point_mass_forms(digits, monkeypatch):
    (x_train, y_train), (x_test, y_test) = digits
    made = []
    learner_class = experiment.ActiveLearner

    def recording_learner(model, acquisition, **kwargs):
        made.append((acquisition, model.name))
        return learner_class(model, acquisition, **kwargs)

    monkeypatch.setattr(experiment, "ActiveLearner", recording_learner)
    config = experiment.ExperimentConfig(
        acquisitions=("variation_ratios",),
        deterministic=("variation_ratios", "bald", "max_entropy"),
        rounds=1, query_size=3, initial_per_class=1, epochs=1,
        pool_subset=50, mc_samples=2,
    )
    data = ((x_train[:100], y_train[:100]), (x_test[:20], y_test[:20]))
    results = experiment.run_experiment(
        data, config, progress=False, log=lambda line: None
    )
    assert made == [
        ("variation_ratios", "gal_cnn"),
        ("least_confidence", "gal_cnn_deterministic"),
        ("bald", "gal_cnn_deterministic"),
        ("max_entropy", "gal_cnn_deterministic"),
    ]
    assert [r["acquisition"] for r in results] == [
        "variation_ratios", "variation_ratios", "bald", "max_entropy"
    ]
    assert all(np.isfinite(r["error"]).all() for r in results)
