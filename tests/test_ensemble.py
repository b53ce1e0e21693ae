import keras
import numpy as np
import pytest

from keras_dbal import ActiveLearner
from keras_dbal import MCDropout
from keras_dbal import MCSampler
from keras_dbal import Pool
from keras_dbal import acquisition
from keras_dbal import gal_cnn
from keras_dbal.models import Ensemble


def member(bayesian=False):
    return gal_cnn((8, 8, 1), 10, bayesian=bayesian, weight_decay=None)


def compiled(ensemble):
    ensemble.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return ensemble


def test_identical_members_have_zero_bald(digits):
    (x_train, _), _ = digits
    first = member()
    copies = [member() for _ in range(3)]
    for copy in copies:
        copy.set_weights(first.get_weights())
    ensemble = Ensemble([first] + copies)
    scores = MCSampler(ensemble, mc_samples=1, seed=0).score(
        x_train[:50], acquisition.bald
    )[1]
    assert np.all(scores == 0.0)


def test_members_disagree_far_from_the_training_data(digits):
    (x_train, y_train), _ = digits
    ensemble = compiled(Ensemble.from_builder(member, 4, seed=0))
    ensemble.fit(x_train[:300], y_train[:300], epochs=10, verbose=0)
    sampler = MCSampler(ensemble, mc_samples=1, seed=0)
    far = np.random.default_rng(0).uniform(0, 8, (50, 8, 8, 1))
    far_scores = sampler.score(far.astype("float32"), acquisition.bald)[1]
    near_scores = sampler.score(x_train[:50], acquisition.bald)[1]
    assert np.all(far_scores > 0)
    assert far_scores.mean() > near_scores.mean()


def test_samples_are_members_times_passes(digits):
    (x_train, _), _ = digits
    deterministic = Ensemble.from_builder(member, 3, seed=0)
    assert MCSampler(deterministic, 5).sample(x_train[:7]).shape == (
        3, 7, 10
    )
    bayesian = Ensemble.from_builder(lambda: member(True), 3, seed=0)
    probs = MCSampler(bayesian, 5, seed=0).sample(x_train[:7])
    assert probs.shape == (15, 7, 10)
    # Sample k * T + t is member k's pass t: each member's own mean.
    for index, model in enumerate(bayesian.members):
        alone = MCSampler(model, 200, seed=1).sample(x_train[:7]).mean(0)
        block = MCSampler(bayesian, 200, seed=1).sample(x_train[:7])
        mine = block[index * 200:(index + 1) * 200].mean(0)
        np.testing.assert_allclose(mine, alone, atol=0.05)


def plain_member():
    # No dropout (its masks would differ between the ensemble and the
    # twins); a weight decay, which the ensemble must add once per member.
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(
            10, activation="softmax",
            kernel_regularizer=keras.regularizers.L2(0.01),
        ),
    ])


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum"])
def test_training_equals_each_member_trained_alone(digits, reduction):
    # Plain SGD: a loss off by a constant factor (K, or 1 / K) would move
    # the weights by that factor, where Adam would hide it.
    (x_train, y_train), _ = digits

    def compiled_sgd(model):
        model.compile(
            optimizer=keras.optimizers.SGD(0.05),
            loss=keras.losses.SparseCategoricalCrossentropy(
                reduction=reduction
            ),
        )
        return model

    ensemble = compiled_sgd(Ensemble.from_builder(plain_member, 3, seed=0))
    alone = []
    for model in ensemble.members:
        twin = plain_member()
        twin.set_weights(model.get_weights())
        alone.append(compiled_sgd(twin))
    before = [model.get_weights() for model in ensemble.members]
    for start in range(0, 96, 32):
        x, y = x_train[start:start + 32], y_train[start:start + 32]
        ensemble.train_on_batch(x, y)
        for twin in alone:
            twin.train_on_batch(x, y)
    for model, twin, start in zip(
        ensemble.members, alone, before, strict=True
    ):
        for got, want, initial in zip(
            model.get_weights(), twin.get_weights(), start, strict=True
        ):
            np.testing.assert_allclose(got, want, atol=1e-5)
            assert np.abs(got - initial).max() > 1e-3  # it did train


def test_prediction_is_the_members_mean(digits):
    (x_train, _), _ = digits
    ensemble = Ensemble.from_builder(member, 3, seed=0)
    expected = np.mean(
        [keras.ops.convert_to_numpy(model(x_train[:5]))
         for model in ensemble.members], axis=0,
    )
    got = keras.ops.convert_to_numpy(ensemble(x_train[:5]))
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_keras_file_round_trip(tmp_path, digits):
    (x_train, y_train), _ = digits
    ensemble = compiled(Ensemble.from_builder(member, 2, seed=0))
    ensemble.fit(x_train[:64], y_train[:64], epochs=1, verbose=0)
    path = tmp_path / "ensemble.keras"
    ensemble.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, Ensemble) and loaded.size == 2
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x_train[:5])),
        keras.ops.convert_to_numpy(ensemble(x_train[:5])),
        atol=1e-6,
    )
    rebuilt = Ensemble.from_config(ensemble.get_config())
    assert rebuilt.size == 2


def test_learner_with_an_ensemble_saves_and_resumes_exactly(tmp_path, digits):
    (x_train, y_train), _ = digits
    pool = Pool(x_train[:150], y_train[:150])

    def learner():
        return ActiveLearner(
            compiled(Ensemble.from_builder(member, 3, seed=0)), "bald",
            mc_samples=1, seed=0, fit_kwargs={"epochs": 2, "batch_size": 32},
        )

    first = learner()
    first.teach(pool, pool.y[:20], indices=np.arange(20))
    first.query(pool, n=5)
    first.save(tmp_path / "state")
    chosen = first.query(pool, n=5)
    first.teach(pool, pool.y[chosen], indices=chosen)
    after = first.query(pool, n=5)

    pool_again = Pool(x_train[:150], y_train[:150])
    restored = ActiveLearner.load(tmp_path / "state", pool=pool_again)
    assert isinstance(restored.model, Ensemble)
    assert restored.query(pool_again, n=5).tolist() == chosen.tolist()
    restored.teach(pool_again, pool_again.y[chosen], indices=chosen)
    assert restored.query(pool_again, n=5).tolist() == after.tolist()
    restored.close()


def test_bad_members_are_refused():
    with pytest.raises(ValueError, match="non-empty list"):
        Ensemble([])
    model = member()
    with pytest.raises(ValueError, match="more than once"):
        Ensemble([model, model])
    other = gal_cnn((10, 10, 1), 10, bayesian=False)
    with pytest.raises(ValueError, match="same input and output"):
        Ensemble([model, other])
    with pytest.raises(ValueError, match="size"):
        Ensemble.from_builder(member, 0)


@pytest.mark.parametrize("strategy", ["compiled", "lockstep"])
def test_engine_fits_an_ensemble_as_its_learner_does(digits, strategy):
    from keras_dbal import training

    (x_train, y_train), _ = digits

    def taught():
        learner = ActiveLearner(
            compiled(Ensemble.from_builder(lambda: member(True), 2, seed=0)),
            "bald", mc_samples=2, seed=0,
            fit_kwargs={"epochs": 2, "batch_size": 16},
        )
        learner.teach(x_train[:40], y_train[:40], fit=False)
        return learner

    alone, together = taught(), taught()
    alone.fit()
    training.fit_together([together], strategy)
    for got, want in zip(
        together.model.get_weights(), alone.model.get_weights(), strict=True
    ):
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_batchbald_on_an_ensemble(digits):
    (x_train, y_train), _ = digits
    learner = ActiveLearner(
        compiled(Ensemble.from_builder(lambda: member(True), 2, seed=0)),
        "batchbald", mc_samples=5, seed=0,
        fit_kwargs={"epochs": 1, "batch_size": 32},
    )
    learner.teach(x_train[:20], y_train[:20])
    chosen = learner.query(x_train[20:120], n=5)
    assert len(set(chosen.tolist())) == 5
    # Consistent masks across the pool, K x T samples.
    sampler = learner.acquisition_fn._consistent(learner.sampler)
    assert sampler.sample(x_train[:3]).shape == (10, 3, 10)


def wide_member(bayesian):
    # By hand: the convolution's output, 94 * 94 * 16 float32 values per
    # pass, is the largest; with its input beside it, twice that.
    inputs = keras.Input((96, 96, 3))
    hidden = MCDropout(0.25)(inputs) if bayesian else inputs
    hidden = keras.layers.Flatten()(keras.layers.Conv2D(16, 3)(hidden))
    outputs = keras.layers.Dense(10, activation="softmax")(hidden)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("bayesian, passes", [(True, 4), (False, 1)])
def test_automatic_chunk_counts_every_member(bayesian, passes):
    # K members, each run `passes` times per image (T = 4 with MCDropout,
    # once without), side by side in one call: K x passes folded rows per
    # image, and as many copies of the largest activation.
    size = 3
    ensemble = Ensemble([wide_member(bayesian) for _ in range(size)])
    per_item = 2 * 4 * 94 * 94 * 16 * size * passes
    expected = min(8192 // (size * passes), (1 << 30) // per_item)
    assert expected == (79 if bayesian else 316)
    assert MCSampler(ensemble, 4).chunk_size == expected
    # Small members: the folded rows bind, 8192 // (K x T).
    small = Ensemble.from_builder(lambda: member(True), size, seed=0)
    assert MCSampler(small, 20).chunk_size == 8192 // (size * 20)
