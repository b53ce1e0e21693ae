import numpy as np
import pytest

from keras_dbal.active.pool import Pool
from keras_dbal.active.selection import balanced_indices
from keras_dbal.datasets.loaders import DataError
from keras_dbal.datasets.loaders import load_dataset
from keras_dbal.datasets.loaders import load_npz
from keras_dbal.datasets.loaders import load_npz_array
from keras_dbal.datasets.loaders import scale_images

# File formats, commands and checks that do not depend on the Keras
# backend: CI runs this module under TensorFlow only.
pytestmark = pytest.mark.backend_independent


def test_digits_are_embedded(digits):
    (x_train, y_train), (x_test, y_test) = digits
    assert x_train.shape == (1437, 8, 8, 1) and x_test.shape == (360, 8, 8, 1)
    assert x_train.dtype == np.float32
    assert 0 <= x_train.min() and x_train.max() <= 1
    assert set(np.unique(y_test)) == set(range(10))


def write_npz(path, **overrides):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (12, 6, 6), dtype=np.uint8),
        "y_train": rng.integers(0, 3, 12),
        "x_test": rng.integers(0, 256, (4, 6, 6), dtype=np.uint8),
        "y_test": rng.integers(0, 3, 4),
    }
    arrays.update(overrides)
    arrays = {key: value for key, value in arrays.items() if value is not None}
    np.savez(path, **arrays)
    return arrays


def test_npz_round_trip(tmp_path):
    arrays = write_npz(tmp_path / "d.npz")
    (x_train, y_train), (x_test, _) = load_npz(tmp_path / "d.npz")
    assert x_train.shape == (12, 6, 6, 1) and x_test.shape == (4, 6, 6, 1)
    np.testing.assert_allclose(x_train[..., 0], arrays["x_train"] / 255.0)
    np.testing.assert_array_equal(y_train, arrays["y_train"])
    assert load_dataset("mnist", path=tmp_path / "d.npz")[0][0].shape == (
        12, 6, 6, 1
    )


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"y_test": None}, r"lacks the keys \['y_test'\]"),
        ({"y_train": np.zeros(5, int)}, "y_train has shape"),
        ({"x_train": np.zeros((12,), "uint8")}, "x_train has shape"),
        ({"y_train": np.full(12, -1)}, "non-negative integer"),
    ],
)
def test_malformed_npz(tmp_path, overrides, match):
    write_npz(tmp_path / "d.npz", **overrides)
    with pytest.raises(DataError, match=match):
        load_npz(tmp_path / "d.npz")


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_npz(tmp_path / "absent.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable"):
        load_npz(tmp_path / "junk.npz")
    with pytest.raises(DataError, match="Unknown dataset"):
        load_dataset("imagenet")


def test_one_array_of_an_npz(tmp_path):
    images = np.arange(12, dtype="uint8").reshape(3, 2, 2)
    np.savez(tmp_path / "pool.npz", images=images)
    np.testing.assert_array_equal(
        load_npz_array(tmp_path / "pool.npz", "images"), images
    )
    with pytest.raises(DataError, match=r"no array 'x'; it has \['images'\]"):
        load_npz_array(tmp_path / "pool.npz", "x")
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable"):
        load_npz_array(tmp_path / "broken.npz", "x")


def test_scale_images_by_hand():
    scaled = scale_images(np.array([[[0, 255]]], "uint8"), "x")
    assert scaled.shape == (1, 1, 2, 1) and scaled.dtype == "float32"
    np.testing.assert_allclose(scaled[0, 0, :, 0], [0.0, 1.0])
    with pytest.raises(DataError, match="pool has shape"):
        scale_images(np.zeros((2, 3)), "pool")
    with pytest.raises(DataError, match="finite"):
        scale_images(np.full((1, 2, 2), np.nan), "pool")


def test_balanced_indices():
    y = np.repeat(np.arange(4), 10)
    chosen = balanced_indices(y, 3, seed=0)
    assert np.bincount(y[chosen]).tolist() == [3, 3, 3, 3]
    np.testing.assert_array_equal(chosen, balanced_indices(y, 3, seed=0))
    with pytest.raises(ValueError, match="Class"):
        balanced_indices(y, 11)


def test_pool_bookkeeping():
    pool = Pool(np.zeros((5, 2, 2, 1)), y=np.arange(5))
    pool.mark_labelled([1, 3], [7, 8])
    assert pool.labelled_indices.tolist() == [1, 3]
    assert pool.unlabelled_indices.tolist() == [0, 2, 4]
    assert pool.labels_.tolist() == [-1, 7, -1, 8, -1]
    np.testing.assert_array_equal(pool.oracle([4, 0]), [4, 0])
    with pytest.raises(ValueError, match="already labelled"):
        pool.mark_labelled([3], [1])
    with pytest.raises(ValueError, match=r"positions in \[0, 5\)"):
        pool.mark_labelled([5], [1])
    with pytest.raises(ValueError, match="no oracle"):
        Pool(np.zeros((2, 2, 2, 1))).oracle([0])


def test_pool_fingerprint_changes_with_content():
    x = np.zeros((3, 2, 2, 1), "float32")
    changed = x.copy()
    changed[0, 0, 0, 0] = 1
    assert Pool(x).fingerprint() == Pool(x.copy()).fingerprint()
    assert Pool(x).fingerprint() != Pool(changed).fingerprint()


@pytest.mark.parametrize(
    "images, match",
    [
        # scikit-learn's digits: 0..16 as integers would come out black.
        (np.array([[[0, 16]]], "uint8"), r"\[0, 16\].*nearly black"),
        (np.array([[[0, 300]]], "uint16"), r"in \[0, 255\]; found"),
        (np.array([[[0.0, 16.0]]], "float32"), r"must be in \[0, 1\]"),
        (np.array([[[-0.5, 0.5]]], "float32"), r"must be in \[0, 1\]"),
    ],
)
def test_images_on_another_scale_are_refused(images, match):
    with pytest.raises(DataError, match=match):
        scale_images(images, "pool")


def test_max_value_says_what_white_is():
    scaled = scale_images(np.array([[[0, 4, 16]]], "uint8"), "x",
                          max_value=16)
    np.testing.assert_allclose(scaled[0, 0, :, 0], [0.0, 0.25, 1.0])
    with pytest.raises(DataError, match=r"outside \[0, max_value=8\]"):
        scale_images(np.array([[[0, 16]]], "uint8"), "x", max_value=8)


def test_restore_labels_is_idempotent_and_refuses_clashes():
    pool = Pool(np.zeros((4, 2, 2, 1)))
    pool.restore_labels([0, 2], [5, 6])
    pool.restore_labels([0, 2], [5, 6])
    assert pool.labels_.tolist() == [5, -1, 6, -1]
    with pytest.raises(ValueError, match=r"positions \[2\] carry labels \[6\]"):
        pool.restore_labels([2], [1])
