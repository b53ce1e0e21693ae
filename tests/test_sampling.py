import keras
import numpy as np
import pytest

from keras_dbal import MCDropout
from keras_dbal import MCSampler
from keras_dbal import acquisition
from keras_dbal import gal_cnn
from keras_dbal.layers.mask_scope import MaskScope
from tests.conftest import requires_backend
from tests.mask_reference import reference_masks

T = 6


@pytest.fixture
def cnn():
    return gal_cnn((8, 8, 1), num_classes=4, seed=0)


@pytest.fixture
def images(rng):
    return rng.random((23, 8, 8, 1)).astype("float32")


def test_equals_t_full_passes_with_the_same_masks(cnn, images):
    sampler = MCSampler(cnn, T, chunk_size=len(images), seed=9)
    probs = sampler.sample(images)
    assert probs.shape == (T, len(images), 4)

    batch = len(images)
    masks = [
        reference_masks([9, 0], 0, 0.25, 2, T, (batch, 1, 1, 32)) / 0.75,
        reference_masks([9, 0], 1, 0.5, 1, T, (batch, 128)) / 0.5,
    ]
    for sample in range(T):
        calls = iter(range(2))

        def apply(layer, inputs, sample=sample, calls=calls):
            return inputs * masks[next(calls)][sample]

        with MaskScope(apply):
            expected = cnn(images, training=False)
        np.testing.assert_allclose(
            probs[sample], keras.ops.convert_to_numpy(expected),
            rtol=1e-5, atol=1e-6,
        )


def test_split_and_whole_model_agree(cnn, images):
    split = MCSampler(cnn, T, chunk_size=8, seed=4)
    whole = MCSampler(cnn, T, chunk_size=8, seed=4, split=False)
    assert split.prefix_ is not None and whole.prefix_ is None
    np.testing.assert_allclose(
        split.sample(images), whole.sample(images), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_array_equal(
        split.top_n(images, acquisition.bald, 5)[0],
        whole.top_n(images, acquisition.bald, 5)[0],
    )


@pytest.mark.parametrize("split", [True, False])
def test_both_ways_equals_samples_and_the_pass_without_dropout(
    cnn, images, split
):
    sampler = MCSampler(cnn, T, chunk_size=8, seed=4, split=split)
    samples, without = sampler.sample_both_ways(images)
    np.testing.assert_allclose(samples, sampler.sample(images),
                               rtol=1e-5, atol=1e-6)
    # Dropout off: the identity in every MCDropout, computed by hand.
    with MaskScope(lambda layer, inputs: inputs):
        expected = keras.ops.convert_to_numpy(cnn(images, training=False))
    np.testing.assert_allclose(without, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        without, sampler.predict_without_dropout(images),
        rtol=1e-5, atol=1e-6,
    )


def test_masks_follow_the_position_not_the_chunking(cnn, images):
    """One seed gives the same samples and scores whatever the chunk size,
    and an image scored alone or among others gets its own masks."""
    reference = MCSampler(cnn, T, chunk_size=len(images), seed=3)
    probs = reference.sample(images)
    for chunk_size in (1, 5, 8):
        sampler = MCSampler(cnn, T, chunk_size=chunk_size, seed=3)
        np.testing.assert_allclose(sampler.sample(images), probs,
                                   rtol=1e-5, atol=1e-6)
        positions, scores = sampler.score(images, acquisition.bald)
        np.testing.assert_allclose(
            scores, keras.ops.convert_to_numpy(acquisition.bald(probs)),
            rtol=1e-4, atol=1e-6,
        )
    picked = [17, 2, 9]
    np.testing.assert_allclose(
        reference.sample(images, indices=picked), probs[:, picked],
        rtol=1e-5, atol=1e-6,
    )
    # Not one mask for all: the images' samples differ as their masks do.
    assert not np.allclose(probs[:, 0], probs[:, 0].mean(axis=0))


def test_subclassed_model_gives_the_same_result(cnn, images):
    class Wrapper(keras.Model):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def call(self, x, training=None):
            return self.inner(x, training=training)

    wrapper = Wrapper(cnn)
    wrapper(images[:1])
    np.testing.assert_allclose(
        MCSampler(wrapper, T, chunk_size=8, seed=1).sample(images),
        MCSampler(cnn, T, chunk_size=8, seed=1).sample(images),
        rtol=1e-5, atol=1e-6,
    )


def branched_model():
    # The dropout's input also feeds a second branch, so the sampler
    # cannot fold the samples in at the dropout.
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(8, "relu")(inputs)
    left = keras.layers.Dense(4)(MCDropout(0.5)(hidden))
    right = keras.layers.Dense(4)(hidden)
    outputs = keras.layers.Softmax()(keras.layers.Add()([left, right]))
    return keras.Model(inputs, outputs)


def nested_model():
    # The first stochastic layer is a block that holds the dropout.
    block = keras.Sequential(
        [keras.Input((8,)), MCDropout(0.25), keras.layers.Dense(8, "relu")]
    )
    return keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(8, "relu"), block,
         MCDropout(0.5), keras.layers.Dense(3, "softmax")]
    )


@pytest.mark.parametrize("build", [branched_model, nested_model])
def test_models_that_cannot_fold_at_the_dropout_agree(build, rng):
    model = build()
    x = rng.random((11, 6)).astype("float32")
    split = MCSampler(model, T, chunk_size=4, seed=3)
    assert split.prefix_ is not None
    np.testing.assert_allclose(
        split.sample(x),
        MCSampler(model, T, chunk_size=4, seed=3, split=False).sample(x),
        rtol=1e-5, atol=1e-6,
    )


@pytest.mark.parametrize("prefix", [False, True])
def test_noise_shape_is_honoured(prefix, rng):
    inputs = keras.Input((5,))
    hidden = keras.layers.Identity()(inputs) if prefix else inputs
    model = keras.Model(
        inputs, MCDropout(0.5, noise_shape=(None, 1))(hidden)
    )
    x = rng.random((9, 5)).astype("float32") + 1
    outputs = MCSampler(model, T, chunk_size=4, seed=0).sample(x)
    dropped = outputs == 0
    # Each item and sample keeps all its units or none, both happen.
    np.testing.assert_array_equal(
        dropped, np.broadcast_to(dropped[..., :1], dropped.shape)
    )
    assert 0 < dropped.mean() < 1
    kept = ~dropped[..., 0]
    np.testing.assert_allclose(
        outputs[kept], np.broadcast_to(2 * x, outputs.shape)[kept],
        rtol=1e-6,
    )


def test_large_t_mean_matches_closed_form(rng):
    # A linear model after dropout: E[output] = W^T x + b exactly, and the
    # variance of one pass is sum_j (w_j x_j)^2 rate / (1 - rate).
    rate, num_samples = 0.5, 4000
    inputs = keras.Input((20,))
    dense = keras.layers.Dense(3)
    model = keras.Model(inputs, dense(MCDropout(rate)(inputs)))
    x = rng.random((5, 20)).astype("float32")
    outputs = MCSampler(model, num_samples, seed=0).sample(x)
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in dense.weights)
    expected = x @ kernel + bias
    spread = np.sqrt(
        ((x[:, :, None] * kernel[None]) ** 2).sum(axis=1)
        * rate / (1 - rate) / num_samples
    )
    assert np.all(np.abs(outputs.mean(axis=0) - expected) < 6 * spread)


def test_same_seed_same_probabilities(cnn, images):
    sampler = MCSampler(cnn, T, chunk_size=8)
    np.testing.assert_array_equal(
        sampler.sample(images, seed=3), sampler.sample(images, seed=3)
    )
    assert not np.array_equal(
        sampler.sample(images, seed=3), sampler.sample(images, seed=4)
    )


def test_consistent_masks_are_shared_and_chunk_independent(cnn, rng):
    repeated = np.repeat(rng.random((1, 8, 8, 1)), 10, axis=0)
    repeated = repeated.astype("float32")
    consistent = MCSampler(cnn, T, chunk_size=4, consistent_masks=True)
    probs = consistent.sample(repeated, seed=2)
    # The same image under the same masks gives the same prediction.
    np.testing.assert_allclose(
        probs, np.broadcast_to(probs[:, :1], probs.shape), atol=1e-6
    )
    other_chunking = MCSampler(cnn, T, chunk_size=7, consistent_masks=True)
    np.testing.assert_allclose(
        other_chunking.sample(repeated, seed=2), probs, atol=1e-6
    )
    independent = MCSampler(cnn, T, chunk_size=4).sample(repeated, seed=2)
    assert not np.allclose(independent[:, 0], independent[:, 1])


def test_scores_equal_acquisition_of_samples(cnn, images):
    sampler = MCSampler(cnn, T, chunk_size=5, seed=0)
    positions, scores = sampler.score(images, acquisition.bald)
    np.testing.assert_array_equal(positions, np.arange(len(images)))
    expected = keras.ops.convert_to_numpy(
        acquisition.bald(sampler.sample(images))
    )
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-6)


def test_running_top_n_equals_full_sort(cnn, images):
    sampler = MCSampler(cnn, T, chunk_size=5, seed=0)
    _, scores = sampler.score(images, acquisition.max_entropy)
    chosen, chosen_scores = sampler.top_n(images, acquisition.max_entropy, 7)
    np.testing.assert_array_equal(chosen, np.argsort(-scores)[:7])
    np.testing.assert_allclose(chosen_scores, np.sort(scores)[::-1][:7])


def test_top_n_respects_indices(cnn, images):
    sampler = MCSampler(cnn, T, chunk_size=4, seed=0)
    allowed = np.array([1, 4, 9, 16, 22])
    chosen, _ = sampler.top_n(images, acquisition.bald, 3, indices=allowed)
    assert set(chosen) <= set(allowed) and len(set(chosen)) == 3
    others = np.setdiff1d(np.arange(len(images)), allowed)
    np.testing.assert_array_equal(
        sampler.top_n(images, acquisition.bald, 3, exclude=others)[0], chosen
    )


def test_ties_are_broken_at_random(images):
    deterministic = gal_cnn((8, 8, 1), num_classes=4, bayesian=False)
    sampler = MCSampler(deterministic, 3, chunk_size=8)
    picks = {
        tuple(sampler.top_n(images, acquisition.bald, 3, seed=seed)[0])
        for seed in range(5)
    }
    assert len(picks) > 1


def test_deterministic_model_repeats_its_prediction(images):
    deterministic = gal_cnn((8, 8, 1), num_classes=4, bayesian=False)
    probs = MCSampler(deterministic, 4, chunk_size=8).sample(images)
    expected = deterministic.predict(images, verbose=0)
    for sample in probs:
        np.testing.assert_allclose(sample, expected, rtol=1e-5, atol=1e-6)


def test_without_dropout_is_the_keras_dropout_twin(cnn, images):
    # With dropout off, the Bayesian CNN is exactly the same network built
    # with Keras Dropout, which is the identity at inference.
    twin = gal_cnn((8, 8, 1), num_classes=4, bayesian=False, seed=1)
    twin.set_weights(cnn.get_weights())
    expected = keras.ops.convert_to_numpy(twin(images, training=False))
    sampler = MCSampler(cnn, T, chunk_size=8, seed=2)
    probs = sampler.predict_without_dropout(images)
    assert probs.shape == (len(images), 4)
    np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        sampler.predict_without_dropout(images, indices=[3, 0]),
        expected[[3, 0]], rtol=1e-5, atol=1e-6,
    )
    # A stochastic pass differs from it.
    assert np.abs(sampler.sample(images)[0] - expected).max() > 1e-3


def test_batch_normalization_stays_in_inference(rng):
    inputs = keras.Input((6,))
    normalization = keras.layers.BatchNormalization()
    hidden = normalization(keras.layers.Dense(8)(inputs))
    hidden = keras.layers.BatchNormalization()(MCDropout(0.5)(hidden))
    model = keras.Model(inputs, keras.layers.Dense(3, "softmax")(hidden))
    x = rng.normal(size=(64, 6)).astype("float32")
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, rng.integers(0, 3, 64), epochs=2, verbose=0)
    def statistics():
        return [
            keras.ops.convert_to_numpy(v) for v in model.non_trainable_weights
        ]

    before = statistics()
    MCSampler(model, T, chunk_size=16, seed=0).sample(x * 5 + 3)
    after = statistics()
    for old, new in zip(before, after, strict=True):
        np.testing.assert_array_equal(old, new)


def test_traced_once_per_chunk_shape(cnn, rng, monkeypatch):
    sampler = MCSampler(cnn, T, chunk_size=8, seed=0)
    traces = []
    forward = sampler._passes.samples

    def counting_forward(images, seed, positions):
        traces.append(1)
        return forward(images, seed, positions)

    monkeypatch.setattr(sampler._passes, "samples", counting_forward)
    sampler.score(rng.random((29, 8, 8, 1)), acquisition.bald)
    sampler.score(rng.random((13, 8, 8, 1)), acquisition.bald)
    assert len(traces) == 1


def test_small_pools_pad_to_a_power_of_two(cnn, rng, monkeypatch):
    sampler = MCSampler(cnn, T, chunk_size=64, seed=0)
    shapes = []
    forward = sampler._passes.samples

    def recording_forward(images, seed, positions):
        shapes.append(images.shape[0])
        return forward(images, seed, positions)

    monkeypatch.setattr(sampler._passes, "samples", recording_forward)
    for size in (13, 15, 29, 100):
        scores = sampler.score(rng.random((size, 8, 8, 1)), acquisition.bald)
        assert scores[1].shape == (size,)
    # One trace per padded size: 13 and 15 share 16; 100 uses the chunk.
    assert shapes == [16, 32, 64]


@requires_backend("tensorflow")
def test_tf_data_pools_match_arrays(cnn, images):
    import tensorflow as tf

    sampler = MCSampler(cnn, T, chunk_size=5, seed=0)
    expected = sampler.score(images, acquisition.bald)[1]
    unbatched = tf.data.Dataset.from_tensor_slices(images)
    batched = tf.data.Dataset.from_tensor_slices(
        (images, np.zeros(len(images)))
    ).batch(7)
    for dataset in (unbatched, batched):
        positions, scores = sampler.score(dataset, acquisition.bald)
        np.testing.assert_array_equal(positions, np.arange(len(images)))
        np.testing.assert_allclose(scores, expected, rtol=1e-5)
    chosen = sampler.top_n(batched, acquisition.bald, 4, indices=[0, 3, 8, 20])
    assert set(chosen[0]) <= {0, 3, 8, 20}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mc_samples": 0}, "mc_samples"),
        ({"mc_samples": 2.5}, "mc_samples"),
        ({"chunk_size": -1}, "chunk_size"),
    ],
)
def test_invalid_arguments(cnn, kwargs, match):
    with pytest.raises(ValueError, match=match):
        MCSampler(cnn, **kwargs)


def test_empty_pool_is_an_error(cnn):
    with pytest.raises(ValueError, match="empty"):
        MCSampler(cnn, T).sample(np.zeros((0, 8, 8, 1), "float32"))


def test_random_acquisition_follows_the_samplers_seed(cnn, images):
    # Random scores are drawn inside the compiled function from the
    # sampler's seed: reproducible, new per seed, uniform.
    sampler = MCSampler(cnn, T, chunk_size=8, seed=0)
    first = sampler.score(images, acquisition.random, seed=1)[1]
    np.testing.assert_array_equal(
        sampler.score(images, acquisition.random, seed=1)[1], first
    )
    assert not np.array_equal(
        sampler.score(images, acquisition.random, seed=2)[1], first
    )
    assert ((first >= 0) & (first < 1)).all()
    assert len(np.unique(first)) == len(images)
    big = MCSampler(cnn, T, chunk_size=2048, seed=0)
    many = big.score(
        np.zeros((2000, 8, 8, 1), "float32"), acquisition.random, seed=3
    )[1]
    # Mean of 2,000 U(0, 1) draws: standard deviation 0.0065.
    assert abs(many.mean() - 0.5) < 0.03


def test_random_acquisition_is_keyed_by_position_not_by_chunk(cnn, images):
    # Through the sampler, random acquisition gets the images' positions:
    # every chunk size gives the same scores, and a part of the pool
    # scored with its positions as keys gets the whole pool's scores.
    whole = MCSampler(cnn, T, chunk_size=len(images), seed=0)
    expected = whole.score(images, acquisition.random, seed=1)[1]
    for chunk_size in (1, 5, 8):
        sampler = MCSampler(cnn, T, chunk_size=chunk_size, seed=0)
        np.testing.assert_array_equal(
            sampler.score(images, acquisition.random, seed=1)[1], expected
        )
    part = np.array([20, 2, 11])
    np.testing.assert_array_equal(
        whole.score(images[part], acquisition.random, seed=1, keys=part)[1],
        expected[part],
    )


def test_automatic_chunk_keeps_small_models_at_8192_folded_rows():
    assert MCSampler(gal_cnn((28, 28, 1), seed=0), 20).chunk_size == 409


def test_automatic_chunk_keeps_the_largest_activation_within_a_budget():
    # 96x96x3 images through a convolution the dropout comes before: the
    # model cannot be split, so every layer runs T-fold. By hand, the
    # largest output is the convolution's, 94 * 94 * 16 float32 values per
    # sample; with its input beside it, twice that.
    inputs = keras.Input((96, 96, 3))
    hidden = MCDropout(0.25, seed=0)(inputs)
    hidden = keras.layers.Conv2D(16, 3)(hidden)
    hidden = keras.layers.Flatten()(hidden)
    outputs = keras.layers.Dense(10, activation="softmax")(hidden)
    model = keras.Model(inputs, outputs)
    per_item = 2 * 4 * 20 * 94 * 94 * 16
    sampler = MCSampler(model, 20)
    assert sampler.prefix_ is None
    assert sampler.chunk_size == (1 << 30) // per_item == 47


def test_automatic_chunk_without_known_shapes_and_a_given_one():
    # Images of any size: nothing to estimate, the default stays.
    inputs = keras.Input((None, None, 3))
    hidden = MCDropout(0.25, seed=0)(inputs)
    hidden = keras.layers.Conv2D(16, 3)(hidden)
    outputs = keras.layers.Dense(10, activation="softmax")(
        keras.layers.GlobalAveragePooling2D()(hidden)
    )
    model = keras.Model(inputs, outputs)
    assert MCSampler(model, 20).chunk_size == 409
    # What the user asks for is kept.
    assert MCSampler(model, 20, chunk_size=3000).chunk_size == 3000


WRONG_SHAPE = (
    r"^Invalid value received for argument `pool`\. Expected items of "
    r"shape \(8, 8, 1\)\. Received shape \((5|None), 9, 9, 1\)"
    r"( \(the dataset's elements\))?\.$"
)


@pytest.mark.parametrize("method", [
    lambda sampler, x: sampler.sample(x),
    lambda sampler, x: sampler.predict_without_dropout(x),
    lambda sampler, x: sampler.score(x, acquisition.bald),
    lambda sampler, x: sampler.top_n(x, acquisition.bald, 2),
], ids=["sample", "predict_without_dropout", "score", "top_n"])
def test_every_method_refuses_a_wrong_image_shape_in_one_line(
    cnn, rng, method
):
    sampler = MCSampler(cnn, T, seed=0)
    with pytest.raises(ValueError, match=WRONG_SHAPE):
        method(sampler, rng.random((5, 9, 9, 1)).astype("float32"))


@requires_backend("tensorflow")
def test_a_dataset_of_the_wrong_shape_is_refused_before_it_is_read(cnn):
    import tensorflow as tf

    read = []

    def images():
        read.append(True)
        yield np.zeros((9, 9, 1), "float32")

    dataset = tf.data.Dataset.from_generator(
        images, output_signature=tf.TensorSpec((9, 9, 1), tf.float32)
    )
    sampler = MCSampler(cnn, T, seed=0)
    for pool in (dataset, dataset.batch(4)):
        with pytest.raises(ValueError, match=WRONG_SHAPE):
            sampler.sample(pool)
    assert read == []


@requires_backend("tensorflow")
def test_input_range_is_checked_as_a_dataset_is_read(cnn, images):
    import tensorflow as tf

    sampler = MCSampler(cnn, T, chunk_size=8, seed=0, input_range=(0, 1))
    eight_bit = tf.data.Dataset.from_tensor_slices(images * 255).batch(5)
    with pytest.raises(ValueError, match=r"in \[0, 1\]\. Received values "
                       r"in \[.*\]\. Scale the images first"):
        sampler.sample(eight_bit)
    # The same images in range, and any values without a range.
    assert sampler.sample(images).shape == (T, len(images), 4)
    assert MCSampler(cnn, T, seed=0).sample(eight_bit).shape == (
        T, len(images), 4
    )


def two_outputs():
    inputs = keras.Input((6,))
    hidden = MCDropout(0.5)(keras.layers.Dense(8)(inputs))
    return keras.Model(inputs, [keras.layers.Dense(3, "softmax")(hidden),
                                keras.layers.Dense(3, "softmax")(hidden)])


def two_inputs():
    first, second = keras.Input((6,)), keras.Input((6,))
    hidden = keras.layers.Concatenate()([first, second])
    hidden = MCDropout(0.5)(keras.layers.Dense(8)(hidden))
    return keras.Model([first, second],
                       keras.layers.Dense(3, "softmax")(hidden))


def subclassed_two_outputs():
    class TwoHeads(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = keras.layers.Dense(8)
            self.dropout = MCDropout(0.5)
            self.heads = [keras.layers.Dense(3, "softmax") for _ in "ab"]

        def call(self, x, training=None):
            hidden = self.dropout(self.hidden(x))
            return [head(hidden) for head in self.heads]

    model = TwoHeads()
    model(np.zeros((1, 6), "float32"))
    return model


def ensemble_of_two_outputs():
    from keras_dbal.models import Ensemble

    return Ensemble([two_outputs(), two_outputs()])


SEVERAL = {
    two_outputs: "1 input and 2 outputs",
    two_inputs: "2 inputs and 1 output",
    subclassed_two_outputs: "1 input and 2 outputs",
    ensemble_of_two_outputs: "1 input and 2 outputs",
}


@pytest.mark.parametrize("build", list(SEVERAL), ids=lambda f: f.__name__)
def test_several_inputs_or_outputs_are_refused_when_built(build):
    with pytest.raises(ValueError, match=(
        r"^Invalid value received for argument `model`\. Expected a model "
        r"with one input .* and one output .*\. Received "
        + SEVERAL[build]
    )):
        MCSampler(build(), T)


def test_mixed_bfloat16_gives_float32_rows_that_sum_to_one(rng):
    # The policy's bfloat16 softmax rows sum to 1 only within ~1e-2; the
    # sampler's documented output is float32 probabilities.
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = gal_cnn((8, 8, 1), num_classes=10, seed=0)
        assert model.compute_dtype == "bfloat16"
        sampler = MCSampler(model, T, chunk_size=16, seed=0)
        x = rng.random((40, 8, 8, 1)).astype("float32")
        for probs in (sampler.sample(x), sampler.predict_without_dropout(x)):
            assert probs.dtype == np.float32
            np.testing.assert_allclose(probs.sum(axis=-1), 1.0, atol=1e-5)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_replace_keeps_every_setting_but_the_changed_ones(cnn, images):
    sampler = MCSampler(cnn, 3, chunk_size=7, consistent_masks=True,
                        split=False, seed=5, input_range=None)
    twin = sampler.replace(mc_samples=4)
    assert (twin.model, twin.mc_samples, twin.chunk_size,
            twin.consistent_masks, twin.split, twin.from_logits, twin.seed,
            twin.input_range) == (cnn, 4, 7, True, False, False, 5, None)
    # The twin samples as one built by hand with those settings.
    by_hand = MCSampler(cnn, 4, chunk_size=7, consistent_masks=True,
                        split=False, seed=5, input_range=None)
    np.testing.assert_array_equal(
        twin.sample(images, seed=2), by_hand.sample(images, seed=2)
    )
    with pytest.raises(ValueError, match=r"unknown settings \['T'\]"):
        sampler.replace(T=5)


def test_a_part_keyed_by_its_positions_scores_as_in_the_whole(digits):
    # The masks follow (seed, key): a slice of the pool scored with its
    # positions as keys gets the whole pool's scores at those positions,
    # and without them other scores.
    bald = acquisition.bald
    (x, _), _ = digits
    keras.utils.set_random_seed(0)
    model = gal_cnn((8, 8, 1), seed=0)
    sampler = MCSampler(model, 4, seed=5, chunk_size=64)
    _, whole = sampler.score(x[:300], bald)
    part = np.arange(170, 300)
    _, keyed = sampler.score(x[part], bald, keys=part)
    np.testing.assert_allclose(keyed, whole[part], rtol=1e-5, atol=1e-7)
    _, unkeyed = sampler.score(x[part], bald)
    assert not np.allclose(unkeyed, whole[part], rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="keys"):
        sampler.score(x[part], bald, keys=part[:-1])
