"""Network input preprocessing against hand-computed values."""

import numpy as np
import pytest

from goturn_caffe.geometry.preprocess import INPUT_SIZE, MEAN_BGR, preprocess, preprocess_batch


def test_constants_are_the_authors():
    assert INPUT_SIZE == 227
    assert MEAN_BGR == (104.0, 117.0, 123.0)   # B, G, R


def test_values_by_hand():
    crops = np.zeros((2, 227, 227, 3), dtype=np.uint8)
    crops[0, 5, 7] = (255, 10, 200)          # B, G, R
    crops[1] = (104, 117, 123)                # exactly the mean
    out = preprocess_batch(crops)
    assert out.shape == (2, 3, 227, 227) and out.dtype == np.float32
    # Channel-first, minus the mean, no /255: 255 - 104, 10 - 117, 200 - 123.
    assert out[0, :, 5, 7].tolist() == [151.0, -107.0, 77.0]
    # A black pixel is minus the mean.
    assert out[0, :, 0, 0].tolist() == [-104.0, -117.0, -123.0]
    assert out[0, :, 7, 5].tolist() == [-104.0, -117.0, -123.0]   # (row 7, col 5) untouched
    assert not out[1].any()


def test_writes_into_a_preallocated_blob():
    rng = np.random.default_rng(3)
    crops = rng.integers(0, 256, (3, 227, 227, 3), dtype=np.uint8)
    blob = np.full((3, 3, 227, 227), np.nan, dtype=np.float32)   # like a Caffe input blob
    returned = preprocess_batch(crops, out=blob)
    assert returned is blob
    for n in range(3):
        for channel, mean in enumerate((104, 117, 123)):
            np.testing.assert_array_equal(blob[n, channel], crops[n, :, :, channel] - np.float32(mean))
    np.testing.assert_array_equal(preprocess(crops[2]), blob[2])


@pytest.mark.parametrize("crops", [
    np.zeros((227, 227, 3), dtype=np.uint8),          # not a batch
    np.zeros((1, 227, 227, 3), dtype=np.float32),     # not uint8
    np.zeros((1, 200, 227, 3), dtype=np.uint8),       # not 227
    np.zeros((1, 227, 227, 1), dtype=np.uint8),       # not BGR
])
def test_rejects_bad_crops(crops):
    with pytest.raises(ValueError, match="crops must be"):
        preprocess_batch(crops)


def test_rejects_a_bad_output_array():
    crops = np.zeros((2, 227, 227, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="out must be"):
        preprocess_batch(crops, out=np.empty((1, 3, 227, 227), dtype=np.float32))
    with pytest.raises(ValueError, match="out must be"):
        preprocess_batch(crops, out=np.empty((2, 3, 227, 227), dtype=np.float64))
