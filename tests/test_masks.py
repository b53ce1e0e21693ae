import keras
import numpy as np
import pytest

from keras_dbal import backend
from keras_dbal.sampling.masks import field_bits
from keras_dbal.sampling.masks import keep_mask
from tests.mask_reference import reference_masks


@pytest.mark.parametrize(
    "rate, expected",
    [(0.5, 1), (0.25, 2), (0.75, 2), (0.375, 3), (2**-20, 20), (0.1, 32)],
)
def test_field_bits_are_the_fewest_exact_ones(rate, expected):
    assert field_bits(rate) == expected


@pytest.mark.parametrize(
    "rate, bits, num_samples",
    # One word, several words with a field left over, one word per sample.
    [(0.5, 1, 20), (0.25, 2, 40), (0.1, 32, 5)],
)
def test_keep_mask_follows_its_documented_layout(rate, bits, num_samples):
    shape = (3, 7)
    positions = np.array([4, 0, 123456], "int32")
    keep = keras.ops.convert_to_numpy(
        keep_mask(rate, num_samples, shape, backend.fold_in(
            np.array([5, 6], "int32"), 2
        ), positions)
    )
    assert keep.shape == (num_samples,) + shape
    np.testing.assert_array_equal(
        keep, reference_masks([5, 6], 2, rate, bits, num_samples, shape,
                              positions)
    )


def test_an_items_masks_depend_on_its_position_only():
    seed = np.array([5, 6], "int32")
    alone = keras.ops.convert_to_numpy(
        keep_mask(0.5, 8, (1, 40), seed, np.array([17], "int32"))
    )
    among = keras.ops.convert_to_numpy(
        keep_mask(0.5, 8, (3, 40), seed, np.array([2, 17, 99], "int32"))
    )
    np.testing.assert_array_equal(alone[:, 0], among[:, 1])
    assert not np.array_equal(among[:, 0], among[:, 1])


@pytest.mark.parametrize("rate", [0.5, 0.25])
def test_neighbouring_positions_are_independent(rate):
    # Items at positions 0..N-1 (the keys most pools give): the fraction
    # dropped in both of two neighbours must be rate ** 2.
    items, units = 4000, 16
    dropped = ~keras.ops.convert_to_numpy(keep_mask(
        rate, 4, (items, units), np.array([1, 2], "int32"),
        np.arange(items, dtype="int32"),
    ))
    both = (dropped[:, :-1] & dropped[:, 1:]).mean()
    count = dropped[:, :-1].size
    spread = np.sqrt(rate**2 * (1 - rate**2) / count)
    assert abs(both - rate**2) < 5 * spread
    assert abs(dropped.mean() - rate) < 5 * np.sqrt(
        rate * (1 - rate) / dropped.size
    )


@pytest.mark.parametrize("rate", [0.5, 0.25, 0.75, 0.375, 0.1, 0.3])
def test_keep_mask_drops_at_the_rate(rate):
    keep = keras.ops.convert_to_numpy(
        keep_mask(rate, 20, (5000,), np.array([3, 4], "int32"))
    )
    count = keep.size
    spread = np.sqrt(rate * (1 - rate) / count)
    assert abs((1 - keep.mean()) - rate) < 5 * spread


def test_samples_sharing_a_word_are_independent():
    # At rate 0.5 all 32 samples come from one word; every pair of them
    # must be dropped together a quarter of the time.
    units = 20000
    dropped = ~keras.ops.convert_to_numpy(
        keep_mask(0.5, 32, (units,), np.array([8, 9], "int32"))
    )
    both = (dropped[:, None] & dropped[None]).mean(axis=-1)
    pairs = both[np.triu_indices(32, k=1)]
    spread = np.sqrt(0.25 * 0.75 / units)
    assert np.all(np.abs(pairs - 0.25) < 5 * spread)
