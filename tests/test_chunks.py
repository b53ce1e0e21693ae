import numpy as np

from keras_dbal.sampling.chunks import array_positions
from keras_dbal.sampling.chunks import iter_chunks


def test_array_positions_by_hand():
    assert array_positions(5) is None
    np.testing.assert_array_equal(array_positions(5, exclude=[1, 3]),
                                  [0, 2, 4])
    np.testing.assert_array_equal(
        array_positions(5, indices=[4, 0, 3], exclude=[3]), [4, 0]
    )


def test_array_chunks_skip_excluded_positions():
    images = np.arange(7, dtype="float32")[:, None] * 10
    chunks = list(iter_chunks(images, 2, exclude=[0, 5]))
    positions = np.concatenate([chunk[0] for chunk in chunks])
    np.testing.assert_array_equal(positions, [1, 2, 3, 4, 6])
    for chunk_positions, chunk_images in chunks:
        np.testing.assert_array_equal(chunk_images[:, 0],
                                      chunk_positions * 10)
