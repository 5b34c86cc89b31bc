"""The motion model of the training crops: the authors' ``BoundingBox::Shift``.

A shifted box simulates where the search region of the next frame would be if
the object had moved: new width ``w' = w * (1 + s)`` with ``s`` a two-sided
Laplace sample (scale ``1 / lambda_scale``) clamped to ``[min_scale,
max_scale]``, then kept within ``[1, image width - 1]`` (height alike); new
centre ``cx' = cx + w * d`` with ``d`` Laplace (scale ``1 / lambda_shift``),
clamped so that the box stays inside the image (y alike).  As the authors do, a
sample is redrawn (at most 10 draws in all) while the size leaves the image,
the new centre leaves the old search region (more than ``k / 2`` box sizes
away, k the crop's context factor) or the box leaves the image.  ``smooth=False``
is the paper's "no motion smoothness" ablation: uniform samples over the same
ranges instead of Laplace ones.

Randomness comes only from the ``numpy.random.Generator`` passed in.  All
boxes of a call are sampled together (vectorised); :meth:`MotionModel.shift`
is the one-box case of :meth:`MotionModel.shift_boxes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from goturn_caffe.config import AUTHORS
from goturn_caffe.geometry.boxes import Box, overlaps_image
from goturn_caffe.geometry.cropping import CONTEXT_FACTOR

MAX_TRIES = 10  # the authors' kMaxNumTries


def check_boxes(boxes, image_width: int, image_height: int) -> np.ndarray:
    """``boxes`` as a float64 (N, 4) array, or a one-line ValueError naming the bad box.

    A usable box is finite, has positive width and height and overlaps the
    ``image_width`` x ``image_height`` image.
    """
    if image_width < 1 or image_height < 1:
        raise ValueError(f"image size {image_width}x{image_height} is empty")
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.size % 4 or boxes.shape[-1:] != (4,):
        raise ValueError(f"boxes must have shape (4,) or (N, 4), got {boxes.shape}")
    boxes = boxes.reshape(-1, 4)
    problems = (
        (~np.isfinite(boxes).all(axis=1), "has a non-finite coordinate"),
        ((boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1]), "has zero or negative size"),
        (~overlaps_image(*boxes.T, image_width, image_height),
         f"lies outside the {image_width}x{image_height} image"),
    )
    for bad, reason in problems:
        if bad.any():
            row = boxes[np.argmax(bad)]
            raise ValueError(f"box (x1, y1, x2, y2) = {tuple(row.tolist())} {reason}")
    return boxes


def _retry(draw: Callable[[np.ndarray], np.ndarray],
           rejected: Callable[[np.ndarray, np.ndarray], np.ndarray], count: int) -> np.ndarray:
    """The authors' resampling loop for ``count`` samples at once.

    ``draw(rows)`` samples values for the given rows; ``rejected(values,
    rows)`` says which must be drawn again.  Every row is drawn once, then the
    rejected ones again, at most ``MAX_TRIES`` draws per row; the last draw stands.
    """
    rows = np.arange(count)
    values = draw(rows)
    for _ in range(MAX_TRIES - 1):
        rows = rows[rejected(values[rows], rows)]
        if rows.size == 0:
            break
        values[rows] = draw(rows)
    return values


@dataclass(frozen=True)
class MotionModel:
    """Random box shifts for training (the paper's Section 3.3 motion model)."""

    lambda_shift: float = AUTHORS.lambda_shift
    lambda_scale: float = AUTHORS.lambda_scale
    min_scale: float = AUTHORS.min_scale
    max_scale: float = AUTHORS.max_scale
    smooth: bool = True   # Laplace samples; False: uniform ("no motion smoothness")

    def __post_init__(self):
        if not (self.lambda_shift > 0 and self.lambda_scale > 0):
            raise ValueError(f"lambda_shift and lambda_scale must be > 0, got "
                             f"{self.lambda_shift} and {self.lambda_scale}")
        if not -1 < self.min_scale <= self.max_scale:
            raise ValueError(f"need -1 < min_scale <= max_scale, got "
                             f"[{self.min_scale}, {self.max_scale}]")

    def shift(self, box: Box, image_width: int, image_height: int, rng: np.random.Generator,
              context_factor: float = CONTEXT_FACTOR) -> Box:
        """One shifted copy of ``box`` (see :meth:`shift_boxes`)."""
        shifted = self.shift_boxes(box.as_array(), image_width, image_height, rng, context_factor)
        return Box.from_array(shifted[0])

    def shift_boxes(self, boxes, image_width: int, image_height: int, rng: np.random.Generator,
                    context_factor: float = CONTEXT_FACTOR) -> np.ndarray:
        """Shift each of ``boxes`` (N, 4) independently: float64 (N, 4), inside the image.

        ``context_factor`` bounds the move: the new centre stays within the
        old box's search region (``context_factor / 2`` box sizes).  Bad boxes
        (non-finite, empty, outside the image) raise ValueError.
        """
        boxes = check_boxes(boxes, image_width, image_height)
        x1, y1, x2, y2 = boxes.T
        width, height = self._size(x2 - x1, image_width, rng), self._size(y2 - y1, image_height, rng)
        center_x = self._center((x1 + x2) / 2, x2 - x1, width, image_width, context_factor, rng)
        center_y = self._center((y1 + y2) / 2, y2 - y1, height, image_height, context_factor, rng)
        return np.stack([center_x - width / 2, center_y - height / 2,
                         center_x + width / 2, center_y + height / 2], axis=1)

    def _scale_change(self, count: int, rng: np.random.Generator) -> np.ndarray:
        if self.smooth:
            # Laplace(0, 1/lambda) is the authors' log(U) / lambda with a random sign.
            change = rng.laplace(0.0, 1.0 / self.lambda_scale, count)
            return np.clip(change, self.min_scale, self.max_scale)
        return rng.random(count) * (self.max_scale - self.min_scale) + self.min_scale

    def _size(self, size: np.ndarray, image_size: int, rng) -> np.ndarray:
        """New widths (or heights): scaled, then kept within [1, image_size - 1]."""
        limit = float(image_size - 1)

        def draw(rows):
            scaled = size[rows] * (1 + self._scale_change(rows.size, rng))
            return np.maximum(1.0, np.minimum(limit, scaled))

        # The authors' retry condition; after the clamp it only fires on 1-px images.
        return _retry(draw, lambda new, rows: (new < 0) | (new > limit), size.size)

    def _center(self, center: np.ndarray, size: np.ndarray, new_size: np.ndarray,
                image_size: int, context_factor: float, rng) -> np.ndarray:
        """New centres along one axis, the new box kept inside [0, image_size]."""
        reach = size * context_factor / 2   # the old search region's half size

        def draw(rows):
            if self.smooth:
                moved = center[rows] + size[rows] * rng.laplace(0.0, 1.0 / self.lambda_shift, rows.size)
            else:
                moved = center[rows] + rng.random(rows.size) * (2 * new_size[rows]) - new_size[rows]
            half = new_size[rows] / 2
            return np.minimum(image_size - half, np.maximum(half, moved))

        def rejected(new, rows):
            half = new_size[rows] / 2
            return ((new < center[rows] - reach[rows]) | (new > center[rows] + reach[rows])
                    | (new - half < 0) | (new + half > image_size))

        return _retry(draw, rejected, center.size)
