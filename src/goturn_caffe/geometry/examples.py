"""Training examples from one pair of frames: the authors' ``ExampleGenerator``.

For a pair (previous image and box, current image and box) the network sees
the target crop of the previous image at the previous box, and search crops of
the current image:

* the true example: the search region of the *previous* box (where the tracker
  would look), labelled with the current box in that crop;
* ``num_shifted`` (k3 = 10) shifted examples: the current box moved by the
  motion model, the search region cut around the moved box, labelled with the
  true current box in that crop.

A still image is its own pair (previous = current image and box), so its
examples teach the net about motion only through the shifts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from goturn_caffe.geometry.boxes import Box
from goturn_caffe.geometry.cropping import CONTEXT_FACTOR, SCALE_FACTOR, crop_and_resize, encode_box
from goturn_caffe.geometry.motion import MotionModel, check_boxes
from goturn_caffe.geometry.preprocess import INPUT_SIZE


def _check_frame(image: np.ndarray, what: str) -> None:
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
            and image.shape[2] == 3 and image.shape[0] and image.shape[1]):
        shape = getattr(image, "shape", type(image).__name__)
        dtype = getattr(image, "dtype", "")
        raise ValueError(f"{what} must be a BGR uint8 (H, W, 3) array, got {shape} {dtype}")


@dataclass(frozen=True)
class ExampleGenerator:
    """``make_examples(previous_image, previous_box, current_image, current_box, rng)``."""

    motion: MotionModel = MotionModel()
    num_shifted: int = 10                   # k3
    context_factor: float = CONTEXT_FACTOR
    scale_factor: float = SCALE_FACTOR

    def __post_init__(self):
        if self.num_shifted < 0:
            raise ValueError(f"num_shifted must be >= 0, got {self.num_shifted}")

    def make_examples(self, previous_image: np.ndarray, previous_box: Box,
                      current_image: np.ndarray, current_box: Box, rng: np.random.Generator):
        """``(targets, searches, labels)`` for 1 + num_shifted examples, the true one first.

        Images are BGR uint8 (H, W, 3).  Returns targets and searches
        (n, 227, 227, 3) uint8 and labels (n, 4) float32 (the current box in
        each search crop, in ``[0, scale_factor]`` units).  A box that is
        empty, non-finite or outside its image raises ValueError.
        """
        for image, box, what in ((previous_image, previous_box, "previous"),
                                 (current_image, current_box, "current")):
            _check_frame(image, f"{what} image")
            check_boxes(box.as_array(), image.shape[1], image.shape[0])
        height, width = current_image.shape[:2]
        shifted = self.motion.shift_boxes(
            np.repeat(current_box.as_array()[None], self.num_shifted, axis=0),
            width, height, rng, self.context_factor)
        search_boxes = [previous_box] + [Box(*row) for row in shifted]

        count = len(search_boxes)
        targets = np.empty((count, INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)
        searches = np.empty_like(targets)
        labels = np.empty((count, 4), dtype=np.float32)
        crop_and_resize(previous_image, previous_box, self.context_factor, out=targets[0])
        targets[1:] = targets[0]   # one target crop per pair, repeated for each example
        for i, box in enumerate(search_boxes):
            _, geometry = crop_and_resize(current_image, box, self.context_factor, out=searches[i])
            labels[i] = encode_box(current_box, geometry, self.scale_factor)
        return targets, searches, labels
