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
