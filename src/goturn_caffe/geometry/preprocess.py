"""Network input: 227 x 227 BGR uint8 crops -> mean-subtracted float32 CHW blobs.

The authors' regressor resizes the uint8 crop to 227 x 227 (done by
:func:`goturn_caffe.geometry.cropping.crop_and_resize`), converts it to float, subtracts
the per-channel mean (104, 117, 123) in BGR order (no /255) and splits the
channels into Caffe's N x C x H x W blob.  This module owns those constants.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

INPUT_SIZE = 227
MEAN_BGR = (104.0, 117.0, 123.0)

_MEAN_NCHW = np.array(MEAN_BGR, dtype=np.float32).reshape(1, 3, 1, 1)


def preprocess_batch(crops: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``crops`` (N, 227, 227, 3) uint8 BGR -> (N, 3, 227, 227) float32 minus the mean.

    One vectorised pass (uint8 -> float32, mean subtraction and HWC -> CHW
    together).  ``out``, when given, must be a float32 (N, 3, 227, 227) array
    (e.g. a Caffe input blob's ``data``) and is filled in place and returned.
    """
    crops = np.asarray(crops)
    expected = (INPUT_SIZE, INPUT_SIZE, 3)
    if crops.ndim != 4 or crops.shape[1:] != expected or crops.dtype != np.uint8:
        raise ValueError(f"crops must be (N, {INPUT_SIZE}, {INPUT_SIZE}, 3) uint8, "
                         f"got {crops.shape} {crops.dtype}")
    shape = (crops.shape[0], 3, INPUT_SIZE, INPUT_SIZE)
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    elif out.shape != shape or out.dtype != np.float32:
        raise ValueError(f"out must be {shape} float32, got {out.shape} {out.dtype}")
    np.subtract(crops.transpose(0, 3, 1, 2), _MEAN_NCHW, out=out)
    return out


def preprocess(crop: np.ndarray) -> np.ndarray:
    """One (227, 227, 3) uint8 BGR crop -> (3, 227, 227) float32 minus the mean."""
    return preprocess_batch(np.asarray(crop)[None])[0]
