import keras
import numpy as np
import pytest

from keras_dbal import LabelScaledL2
from keras_dbal import MCDropout
from keras_dbal import gal_cnn


def conv_params(kernel, channels_in, filters):
    return kernel * kernel * channels_in * filters + filters


def dense_params(units_in, units_out):
    return units_in * units_out + units_out


def hand_computed(kernel, pool, side=28, channels=1, filters=32, classes=10):
    after_convs = side - 2 * (kernel - 1)
    pooled = after_convs // pool
    flat = pooled * pooled * filters
    return {
        "shapes": [
            (None, side - kernel + 1, side - kernel + 1, filters),
            (None, after_convs, after_convs, filters),
            (None, pooled, pooled, filters),
            (None, pooled, pooled, filters),
            (None, flat),
            (None, 128),
            (None, 128),
            (None, classes),
        ],
        "params": [
            conv_params(kernel, channels, filters),
            conv_params(kernel, filters, filters),
            0, 0, 0,
            dense_params(flat, 128),
            0,
            dense_params(128, classes),
        ],
    }


@pytest.mark.parametrize(
    "variant, kernel, pool", [("paper", 4, 2), ("code", 3, 5)]
)
@pytest.mark.parametrize("bayesian", [True, False])
def test_shapes_and_parameter_counts(variant, kernel, pool, bayesian):
    model = gal_cnn(variant=variant, bayesian=bayesian)
    expected = hand_computed(kernel, pool)
    assert [tuple(layer.output.shape) for layer in model.layers] == (
        expected["shapes"]
    )
    assert [layer.count_params() for layer in model.layers] == (
        expected["params"]
    )


def test_paper_variant_numbers():
    # 4x4 kernels: 28 -> 25 -> 22, pooled to 11; 11 * 11 * 32 = 3872 inputs
    # to the dense layer. 544 + 16416 + 495744 + 1290 parameters.
    assert gal_cnn().count_params() == 513_994


def test_bayesian_flag_picks_the_dropout():
    bayesian = gal_cnn(bayesian=True)
    deterministic = gal_cnn(bayesian=False)
    assert sum(isinstance(lyr, MCDropout) for lyr in bayesian.layers) == 2
    assert not any(isinstance(lyr, MCDropout) for lyr in deterministic.layers)
    rates = [lyr.rate for lyr in bayesian.layers if isinstance(lyr, MCDropout)]
    assert rates == [0.25, 0.5]
    x = np.random.default_rng(0).random((2, 28, 28, 1)).astype("float32")
    np.testing.assert_array_equal(
        deterministic.predict(x, verbose=0),
        deterministic.predict(x, verbose=0),
    )
    assert not np.array_equal(
        bayesian.predict(x, verbose=0), bayesian.predict(x, verbose=0)
    )


def test_cifar_sized_inputs():
    model = gal_cnn((32, 32, 3), num_classes=100, variant="code")
    assert model.output_shape == (None, 100)
    assert model.layers[0].count_params() == conv_params(3, 3, 32)


def test_weight_decay_is_c_over_n():
    model = gal_cnn(weight_decay=3.5, num_labelled=70)
    dense = model.layers[5]
    assert isinstance(dense.kernel_regularizer, LabelScaledL2)
    kernel = keras.ops.convert_to_numpy(dense.kernel)
    expected = 3.5 / 70 * np.sum(kernel.astype("float64") ** 2)
    np.testing.assert_allclose(
        float(sum(keras.ops.convert_to_numpy(loss) for loss in model.losses)),
        expected,
        rtol=1e-5,
    )
    assert gal_cnn(weight_decay=None).losses == []


def test_regularizer_round_trip():
    regularizer = LabelScaledL2(2.0, 40)
    revived = LabelScaledL2.from_config(regularizer.get_config())
    assert (revived.c, revived.num_labelled) == (2.0, 40)
    assert revived.strength == pytest.approx(0.05)
    with pytest.raises(ValueError, match="num_labelled"):
        LabelScaledL2(1.0, 0)
    with pytest.raises(ValueError, match="`c`"):
        LabelScaledL2(-1.0)


def test_keras_round_trip(tmp_path):
    model = gal_cnn((8, 8, 1), seed=3)
    path = tmp_path / "gal.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert [type(layer) for layer in loaded.layers] == [
        type(layer) for layer in model.layers
    ]
    assert isinstance(loaded.layers[5].kernel_regularizer, LabelScaledL2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"variant": "keras1"}, "variant"),
        ({"input_shape": (28, 28)}, "input_shape"),
        ({"input_shape": (6, 6, 1)}, "at least 8 pixels"),
        ({"input_shape": (8, 8, 1), "variant": "code"}, "at least 9"),
        ({"num_classes": 1}, "num_classes"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gal_cnn(**kwargs)


@pytest.mark.slow
def test_trains_above_90_percent_on_digits(digits):
    (x_train, y_train), (x_test, y_test) = digits
    model = gal_cnn((8, 8, 1), weight_decay=3.5, num_labelled=len(x_train))
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy"
    )
    model.fit(x_train, y_train, epochs=40, batch_size=64, verbose=0)
    probs = np.mean(
        [model.predict(x_test, verbose=0) for _ in range(10)], axis=0
    )
    accuracy = np.mean(probs.argmax(axis=1) == y_test)
    assert accuracy > 0.90, accuracy
