"""Tracking speed in VOT2014's EFO units (equivalent filter operations).

The VOT2014 toolkit normalised a tracker's speed by the time the same machine
needs for a reference operation: a 30 x 30 maximum filter over a 600 x 600
grayscale image, computed naively (every output pixel compares its whole
window) in native code. EFO speed = frames per second x reference seconds.

The toolkit's reference is a C loop; here it is timed as 900 shifted
``np.maximum`` passes over the image, the same 900 comparisons per pixel done
in numpy's compiled loops. Vectorised loops run faster than the toolkit's
scalar loop, so the EFO figures here are an estimate (they read low), good for
comparing trackers scored on the same machine, not an exact match of the
paper's column.
"""

from __future__ import annotations

import time

import numpy as np

REFERENCE_IMAGE = 600
REFERENCE_WINDOW = 30


def naive_max_filter(image: np.ndarray, window: int = REFERENCE_WINDOW) -> np.ndarray:
    """Maximum over a ``window`` x ``window`` neighbourhood of every pixel (edges
    see only the pixels inside the image); (H, W) -> (H, W), same dtype."""
    before = window // 2
    after = window - 1 - before
    padded = np.pad(image, ((before, after), (before, after)), constant_values=-np.inf)
    height, width = image.shape
    result = np.full_like(image, -np.inf)
    for dy in range(window):
        for dx in range(window):
            np.maximum(result, padded[dy:dy + height, dx:dx + width], out=result)
    return result


def efo_reference_seconds(repetitions: int = 3, seed: int = 0) -> float:
    """Seconds this machine takes for the reference max filter (best of ``repetitions``)."""
    image = np.random.default_rng(seed).random((REFERENCE_IMAGE, REFERENCE_IMAGE))
    seconds = []
    for _ in range(max(1, repetitions)):
        start = time.perf_counter()
        naive_max_filter(image)
        seconds.append(time.perf_counter() - start)
    return min(seconds)


def efo_speed(fps: float, reference_seconds: float) -> float:
    """Frames per second -> EFO speed (frames per reference operation)."""
    return fps * reference_seconds
