import warnings

import keras
import numpy as np
import pytest

import keras_dbal
from keras_dbal import ActiveLearner
from keras_dbal import NotFittedError
from keras_dbal import Pool
from keras_dbal import gal_cnn
from tests.conftest import requires_backend


def compiled_cnn(bayesian=True, seed=0, num_classes=10, weight_decay=None):
    # No weight decay unless a test is about it: a coefficient that changes
    # with every teach recompiles the train step (slow under JAX).
    keras.utils.set_random_seed(seed)
    model = gal_cnn((8, 8, 1), num_classes, bayesian=bayesian, seed=seed,
                    weight_decay=weight_decay)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def make_learner(acquisition="bald", seed=0, weight_decay=None, **kwargs):
    kwargs.setdefault("fit_kwargs", {"epochs": 2, "batch_size": 32})
    return ActiveLearner(
        compiled_cnn(seed=seed, weight_decay=weight_decay), acquisition,
        mc_samples=4, seed=seed, **kwargs,
    )


@pytest.fixture
def small(digits):
    (x_train, y_train), _ = digits
    return x_train[:200], y_train[:200]


def test_query_returns_distinct_unlabelled_positions(small):
    x, y = small
    learner = make_learner()
    pool = Pool(x, y)
    learner.teach(pool, y[:20], indices=np.arange(20))
    for _ in range(3):
        chosen = learner.query(pool, n=10)
        assert len(chosen) == 10 and len(set(chosen.tolist())) == 10
        assert not pool.labelled_mask[chosen].any()
        learner.teach(pool, pool.oracle(chosen), indices=chosen)
    assert learner.num_labelled == 50
    assert sorted(learner.pool_indices_) == sorted(pool.labelled_indices)
    np.testing.assert_array_equal(pool.labels_[learner.pool_indices_],
                                  learner.y_labelled_)


def test_query_before_teach_is_not_fitted(small):
    with pytest.raises(NotFittedError, match="teach"):
        make_learner().query(small[0], n=2)
    assert issubclass(NotFittedError, ValueError)


@pytest.mark.parametrize("n", [0, -3, 181, 2.0])
def test_query_size_must_fit(small, n):
    x, y = small
    learner = make_learner(fit_kwargs={"epochs": 1})
    pool = Pool(x, y)
    learner.teach(pool, y[:20], indices=np.arange(20))
    with pytest.raises(ValueError, match="`n`"):
        learner.query(pool, n=n)
    assert learner.history_ == []


def test_double_labelling_is_refused_and_changes_nothing(small):
    x, y = small
    learner = make_learner(fit_kwargs={"epochs": 1})
    pool = Pool(x, y)
    learner.teach(pool, y[:5], indices=np.arange(5))
    labels_before = pool.labels_.copy()
    with pytest.raises(ValueError, match="already labelled"):
        learner.teach(pool, y[3:8], indices=np.arange(3, 8))
    with pytest.raises(ValueError, match="more than once"):
        learner.teach(pool, y[[9, 9]], indices=[9, 9])
    np.testing.assert_array_equal(pool.labels_, labels_before)
    assert learner.num_labelled == 5


@pytest.mark.parametrize(
    "labels, match",
    [
        ([0, 1, 10], r"\[0, 10\)"),
        ([0, 1], "2 labels for 3 items"),
        ([0.5, 1, 2], "integer"),
        ([0, -1, 2], r"\[0, 10\)"),
    ],
)
def test_bad_labels_are_refused(small, labels, match):
    x, _ = small
    learner = make_learner(fit_kwargs={"epochs": 1})
    with pytest.raises(ValueError, match=match):
        learner.teach(x[:3], np.array(labels))
    assert learner.num_labelled == 0


def test_bad_images_are_refused(small):
    x, y = small
    learner = make_learner(fit_kwargs={"epochs": 1})
    broken = x[:3].copy()
    broken[1, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"items \[1\] contain NaN"):
        learner.teach(broken, y[:3])
    with pytest.raises(ValueError, match="shape"):
        learner.teach(x[:3, :4], y[:3])


def test_one_hot_labels_are_accepted(small):
    x, y = small
    learner = make_learner(fit_kwargs={"epochs": 1})
    learner.teach(x[:10], np.eye(10)[y[:10]])
    np.testing.assert_array_equal(learner.y_labelled_, y[:10])


def test_same_seed_same_queries(small):
    x, y = small

    def queries(seed):
        learner = make_learner(seed=seed)
        pool = Pool(x, y)
        learner.teach(pool, y[:20], indices=np.arange(20))
        picked = []
        for _ in range(2):
            chosen = learner.query(pool, n=5)
            learner.teach(pool, pool.oracle(chosen), indices=chosen)
            picked.append(chosen.tolist())
        return picked

    first = queries(3)
    assert queries(3) == first
    assert queries(4) != first


def test_random_acquisition_is_uniform_over_unlabelled(small):
    x, y = small
    learner = make_learner("random", fit_kwargs={"epochs": 1})
    pool = Pool(x, y)
    learner.teach(pool, y[:100], indices=np.arange(100))
    chosen = learner.query(pool, n=50)
    assert chosen.min() >= 100
    # Half of the 100 unlabelled positions; the mean of 50 draws without
    # replacement from 100..199 has standard deviation about 2.
    assert abs(chosen.mean() - 149.5) < 12


def test_reset_returns_to_initial_weights(small):
    x, y = small
    learner = make_learner(fit_kwargs={"epochs": 3})
    learner.teach(x[:20], y[:20])
    trained = learner.model.get_weights()
    assert not np.allclose(trained[0], learner.initial_weights_[0])
    assert int(keras.ops.convert_to_numpy(
        learner.model.optimizer.iterations)) > 0
    learner.fit(epochs=0)
    for now, initial in zip(learner.model.get_weights(),
                            learner.initial_weights_, strict=True):
        np.testing.assert_array_equal(now, initial)
    for variable in learner.model.optimizer.variables:
        if "learning_rate" not in variable.path:
            assert not np.any(keras.ops.convert_to_numpy(variable.value))


def test_warm_start_keeps_training(small):
    x, y = small
    learner = make_learner(reset_weights=False, fit_kwargs={"epochs": 3})
    learner.teach(x[:20], y[:20])
    trained = learner.model.get_weights()
    learner.fit(epochs=0)
    np.testing.assert_array_equal(learner.model.get_weights()[0], trained[0])


def test_weight_decay_follows_the_labelled_count(small):
    x, y = small
    learner = make_learner(weight_decay=3.5, fit_kwargs={"epochs": 1})
    regularizer = learner.model.layers[5].kernel_regularizer
    learner.teach(x[:30], y[:30])
    assert regularizer.num_labelled == 30
    learner.teach(x[30:45], y[30:45])
    assert regularizer.num_labelled == 45


def test_pool_subset_limits_the_candidates(small):
    x, y = small
    learner = make_learner(pool_subset=7, fit_kwargs={"epochs": 1})
    pool = Pool(x, y)
    learner.teach(pool, y[:20], indices=np.arange(20))
    chosen = learner.query(pool, n=7)
    assert len(chosen) == 7 and chosen.min() >= 20


def test_array_pool_with_exclude(small):
    x, y = small
    learner = make_learner(fit_kwargs={"epochs": 1})
    learner.teach(x[:20], y[:20])
    chosen = learner.query(x[:30], n=10, exclude=np.arange(20))
    assert sorted(chosen.tolist()) == list(range(20, 30))


@requires_backend("tensorflow")
def test_tf_data_pool(small):
    import tensorflow as tf

    x, y = small
    learner = make_learner(fit_kwargs={"epochs": 1})
    learner.teach(x[:20], y[:20])
    from_dataset = learner.query(
        tf.data.Dataset.from_tensor_slices(x[:60]).batch(16), n=5
    )
    learner.history_.clear()
    from_array = learner.query(x[:60], n=5)
    np.testing.assert_array_equal(from_dataset, from_array)


@requires_backend("tensorflow")
def test_tf_data_pool_with_exclude(small):
    import tensorflow as tf

    x, y = small
    learner = make_learner(fit_kwargs={"epochs": 1})
    learner.teach(x[:20], y[:20])
    dataset = tf.data.Dataset.from_tensor_slices((x[:60], y[:60])).batch(16)
    excluded = learner.query(x[:60], n=8)
    from_array = learner.query(x[:60], n=5, exclude=excluded)
    learner.history_.pop()  # the same round again, so the same seed
    from_dataset = learner.query(dataset, n=5, exclude=excluded)
    np.testing.assert_array_equal(from_dataset, from_array)
    assert not set(from_dataset.tolist()) & set(excluded.tolist())
    with pytest.raises(ValueError, match="past the end"):
        learner.query(dataset, n=5, exclude=[3, 60])
    with pytest.raises(ValueError, match="exclude"):
        learner.query(dataset, n=5, exclude=[-1])


def test_bayesian_acquisition_needs_a_stochastic_model():
    model = compiled_cnn(bayesian=False)
    with pytest.raises(ValueError, match="no MCDropout"):
        ActiveLearner(model, "bald")
    ActiveLearner(model, "bald", allow_deterministic=True)
    ActiveLearner(model, "max_entropy")


def test_model_must_be_compiled():
    with pytest.raises(ValueError, match="compiled"):
        ActiveLearner(gal_cnn((8, 8, 1)), "bald")


def test_unknown_acquisition():
    with pytest.raises(ValueError, match="bald"):
        ActiveLearner(compiled_cnn(), "bayes")


def test_predict_averages_mc_samples(small):
    x, y = small
    learner = make_learner(fit_kwargs={"epochs": 1})
    learner.teach(x[:20], y[:20])
    probs = learner.predict(x[:7])
    assert probs.shape == (7, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    samples = learner.sampler.sample(x[:7], seed=5)
    np.testing.assert_allclose(
        learner.predict(x[:7], seed=5), samples.mean(axis=0), rtol=1e-6
    )


def test_evaluate_scores_the_predictions(small):
    x, y = small
    learner = make_learner(fit_kwargs={"epochs": 1})
    learner.teach(x[:20], y[:20])
    for dropout in (True, False):
        probs = learner.predict(x[20:60], dropout=dropout)
        result = learner.evaluate(x[20:60], y[20:60], dropout=dropout)
        accuracy = np.mean(probs.argmax(axis=1) == y[20:60])
        nll = -np.mean(np.log(probs[np.arange(40), y[20:60]]))
        assert result["accuracy"] == pytest.approx(accuracy)
        assert result["error"] == pytest.approx(1 - accuracy)
        assert result["nll"] == pytest.approx(nll, rel=1e-5)
    twin = compiled_cnn(bayesian=False)
    twin.set_weights(learner.model.get_weights())
    np.testing.assert_allclose(
        learner.predict(x[20:60], dropout=False),
        twin.predict(x[20:60], verbose=0), rtol=1e-5, atol=1e-6,
    )


@pytest.mark.slow
def test_simulate_records_a_learning_curve(digits):
    (x_train, y_train), (x_test, y_test) = digits
    learner = make_learner(fit_kwargs={"epochs": 2})
    pool = Pool(x_train[:300], y_train[:300])
    learner.teach(pool, y_train[:20], indices=np.arange(20))
    curve = keras_dbal.experiments.simulate(
        learner, pool, rounds=2, n=5, x_test=x_test[:50],
        y_test=y_test[:50], progress=False,
    )
    assert [point["num_labelled"] for point in curve] == [20, 25, 30]
    assert all(0 <= point["accuracy"] <= 1 for point in curve)
    without = learner.evaluate(x_test[:50], y_test[:50], dropout=False)
    assert curve[-1]["error_without_dropout"] == without["error"]
    assert curve[-1]["error"] == learner.evaluate(
        x_test[:50], y_test[:50]
    )["error"]
    assert [entry["round"] for entry in learner.history_] == [0, 1]
    assert learner.history_[1]["num_labelled"] == 25
    assert learner.history_[1]["after_teach"] == curve[2]


def test_deterministic_bald_and_variation_ratios_pick_alike(small):
    # On a deterministic CNN every pass agrees: both functions score every
    # image exactly 0 and the seeded tie-break decides (which is why the
    # benchmarks run variation ratios' point-mass form on that CNN).
    x, y = small

    def picks(name):
        learner = ActiveLearner(
            compiled_cnn(bayesian=False), name, mc_samples=1, seed=2,
            allow_deterministic=True, fit_kwargs={"epochs": 1},
        )
        learner.teach(x[:20], y[:20])
        return learner.query(x[20:], n=8)

    np.testing.assert_array_equal(picks("bald"), picks("variation_ratios"))


# -- Models and queries that used to be accepted silently (issue #10) --


def test_query_larger_than_the_pool_subset_is_refused(small):
    x, y = small
    learner = make_learner(pool_subset=5, fit_kwargs={"epochs": 1})
    pool = Pool(x, y)
    learner.teach(pool, y[:20], indices=np.arange(20))
    with pytest.raises(ValueError, match="n=10 is more than pool_subset=5"):
        learner.query(pool, n=10)
    assert learner.round == 0


def dense_head(activation, units=10):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Flatten(),
        keras.layers.Dense(units, activation=activation),
    ])
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def test_logits_need_from_logits(small):
    model = dense_head(None)
    with pytest.raises(ValueError, match="Expected class probabilities"):
        ActiveLearner(model, "max_entropy")
    learner = ActiveLearner(model, "max_entropy", from_logits=True, seed=0)
    x, _ = small
    logits = keras.ops.convert_to_numpy(model(x[:5]))
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(learner.predict(x[:5]), expected, rtol=1e-5)


def test_probabilities_with_from_logits_are_refused():
    with pytest.raises(ValueError, match="already outputs probabilities"):
        ActiveLearner(dense_head("softmax"), "max_entropy", from_logits=True)


def test_one_sigmoid_unit_is_refused():
    with pytest.raises(ValueError, match=r"C >= 2.*Dense\(2"):
        ActiveLearner(dense_head("sigmoid", units=1), "max_entropy")


class SubclassedCNN(keras.Model):
    def __init__(self):
        super().__init__()
        self.flatten = keras.layers.Flatten()
        self.hidden = keras.layers.Dense(16, activation="relu")
        self.dropout = keras_dbal.MCDropout(0.5, seed=0)
        self.out = keras.layers.Dense(10, activation="softmax")

    def call(self, inputs):
        return self.out(self.dropout(self.hidden(self.flatten(inputs))))


def test_subclassed_model_learns_and_queries(small):
    x, y = small
    keras.utils.set_random_seed(0)
    model = SubclassedCNN()
    model(x[:2])
    model.compile("adam", "sparse_categorical_crossentropy")
    learner = ActiveLearner(model, "bald", mc_samples=4, seed=0,
                            fit_kwargs={"epochs": 1})
    assert learner.item_shape == (8, 8, 1) and learner.num_classes == 10
    pool = Pool(x, y)
    learner.teach(pool, y[:20], indices=np.arange(20))
    chosen = learner.query(pool, n=5)
    assert len(set(chosen.tolist())) == 5 and chosen.min() >= 20
    probs = learner.predict(x[:3])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_predict_with_another_t_builds_its_sampler_once(small, monkeypatch):
    x, y = small
    learner = make_learner(fit_kwargs={"epochs": 1}, consistent_masks=True)
    learner.teach(x[:20], y[:20])
    built = []
    replace = keras_dbal.MCSampler.replace

    def counting_replace(sampler, **changes):
        built.append(changes)
        return replace(sampler, **changes)

    monkeypatch.setattr(keras_dbal.MCSampler, "replace", counting_replace)
    first = learner.predict(x[20:60], mc_samples=7, seed=1)
    second = learner.predict(x[20:60], mc_samples=7, seed=1)
    learner.predict(x[20:60], seed=1)  # the learner's own T = 4
    assert built == [{"mc_samples": 7}]
    np.testing.assert_array_equal(first, second)
    # The same sampler as one built by hand with every setting kept.
    reference = keras_dbal.MCSampler(
        learner.model, 7, chunk_size=learner.sampler.chunk_size,
        consistent_masks=True,
    ).sample(x[20:60], seed=1).mean(axis=0)
    np.testing.assert_array_equal(first, reference)


def test_random_acquisition_never_runs_the_model(small, monkeypatch):
    x, y = small
    picks = []
    for seed in (0, 0, 1):
        learner = make_learner("random", seed=seed, fit_kwargs={"epochs": 1})
        learner.teach(x[:20], y[:20])

        def no_scoring(*args, **kwargs):
            raise AssertionError("random acquisition ran the sampler")

        monkeypatch.setattr(learner.sampler, "top_n", no_scoring)
        pool = Pool(x[:200])
        pool.mark_labelled(np.arange(20), y[:20])
        picks.append(learner.query(pool, n=10))
        assert not np.isin(picks[-1], np.arange(20)).any()
        assert len(np.unique(picks[-1])) == 10
    np.testing.assert_array_equal(picks[0], picks[1])
    assert not np.array_equal(picks[0], picks[2])


def test_at_chance_against_a_hand_count():
    from keras_dbal.active.prediction import at_chance

    # 100 labels, half of each class: chance 0.5, binomial spread
    # sqrt(0.5 * 0.5 / 100) = 0.05, so "at chance" is accuracy <= 0.6.
    labels = np.repeat([0, 1], 50)

    def predicting(num_right):
        predicted = labels.copy()
        predicted[num_right:] = 1 - predicted[num_right:]
        return np.eye(2)[predicted]

    assert at_chance(predicting(60), labels) == (True, 0.6, 0.5)
    assert at_chance(predicting(61), labels) == (False, 0.61, 0.5)
    # 7 of 8 labels of one class: chance 0.875 and a bound of
    # 0.875 + 2 sqrt(0.875 * 0.125 / 8) = 1.11, which no accuracy passes,
    # so nothing is told; one class only, likewise.
    few = np.array([0] * 7 + [1])
    assert at_chance(np.eye(2)[few], few) == (False, 1.0, 0.875)
    assert at_chance(np.eye(2)[np.zeros(8, int)], few) == (False, 0.875,
                                                          0.875)
    assert at_chance(np.eye(2)[np.zeros(9, int)], np.zeros(9, int))[0] is False


def chance_learner(learning_rate, epochs=1, seed=0):
    """A learner whose model starts at exactly chance: a zero output layer
    answers uniform probabilities, so class 0 for every image. Adam at
    `learning_rate`, no weight decay."""
    keras.utils.set_random_seed(seed)
    model = gal_cnn((8, 8, 1), 10, seed=seed, weight_decay=None)
    output = model.layers[-1]
    output.set_weights([np.zeros_like(w) for w in output.get_weights()])
    model.compile(keras.optimizers.Adam(learning_rate),
                  "sparse_categorical_crossentropy")
    return ActiveLearner(model, "bald", mc_samples=2, seed=seed,
                         fit_kwargs={"epochs": epochs, "batch_size": 32})


def test_a_fit_left_at_chance_warns_once(small):
    from keras_dbal.active import ChanceLevelWarning

    x, y = small
    first = keras_dbal.active.balanced_indices(y, 2, seed=0)
    learner = chance_learner(learning_rate=0.0)
    with pytest.warns(ChanceLevelWarning) as caught:
        learner.teach(x[first], y[first])
        learner.teach(x[-20:], y[-20:])
    assert len(caught) == 1
    # 20 labels, 2 of each digit, all answered 0: accuracy 0.10, chance
    # (the commonest class's share) 0.10.
    assert str(caught[0].message).startswith(
        "The fitted model is at chance on its own labelled set: accuracy "
        "0.10 on 20 labels, where always answering the commonest class "
        "gets 0.10"
    )
    assert "too few epochs" in str(caught[0].message)


def test_a_trained_fit_does_not_warn(small):
    from keras_dbal.active import ChanceLevelWarning

    x, y = small
    learner = chance_learner(learning_rate=0.01, epochs=60)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ChanceLevelWarning)
        learner.teach(x[:20], y[:20])
    probs = learner.predict(x[:20], dropout=False)
    assert np.mean(probs.argmax(axis=1) == y[:20]) > 0.5


def test_fits_together_warn_at_chance_too(small):
    # The simulated experiments' shared fits end where a learner's own fit
    # does: each learner left at chance says so, once.
    from keras_dbal.active import ChanceLevelWarning
    from keras_dbal.experiments import simulate_together

    x, y = small
    learners, pools = [], []
    for seed in (0, 1):
        learner = chance_learner(learning_rate=0.0, seed=seed)
        pool = Pool(x, y)
        learner.teach(pool, y[:20], indices=np.arange(20), fit=False)
        learners.append(learner)
        pools.append(pool)
    # Recorded by hand: pytest.warns would raise the backend's own
    # deprecation notes again, outside the filters that ignore them.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        simulate_together(learners, pools, rounds=2, n=5, progress=False)
    caught = [w for w in caught if w.category is ChanceLevelWarning]
    assert len(caught) == 2


def test_predict_under_mixed_bfloat16_is_float32_rows_summing_to_one(small):
    x, y = small
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        learner = make_learner(fit_kwargs={"epochs": 1})
        learner.teach(x[:20], y[:20])
        for dropout in (True, False):
            probs = learner.predict(x[20:80], dropout=dropout)
            assert probs.dtype == np.float32
            np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("outputs, inputs", [(2, 1), (1, 2)])
def test_several_inputs_or_outputs_are_refused(outputs, inputs):
    first = [keras.Input((6,)) for _ in range(inputs)]
    hidden = first[0] if inputs == 1 else keras.layers.Concatenate()(first)
    hidden = keras_dbal.MCDropout(0.5)(keras.layers.Dense(8)(hidden))
    heads = [keras.layers.Dense(3, "softmax")(hidden) for _ in range(outputs)]
    model = keras.Model(first, heads if outputs > 1 else heads[0])
    model.compile("adam", ["sparse_categorical_crossentropy"] * outputs)
    expected = (
        f"{inputs} input{'s' if inputs > 1 else ''} and {outputs} "
        f"output{'s' if outputs > 1 else ''}"
    )
    with pytest.raises(ValueError, match=(
        "^Invalid value received for argument `model`. Expected a model "
        f"with one input .* Received {expected}"
    )):
        ActiveLearner(model, "bald")


@pytest.mark.parametrize(
    "count, equal, expected",
    [(130, False, 128), (130, True, 65), (128, True, 128), (257, True, 86),
     (20, True, 20)],
)
def test_equal_batches_cut_the_labelled_set_evenly(small, count, equal,
                                                   expected):
    # As many batches as batch_size gives, of one size: no last step on a
    # few images (README, "The dip at 130 labels").
    x, y = small
    x, y = np.resize(x, (count,) + x.shape[1:]), np.resize(y, count)
    learner = make_learner(fit_kwargs={"epochs": 1, "batch_size": 128},
                           equal_batches=equal)
    learner.teach(x, y, fit=False)
    assert learner.fit_arguments()["batch_size"] == expected
    seed, kwargs = learner.begin_fit()
    assert kwargs["batch_size"] == expected
    # The learner's own setting is left as it was given.
    assert learner.fit_kwargs["batch_size"] == 128


def test_equal_batches_survive_a_checkpoint(small, tmp_path):
    x, y = small
    learner = make_learner(fit_kwargs={"epochs": 1}, equal_batches=True)
    learner.teach(x[:20], y[:20])
    learner.save(tmp_path / "state")
    assert keras_dbal.ActiveLearner.load(tmp_path / "state").equal_batches


def test_predict_both_ways_equals_the_two_predictions(small):
    x, y = small
    x_test = x[100:]
    learner = make_learner(fit_kwargs={"epochs": 2, "verbose": 0})
    learner.teach(x[:40], y[:40])
    with_dropout, without = learner.predict_both_ways(x_test[:50])
    np.testing.assert_allclose(with_dropout, learner.predict(x_test[:50]),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        without, learner.predict(x_test[:50], dropout=False),
        rtol=1e-5, atol=1e-6,
    )
    with pytest.raises(ValueError, match="x"):
        learner.predict_both_ways(x_test[0])
