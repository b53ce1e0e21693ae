import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from keras import ops

from keras_dbal import acquisition
from keras_dbal import backend
from tests.mask_reference import reference_words

# float64 numpy references, written from the formulas in the paper.


def ref_entropy(p):
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p), 0.0)
    return -terms.sum(axis=-1)


def ref_max_entropy(probs):
    return ref_entropy(probs.mean(axis=0))


def ref_bald(probs):
    return ref_max_entropy(probs) - ref_entropy(probs).mean(axis=0)


def ref_variation_ratios(probs):
    num_samples, num_items, _ = probs.shape
    predictions = probs.argmax(axis=-1)
    scores = np.empty(num_items)
    for item in range(num_items):
        counts = np.bincount(predictions[:, item])
        scores[item] = 1 - counts.max() / num_samples
    return scores


def ref_mean_std(probs):
    return probs.std(axis=0).mean(axis=-1)


def ref_margin(probs):
    top = np.sort(probs.mean(axis=0), axis=-1)
    return 1 - (top[:, -1] - top[:, -2])


def ref_least_confidence(probs):
    return 1 - probs.mean(axis=0).max(axis=-1)


REFERENCES = {
    "max_entropy": ref_max_entropy,
    "bald": ref_bald,
    "variation_ratios": ref_variation_ratios,
    "mean_std": ref_mean_std,
    "margin": ref_margin,
    "least_confidence": ref_least_confidence,
}


def score(name, probs):
    result = acquisition.get(name)(probs.astype("float32"))
    return keras.ops.convert_to_numpy(result).astype("float64")


def dirichlet(rng, shape, alpha=0.5):
    return rng.dirichlet(np.full(shape[-1], alpha), size=shape[:-1])


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_matches_numpy_reference(name, rng):
    probs = dirichlet(rng, (9, 40, 6))
    np.testing.assert_allclose(
        score(name, probs), REFERENCES[name](probs), rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize("num_classes", [2, 10])
def test_uniform_prediction_has_entropy_log_c(num_classes):
    probs = np.full((5, 3, num_classes), 1 / num_classes)
    np.testing.assert_allclose(
        score("max_entropy", probs), np.log(num_classes), rtol=1e-6
    )


def test_identical_samples_have_no_disagreement(rng):
    one = dirichlet(rng, (1, 20, 4))
    probs = np.repeat(one, 7, axis=0)
    np.testing.assert_array_equal(score("bald", probs), 0.0)
    np.testing.assert_array_equal(score("variation_ratios", probs), 0.0)
    np.testing.assert_allclose(score("mean_std", probs), 0.0, atol=1e-7)


def test_variation_ratios_hand_computed():
    # Passes vote for classes 0, 0, 1, 2: the mode has 2 of 4 votes, 1 - 2/4.
    # The mean-probability form 1 - max(p_bar) would give 0.6 instead.
    probs = np.array(
        [[[0.6, 0.4, 0.0]], [[0.6, 0.4, 0.0]], [[0.3, 0.7, 0.0]],
         [[0.1, 0.0, 0.9]]]
    )
    np.testing.assert_allclose(score("variation_ratios", probs), [0.5])
    np.testing.assert_allclose(score("least_confidence", probs), [0.6])


def test_rankings_on_hand_built_items():
    # Item 0: every pass confident in class 0. Item 1: every pass uniform
    # (aleatoric). Item 2: passes confident in different classes (epistemic).
    confident = [0.98, 0.01, 0.01]
    uniform = [1 / 3] * 3
    probs = np.array(
        [
            [confident, uniform, [0.98, 0.01, 0.01]],
            [confident, uniform, [0.01, 0.98, 0.01]],
            [confident, uniform, [0.01, 0.01, 0.98]],
        ]
    )
    # Only disagreement between passes counts for BALD.
    bald = score("bald", probs)
    assert bald[2] == pytest.approx(np.log(3) - ref_entropy(
        np.array(confident)), rel=1e-4)
    assert bald[:2] == pytest.approx([0.0, 0.0], abs=1e-6)
    entropy = score("max_entropy", probs)
    assert entropy[0] < entropy[1] and entropy[0] < entropy[2]
    assert score("variation_ratios", probs).tolist() == pytest.approx(
        [0.0, 0.0, 2 / 3]
    )
    assert np.argmax(score("mean_std", probs)) == 2


def test_one_hot_inputs_give_finite_scores():
    probs = np.zeros((4, 3, 5))
    probs[0, :, 0] = probs[1, :, 1] = probs[2, :, 1] = probs[3, :, 4] = 1
    for name in REFERENCES:
        values = score(name, probs)
        assert np.all(np.isfinite(values)), name
        np.testing.assert_allclose(
            values, REFERENCES[name](probs), atol=1e-6, err_msg=name
        )


probability_arrays = st.tuples(
    st.integers(1, 6), st.integers(1, 5), st.integers(2, 6)
).flatmap(
    lambda shape: hnp.arrays(
        "float64",
        shape,
        elements=st.one_of(
            st.just(0.0), st.just(1.0), st.floats(0.0, 1.0, width=32)
        ),
    )
)


def normalize(raw):
    raw = raw.copy()
    empty = raw.sum(axis=-1) == 0
    raw[empty, 0] = 1.0
    return raw / raw.sum(axis=-1, keepdims=True)


@settings(max_examples=30, deadline=None)
@given(probability_arrays)
def test_properties_hold_for_any_shape_and_extremes(raw):
    probs = normalize(raw)
    num_samples, _, num_classes = probs.shape
    values = {name: score(name, probs) for name in REFERENCES}
    for name, result in values.items():
        assert result.shape == (probs.shape[1],)
        assert np.all(np.isfinite(result)), name
    tolerance = 1e-5
    assert np.all(values["bald"] >= 0)
    assert np.all(values["bald"] <= values["max_entropy"] + tolerance)
    assert np.all(values["max_entropy"] <= np.log(num_classes) + tolerance)
    assert np.all(values["variation_ratios"] >= 0)
    assert np.all(values["variation_ratios"] <= 1 - 1 / num_classes + 1e-6)
    np.testing.assert_allclose(
        values["bald"], ref_bald(probs), atol=5e-5
    )


def test_compiles_inside_backend_function(rng):
    probs = dirichlet(rng, (5, 8, 3)).astype("float32")
    for name in REFERENCES:
        function = acquisition.get(name)
        compiled = backend.compile_function(function, [])
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(compiled(probs)),
            keras.ops.convert_to_numpy(function(probs)),
            rtol=1e-5,
            atol=1e-6,
        )


def test_random_is_seeded_and_uniform():
    probs = np.zeros((1, 10_000, 2))

    def draw(seed):
        return ops.convert_to_numpy(acquisition.random(probs, seed=seed))

    first = draw(3)
    np.testing.assert_array_equal(first, draw(3))
    assert not np.array_equal(first, draw(4))
    assert first.shape == (10_000,)
    assert ((first >= 0) & (first < 1)).all()
    # Mean of 10,000 U(0, 1) draws: standard deviation 0.0029; the share
    # below 0.25: standard deviation 0.0043.
    assert abs(first.mean() - 0.5) < 0.015
    assert abs((first < 0.25).mean() - 0.25) < 0.02


def test_random_with_positions_is_the_documented_hash_of_each_position():
    # Score of position p: the top 24 bits of its one keyed word / 2**24,
    # rebuilt in numpy (tests/mask_reference.py).
    seed = np.array([12, 34], dtype="int32")
    positions = np.array([0, 7, 3, 100_000, 2**31 - 2], dtype="int32")
    scores = ops.convert_to_numpy(acquisition.random(
        np.zeros((1, 5, 3)), seed=seed, positions=positions
    ))
    words = reference_words(seed, positions, 1, ())[0]
    expected = (words >> np.uint64(8)).astype("float64") / 2**24
    np.testing.assert_array_equal(scores, expected.astype("float32"))


def test_random_with_positions_scores_each_position_alone():
    # A position's score does not depend on the items beside it; an
    # integer seed s is the seed pair (s, 0).
    whole = ops.convert_to_numpy(acquisition.random(
        np.zeros((1, 10_000, 2)), seed=5, positions=np.arange(10_000)
    ))
    part = np.array([9_999, 3, 4_000])
    np.testing.assert_array_equal(
        ops.convert_to_numpy(acquisition.random(
            np.zeros((1, 3, 2)), seed=np.array([5, 0], "int32"),
            positions=part,
        )),
        whole[part],
    )
    assert not np.array_equal(
        ops.convert_to_numpy(acquisition.random(
            np.zeros((1, 10_000, 2)), seed=6, positions=np.arange(10_000)
        )),
        whole,
    )
    # Mean of 10,000 U(0, 1) draws: standard deviation 0.0029; the share
    # below 0.25: standard deviation 0.0043.
    assert abs(whole.mean() - 0.5) < 0.015
    assert abs((whole < 0.25).mean() - 0.25) < 0.02


@pytest.mark.parametrize(("seed", "positions", "match"), [
    (None, [0, 1, 2], "`seed`"),
    (True, [0, 1, 2], "`seed`"),
    (keras.random.SeedGenerator(1), [0, 1, 2], "`seed`"),
    (1.5, None, "`seed`"),
    (3, [0, 1], "one per item"),
    (3, [0.5, 1.0, 2.0], "integer positions"),
    (3, [0, 1, 1], "more than once"),
    (3, [0, 1, 2**31], "positions in"),
])
def test_random_refuses_bad_seeds_and_positions(seed, positions, match):
    with pytest.raises(ValueError, match=match):
        acquisition.random(np.zeros((1, 3, 2)), seed=seed,
                           positions=positions)
    # The same as a tensor (int32: JAX holds no 2**31).
    if positions is not None and seed == 3 and max(positions) < 2**31:
        with pytest.raises(ValueError, match=match):
            acquisition.random(np.zeros((1, 3, 2)), seed=seed,
                               positions=ops.convert_to_tensor(positions))


def test_random_acquisition_is_one_function_for_every_caller():
    # The learner's random query draws its scores from this function.
    from keras_dbal.active.selection import random_query

    positions = np.arange(100, 200)
    chosen, scores = random_query(positions, 5, seed=7)
    expected = ops.convert_to_numpy(
        acquisition.random(np.zeros((1, 100, 1)), seed=7)
    )
    np.testing.assert_array_equal(
        chosen, positions[np.argsort(-expected, kind="stable")[:5]]
    )
    np.testing.assert_allclose(scores, np.sort(expected)[::-1][:5])


def test_get_by_name_and_callable():
    assert acquisition.get("bald") is acquisition.bald
    assert acquisition.get(acquisition.margin) is acquisition.margin
    assert acquisition.name_of("variation_ratios") == "variation_ratios"
    assert set(acquisition.names()) >= {
        "bald", "max_entropy", "variation_ratios", "mean_std", "random",
        "margin", "least_confidence",
    }


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="bald.*variation_ratios"):
        acquisition.get("entropy_max")


def test_only_model_free_scores_skip_the_model():
    from keras_dbal import acquisition_registry
    from keras_dbal.batch_acquisition import BatchBALD

    assert not acquisition_registry.needs_model(acquisition.random)
    assert acquisition_registry.needs_model(acquisition.bald)
    assert acquisition_registry.needs_model(lambda probs: probs[0, :, 0])
    assert acquisition_registry.needs_model(BatchBALD())

    class Uniform:
        needs_model = False

        def select(self, *args, **kwargs):
            raise AssertionError("not called here")

    assert not acquisition_registry.needs_model(Uniform())
    # Every name resolves, and batch names make batch objects.
    for name in acquisition_registry.names():
        made = acquisition_registry.make(name)
        assert callable(getattr(made, "select", None)) == (
            name in acquisition_registry.names(batch=True)
        ), name
