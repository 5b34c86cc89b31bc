"""Reference trackers to score GOTURN against, behind the same :class:`Tracker` interface.

- :class:`StaticTracker`: the box never moves (the floor any tracker must beat);
- :class:`OpenCVTracker`: OpenCV's KCF and CSRT (opencv-contrib), trackers from
  the same era as the paper's competitors.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from goturn_caffe.geometry.boxes import Box, pixel_rect
from goturn_caffe.track.base import Tracker

# registry name -> the cv2 function that makes a fresh tracker of that kind
OPENCV_CONSTRUCTORS = {"kcf": "TrackerKCF_create", "csrt": "TrackerCSRT_create"}


class StaticTracker(Tracker):
    """Reports the initial box on every frame. Needs no pixels."""

    uses_images = False

    def __init__(self):
        self.box: Optional[Box] = None

    def init(self, frame, box: Box) -> None:
        self.box = box

    def update(self, frame) -> Box:
        return self.box


class OpenCVTracker(Tracker):
    """An OpenCV ``cv2.Tracker`` (KCF, CSRT, ...) made by ``create()``.

    OpenCV trackers take integer ``(x, y, w, h)`` rectangles: the box is rounded
    to the nearest pixel, at least 1 x 1. When OpenCV reports a lost target the
    last box is kept (the protocol decides failure by overlap).
    """

    def __init__(self, create):
        self.create = create
        self.tracker = None
        self.box: Optional[Box] = None

    def init(self, frame: np.ndarray, box: Box) -> None:
        self.tracker = self.create()
        rect = pixel_rect(box, "nearest", min_size=1)
        self.tracker.init(frame, rect)
        self.box = Box.from_xywh(*rect)

    def update(self, frame: np.ndarray) -> Box:
        ok, rect = self.tracker.update(frame)
        if ok:
            self.box = Box.from_xywh(*rect)
        return self.box


def opencv_constructor(name: str):
    """The cv2 function that makes a fresh ``name`` tracker (a key of
    :data:`OPENCV_CONSTRUCTORS`); RuntimeError naming the wheel to install when
    this OpenCV lacks it."""
    import cv2

    create = getattr(cv2, OPENCV_CONSTRUCTORS[name], None)
    if create is None:
        raise RuntimeError(f"cv2.{OPENCV_CONSTRUCTORS[name]} is missing: install "
                           f"opencv-contrib-python-headless (the plain opencv-python wheel has "
                           f"no {name.upper()} tracker)")
    return create
