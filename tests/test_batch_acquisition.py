import itertools

import numpy as np
import pytest

from keras_dbal import ActiveLearner
from keras_dbal import Pool
from keras_dbal import acquisition
from keras_dbal import batch_acquisition
from keras_dbal.batch_acquisition import BatchBALD
from keras_dbal.batch_acquisition import StochasticBatch
from keras_dbal.batch_acquisition import greedy_batchbald
from keras_dbal.batch_acquisition import joint_entropy
from keras_dbal.batch_acquisition import stochastic_top_n
from tests.test_learner import compiled_cnn

# float64 numpy references: the joint predictive distribution enumerated.


def ref_joint(probs):
    """P(y_1..y_b) for every configuration, `(C,) * b`."""
    num_samples, num_items, num_classes = probs.shape
    joint = np.zeros((num_classes,) * num_items)
    for config in itertools.product(range(num_classes), repeat=num_items):
        per_sample = np.ones(num_samples)
        for item, label in enumerate(config):
            per_sample *= probs[:, item, label]
        joint[config] = per_sample.mean()
    return joint


def ref_entropy(p):
    p = np.asarray(p, "float64").ravel()
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def ref_surprise_spread(probs):
    """Standard deviation of one draw of the sampled estimator: for a
    configuration y of the first b - 1 items, drawn from P,
    f(y) = -sum_c P(c | y) log P(y, c)."""
    joint = ref_joint(probs).reshape(-1, probs.shape[2])
    prefix = joint.sum(axis=1)
    keep = prefix > 0
    joint, prefix = joint[keep], prefix[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(joint > 0, np.log(joint), 0.0)
    values = -(joint / prefix[:, None] * logs).sum(axis=1)
    mean = (prefix * values).sum()
    return float(np.sqrt((prefix * (values - mean) ** 2).sum()))


def dirichlet_samples(rng, num_samples, num_items, num_classes, alpha=0.5):
    return rng.dirichlet(
        np.full(num_classes, alpha), size=(num_samples, num_items)
    ).astype("float32")


def test_exact_joint_entropy_matches_enumeration(rng):
    for num_items in (1, 2, 3):
        probs = dirichlet_samples(rng, 6, num_items, 3)
        expected = ref_entropy(ref_joint(probs))
        assert joint_entropy(probs) == pytest.approx(expected, abs=1e-5)


def test_hand_computed_joint_entropy():
    # Two samples, two items. Sample 1 says (class 0, class 0) surely,
    # sample 2 says (class 1, class 1): the labels are equal, 1 bit.
    probs = np.array(
        [[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]], "float32"
    )
    assert joint_entropy(probs) == pytest.approx(np.log(2), abs=1e-6)
    # Under independent masks (one sample) they would be independent.
    assert joint_entropy(probs[:1]) == pytest.approx(0.0, abs=1e-6)


def test_sampled_joint_entropy_converges_to_the_exact_one(rng):
    # C^(b-1) = 5^5 = 3125 prefix configurations: more than every M below,
    # so each estimate is sampled; the exact value is enumerated.
    probs = dirichlet_samples(rng, 8, 6, 5, alpha=0.3)
    exact = ref_entropy(ref_joint(probs))
    spread = ref_surprise_spread(probs)
    assert spread > 0.1  # the bounds below are not vacuous
    for num_configurations in (30, 300, 3000):
        estimate = joint_entropy(
            probs, num_configurations=num_configurations, seed=0
        )
        # Five standard errors of the mean of M draws.
        bound = 5 * spread / np.sqrt(num_configurations)
        assert abs(estimate - exact) < bound


def test_greedy_batchbald_with_n_1_is_bald(rng):
    probs = dirichlet_samples(rng, 10, 40, 4)
    reference = acquisition.bald(probs)
    chosen, gains = greedy_batchbald(probs, 1, seed=0)
    assert chosen.tolist() == [int(np.argmax(reference))]
    assert gains[0] == pytest.approx(float(np.max(reference)), abs=1e-5)


def test_greedy_batchbald_never_repeats_and_gains_add_up(rng):
    probs = dirichlet_samples(rng, 5, 6, 3)
    chosen, gains = greedy_batchbald(probs, 6, seed=0)
    assert sorted(chosen.tolist()) == list(range(6))
    # The gains add up to the batch's BatchBALD score, enumerated.
    batch = probs[:, chosen]
    conditional = sum(
        np.mean([ref_entropy(batch[t, i]) for t in range(5)])
        for i in range(6)
    )
    expected = ref_entropy(ref_joint(batch)) - conditional
    assert float(np.sum(gains)) == pytest.approx(expected, abs=1e-4)


def test_batchbald_picks_fewer_duplicates_than_top_n_bald(rng):
    # Every sample is confident (0.97 on one class) and the samples
    # disagree: model uncertainty, as on MNIST. Item 0 hesitates between
    # 4 classes; items 1-4 are exact copies of it, whose labels, under the
    # same masks, tell nothing more. Items 5-14 hesitate between 2 classes
    # each: a lower BALD, but news.
    def confident(classes):
        probs = np.full((20, 4), 0.01, "float32")
        probs[np.arange(20), classes] = 0.97
        return probs[:, None, :]

    leader = confident(rng.integers(0, 4, 20))
    others = [confident(rng.choice(rng.choice(4, 2, replace=False), 20))
              for _ in range(10)]
    probs = np.concatenate([np.repeat(leader, 5, axis=1)] + others, axis=1)
    top = np.argsort(-acquisition.bald(probs), kind="stable")[:5]
    chosen, _ = greedy_batchbald(probs, 5, seed=0)
    copies_top = int(np.sum(top < 5))
    copies_batch = int(np.sum(chosen < 5))
    assert copies_top == 5
    assert copies_batch < copies_top
    assert copies_batch == 1


def test_learner_batchbald_avoids_duplicates_in_a_repeated_pool(digits):
    # A trained model (300 labels) is confident under each mask, so a copy
    # of an image already in the batch tells little more; T = 100 keeps
    # the joint information of 10 images below its ceiling, log T.
    (x_train, y_train), _ = digits
    x_pool = np.concatenate([x_train[:100]] * 3)  # every image three times
    original = np.tile(np.arange(100), 3)

    model = compiled_cnn(seed=0)
    model.fit(x_train[200:500], y_train[200:500], epochs=50, batch_size=32,
              verbose=0)

    def duplicates(acquisition_name):
        # One trained model for both: only the acquisition differs.
        learner = ActiveLearner(model, acquisition_name, mc_samples=100,
                                seed=0)
        learner.teach(x_train[200:500], y_train[200:500], fit=False)
        chosen = learner.query(x_pool, n=10)
        assert len(set(chosen.tolist())) == 10
        return 10 - len(set(original[chosen].tolist()))

    assert duplicates(BatchBALD(num_candidates=100)) < duplicates("bald")


def test_batchbald_argument_checks():
    with pytest.raises(ValueError, match="num_candidates"):
        BatchBALD(num_candidates=0)
    with pytest.raises(ValueError, match="num_configurations"):
        BatchBALD(num_configurations=-1)
    with pytest.raises(ValueError, match="n=3 is more than"):
        greedy_batchbald(np.full((2, 2, 2), 0.5, "float32"), 3)
    with pytest.raises(ValueError, match=r"\(T, b, C\)"):
        joint_entropy(np.zeros((2, 2)))


def test_stochastic_top_n_cold_limit_is_top_n(rng):
    scores = rng.random(50)
    expected = np.argsort(-scores)[:10]
    for mode in batch_acquisition.MODES:
        cold = stochastic_top_n(scores, 10, mode, float("inf"), seed=3)
        assert cold.tolist() == expected.tolist()
        very_cold = stochastic_top_n(scores, 10, mode, 1e6, seed=3)
        assert very_cold.tolist() == expected.tolist()


def test_stochastic_top_n_same_seed_same_batch(rng):
    scores = rng.random(100)
    for mode in batch_acquisition.MODES:
        first = stochastic_top_n(scores, 10, mode, 1.0, seed=7)
        again = stochastic_top_n(scores, 10, mode, 1.0, seed=7)
        other = stochastic_top_n(scores, 10, mode, 1.0, seed=8)
        assert first.tolist() == again.tolist()
        assert first.tolist() != other.tolist()
        assert len(set(first.tolist())) == 10


def test_power_draws_in_proportion_to_the_scores():
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.0])
    draws = 4000
    counts = np.bincount(
        [stochastic_top_n(scores, 1, "power", 1.0, seed)[0]
         for seed in range(draws)],
        minlength=5,
    )
    expected = scores / scores.sum()
    # Binomial standard deviation, five of them.
    bound = 5 * np.sqrt(expected * (1 - expected) / draws)
    assert np.all(np.abs(counts / draws - expected) <= bound)
    assert counts[4] == 0  # a zero score is never drawn first


def test_softmax_and_softrank_weights():
    scores = np.array([2.0, 1.0, 0.0])
    draws = 4000
    for mode, weights in (
        ("softmax", np.exp(scores)),
        ("softrank", 1.0 / np.array([1.0, 2.0, 3.0])),
    ):
        counts = np.bincount(
            [stochastic_top_n(scores, 1, mode, 1.0, seed)[0]
             for seed in range(draws)],
            minlength=3,
        )
        expected = weights / weights.sum()
        bound = 5 * np.sqrt(expected * (1 - expected) / draws)
        assert np.all(np.abs(counts / draws - expected) <= bound)


def test_stochastic_batch_argument_checks():
    with pytest.raises(ValueError, match="mode"):
        StochasticBatch("bald", mode="gumbel")
    with pytest.raises(ValueError, match="beta"):
        StochasticBatch("bald", beta=0)
    with pytest.raises(ValueError, match="random"):
        StochasticBatch("random")
    with pytest.raises(ValueError, match="scores >= 0"):
        stochastic_top_n(np.array([-1.0, 1.0]), 1, "power", 1.0, 0)
    assert StochasticBatch("max_entropy", "softmax").name == (
        "softmax_max_entropy"
    )


def test_names_resolve_to_batch_acquisitions():
    assert isinstance(batch_acquisition.get("batchbald"), BatchBALD)
    power = batch_acquisition.get("power_bald")
    assert (power.mode, power.scores_with) == ("power", "bald")
    assert batch_acquisition.get("bald") is acquisition.bald
    assert set(acquisition.names()) < set(batch_acquisition.all_names())
    with pytest.raises(ValueError, match="batchbald"):
        batch_acquisition.get("batch_bald")


@pytest.mark.parametrize(
    "chooser",
    ["power_bald", StochasticBatch("max_entropy", "softrank", beta=2.0),
     BatchBALD(num_candidates=30, num_configurations=500)],
    ids=["power_bald", "softrank_max_entropy", "batchbald"],
)
def test_learner_batch_queries_save_and_resume(tmp_path, digits, chooser):
    (x_train, y_train), _ = digits
    pool = Pool(x_train[:150], y_train[:150])

    def learner():
        return ActiveLearner(
            compiled_cnn(seed=0), chooser, mc_samples=4, seed=0,
            fit_kwargs={"epochs": 1, "batch_size": 32},
        )

    first = learner()
    first.teach(pool, pool.y[:20], indices=np.arange(20))
    chosen = first.query(pool, n=5)
    assert len(set(chosen.tolist())) == 5
    assert not set(chosen.tolist()) & set(range(20))
    first.save(tmp_path / "state")
    again = first.query(pool, n=5)

    restored = ActiveLearner.load(tmp_path / "state", pool=pool)
    assert restored.acquisition_name == first.acquisition_name
    assert restored.acquisition_fn.get_config() == (
        first.acquisition_fn.get_config()
    )
    assert restored.query(pool, n=5).tolist() == again.tolist()
    restored.close()


def test_batch_acquisition_of_uncertainty_needs_a_stochastic_model():
    model = compiled_cnn(bayesian=False)
    for name in ("batchbald", "power_bald"):
        with pytest.raises(ValueError, match="model uncertainty"):
            ActiveLearner(model, name)


def test_greedy_picks_what_enumeration_picks(rng):
    # Each pick maximises the enumerated BatchBALD of the batch so far
    # (C^2 = 9 <= M: exact throughout).
    probs = dirichlet_samples(rng, 6, 12, 3)
    chosen, _ = greedy_batchbald(probs, 3, num_configurations=9, seed=0)
    conditional = np.array([
        np.mean([ref_entropy(probs[t, k]) for t in range(6)])
        for k in range(12)
    ])
    picked = []
    for _ in range(3):
        values = {
            k: ref_entropy(ref_joint(probs[:, picked + [k]]))
            - conditional[picked + [k]].sum()
            for k in range(12) if k not in picked
        }
        picked.append(max(values, key=values.get))
    assert chosen.tolist() == picked


def test_batch_queries_stream_a_dataset_pool(digits):
    import tensorflow as tf

    (x_train, y_train), _ = digits
    images = x_train[:120]
    exclude = np.arange(0, 120, 7)

    model = compiled_cnn(seed=0)

    def query(pool, chooser, **kwargs):
        # Untrained: only how the pool is read differs.
        learner = ActiveLearner(model, chooser, mc_samples=4, seed=0)
        learner.teach(x_train[200:220], y_train[200:220], fit=False)
        return learner.query(pool, n=5, **kwargs).tolist()

    dataset = tf.data.Dataset.from_tensor_slices(images).batch(16)
    for chooser in (BatchBALD(num_candidates=30), "power_bald",
                    BatchBALD(num_candidates=None)):
        streamed = query(dataset, chooser, exclude=exclude)
        assert streamed == query(images, chooser, exclude=exclude)
        assert not set(streamed) & set(exclude.tolist())


def test_a_custom_score_is_not_saved_as_a_registered_one(tmp_path, digits):
    (x_train, y_train), _ = digits

    def bald(probs):  # a custom function that shares a registered name
        return acquisition.max_entropy(probs)

    learner = ActiveLearner(
        compiled_cnn(seed=0), StochasticBatch(bald, "power"), mc_samples=4,
        seed=0, fit_kwargs={"epochs": 1, "batch_size": 32},
    )
    learner.teach(x_train[:20], y_train[:20])
    learner.save(tmp_path / "state")
    with pytest.raises(Exception, match="custom acquisition"):
        ActiveLearner.load(tmp_path / "state")


def test_own_batch_acquisition_objects(digits):
    (x_train, y_train), _ = digits

    class FirstN:
        def select(self, sampler, images, positions, n, *, exclude, seed,
                   verbose):
            return positions[:n], np.zeros(n, "float32")

    learner = ActiveLearner(
        compiled_cnn(seed=0), FirstN(), mc_samples=2, seed=0,
        fit_kwargs={"epochs": 1, "batch_size": 32},
    )
    assert learner.acquisition_name == "FirstN"
    learner.teach(x_train[:20], y_train[:20])
    assert learner.query(x_train[20:40], n=3).tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match=r"did you mean BatchBALD\(\)"):
        ActiveLearner(compiled_cnn(seed=0), BatchBALD)


def test_experiment_config_takes_objects_with_distinct_names():
    from keras_dbal.experiments import ExperimentConfig

    config = ExperimentConfig(acquisitions=(BatchBALD(200), "bald"))
    assert config.acquisitions[0].num_candidates == 200
    with pytest.raises(ValueError, match="share a name"):
        ExperimentConfig(acquisitions=(BatchBALD(200), BatchBALD(1000)))
