"""Malformed input to the public API: a documented error, state untouched."""

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import keras_dbal
from keras_dbal import ActiveLearner
from keras_dbal import Pool
from tests.test_checkpoint import snapshot

# File formats, commands and checks that do not depend on the Keras
# backend: CI runs this module under TensorFlow only.
pytestmark = pytest.mark.backend_independent


@pytest.fixture(scope="module")
def learner_and_state(tmp_path_factory, digits):
    (x, y), _ = digits
    keras.utils.set_random_seed(0)
    model = keras_dbal.gal_cnn((8, 8, 1), seed=0)
    model.compile("adam", "sparse_categorical_crossentropy")
    state = tmp_path_factory.mktemp("validation") / "state"
    learner = ActiveLearner(
        model, "bald", mc_samples=2, seed=0, checkpoint_dir=state,
        fit_kwargs={"epochs": 1},
    )
    pool = Pool(x[:60], y[:60])
    learner.teach(pool, y[:10], indices=np.arange(10))
    return learner, pool, state


finite_or_not = st.one_of(
    st.floats(0, 1, width=32), st.just(np.nan), st.just(np.inf),
    st.just(-np.inf),
)
bad_images = st.one_of(
    # The right shape with at least one NaN or inf.
    hnp.arrays("float32", st.tuples(st.integers(1, 3), st.just(8),
                                    st.just(8), st.just(1)),
               elements=finite_or_not).filter(
        lambda a: not np.isfinite(a).all()),
    # Wrong item shapes.
    hnp.arrays("float32", st.sampled_from([(2, 8, 8), (2, 8, 7, 1),
                                           (2, 8, 8, 3), (2, 64)])),
    # Nothing, or not numbers.
    st.just(np.zeros((0, 8, 8, 1), "float32")),
    st.just(np.full((2, 8, 8, 1), "a")),
)


@settings(max_examples=30, deadline=None)
@given(images=bad_images)
def test_bad_images_raise_value_error(learner_and_state, images):
    learner, pool, state = learner_and_state
    before = snapshot(state)
    labelled = learner.num_labelled
    with pytest.raises(ValueError):
        learner.teach(images, np.zeros(len(images), "int64"))
    with pytest.raises(ValueError):
        learner.query(images, n=1)
    assert learner.num_labelled == labelled
    assert snapshot(state) == before


bad_labels = st.one_of(
    st.lists(st.integers(10, 10**6), min_size=2, max_size=2),
    st.lists(st.integers(-(10**6), -1), min_size=2, max_size=2),
    st.lists(st.integers(0, 9), min_size=1, max_size=1),
    st.lists(st.integers(0, 9), min_size=3, max_size=3),
    st.lists(st.floats(0.1, 0.9), min_size=2, max_size=2),
    st.just([np.nan, 1.0]),
)


@settings(max_examples=30, deadline=None)
@given(labels=bad_labels)
def test_bad_labels_raise_value_error(learner_and_state, labels):
    learner, pool, state = learner_and_state
    before = snapshot(state)
    labels_before = pool.labels_.copy()
    with pytest.raises(ValueError):
        learner.teach(pool, np.array(labels), indices=[20, 21])
    np.testing.assert_array_equal(pool.labels_, labels_before)
    assert snapshot(state) == before


@settings(max_examples=30, deadline=None)
@given(indices=st.one_of(
    st.lists(st.integers(60, 10**6), min_size=1, max_size=3),
    st.lists(st.integers(-(10**6), -1), min_size=1, max_size=3),
    st.lists(st.integers(0, 9), min_size=1, max_size=3),
    st.integers(20, 59).map(lambda i: [i, i]),
))
def test_bad_positions_raise_value_error(learner_and_state, indices):
    learner, pool, state = learner_and_state
    before = snapshot(state)
    with pytest.raises(ValueError):
        learner.teach(pool, np.zeros(len(indices), "int64"), indices=indices)
    assert snapshot(state) == before


def _dataset(images):
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(images).batch(2)


# Every entry point that takes images, by the argument it names.
ENTRY_POINTS = {
    "predict": ("x", lambda learner, x: learner.predict(x)),
    "predict_without_dropout": (
        "x", lambda learner, x: learner.predict(x, dropout=False)),
    "predict_dataset": ("x", lambda learner, x: learner.predict(_dataset(x))),
    "evaluate": (
        "x", lambda learner, x: learner.evaluate(x, np.zeros(len(x), int))),
    "query": ("pool", lambda learner, x: learner.query(x, n=1)),
    "query_pool": ("pool", lambda learner, x: learner.query(Pool(x), n=1)),
    "query_dataset": (
        "pool", lambda learner, x: learner.query(_dataset(x), n=1)),
    "teach": ("x", lambda learner, x: learner.teach(x, np.zeros(len(x), int))),
    "teach_pool": ("x", lambda learner, x: learner.teach(
        Pool(x), np.zeros(2, int), indices=[0, 1])),
}


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_every_entry_point_refuses_a_wrong_shape_in_one_line(
    learner_and_state, entry
):
    learner, _, state = learner_and_state
    name, call = ENTRY_POINTS[entry]
    before, labelled = snapshot(state), learner.num_labelled
    # A dataset says (None, ...): its batch size is not in its spec.
    with pytest.raises(ValueError) as raised:
        call(learner, np.zeros((5, 9, 9, 1), "float32"))
    batch = "None" if entry.endswith("dataset") else "5"
    after = " (the dataset's elements)" if entry.endswith("dataset") else ""
    assert str(raised.value) == (
        f"Invalid value received for argument `{name}`. Expected items of "
        f"shape (8, 8, 1). Received shape ({batch}, 9, 9, 1){after}."
    )
    assert learner.num_labelled == labelled
    assert snapshot(state) == before


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_every_entry_point_refuses_8_bit_images(learner_and_state, entry):
    learner, _, state = learner_and_state
    name, call = ENTRY_POINTS[entry]
    before, labelled = snapshot(state), learner.num_labelled
    eight_bit = np.full((5, 8, 8, 1), 255, "uint8")
    eight_bit[0] = 0
    expected = (
        r"^Invalid value received for argument `(x|pool)`\. Expected "
        r"image values in \[0, 1\]\. Received values in \[0, 255\]\. Scale "
        r"the images first \(8-bit images: x / 255, .*\), or, .* give its "
        r"range as `input_range`, or input_range=None to check nothing\.$"
    )
    with pytest.raises(ValueError, match=expected) as raised:
        call(learner, eight_bit)
    if entry != "predict_dataset":
        # A dataset's values are known only as the sampler reads it, and
        # it names its own argument, `pool`.
        assert f"`{name}`" in str(raised.value)
    assert learner.num_labelled == labelled
    assert snapshot(state) == before


def test_input_range_none_takes_any_values_and_is_saved(tmp_path, digits):
    (x, y), _ = digits
    model = keras_dbal.gal_cnn((8, 8, 1), seed=0)
    model.compile("adam", "sparse_categorical_crossentropy")
    learner = ActiveLearner(
        model, "bald", mc_samples=2, seed=0, input_range=None,
        checkpoint_dir=tmp_path / "state",
    )
    learner.teach(x[:10] * 255, y[:10], fit=False)
    assert learner.predict(x[:3] * 255).shape == (3, 10)
    learner.close()
    restored = ActiveLearner.load(tmp_path / "state")
    assert restored.input_range is None
    restored.close()


@pytest.mark.parametrize("value", [(1, 0), (0, 0), (0,), "01", (0, np.nan)])
def test_a_bad_input_range_is_refused(value):
    model = keras_dbal.gal_cnn((8, 8, 1), seed=0)
    model.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=(
        r"^Invalid value received for argument `input_range`\. Expected "
        r"\(low, high\) with low < high, or None\. Received: input_range="
    )):
        ActiveLearner(model, "bald", input_range=value)


def test_a_checkpoint_from_before_input_range_checks_nothing(
    tmp_path, digits, monkeypatch
):
    from keras_dbal.active import learner_state

    (x, y), _ = digits
    model = keras_dbal.gal_cnn((8, 8, 1), seed=0)
    model.compile("adam", "sparse_categorical_crossentropy")
    learner = ActiveLearner(model, "bald", mc_samples=2, seed=0,
                            input_range=None)
    learner.teach(x[:10] * 255, y[:10], fit=False)
    settings = learner_state._settings

    def older_settings(learner):
        return {k: v for k, v in settings(learner).items()
                if k != "input_range"}

    monkeypatch.setattr(learner_state, "_settings", older_settings)
    learner.save(tmp_path / "state")
    restored = ActiveLearner.load(tmp_path / "state")
    assert restored.input_range is None
    restored.close()
