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


# CSRT stops on an OpenCV assertion when less than a few pixels of the target are
# inside the frame in either direction (a 1-px-wide box, or one hanging off the
# edge), and crashes the process (segmentation fault) on a box wholly outside it;
# such a box is started from its visible part grown to this size.
MIN_VISIBLE_SIDE = 4


def visible_sides(rect: tuple, frame_shape: tuple) -> tuple:
    """How many columns and rows of integer ``rect`` (x, y, w, h) are inside the frame."""
    height, width = frame_shape[:2]
    x, y, w, h = rect
    return (max(0, min(x + w, width) - max(x, 0)), max(0, min(y + h, height) - max(y, 0)))


def visible_rect(rect: tuple, frame_shape: tuple, side: int = MIN_VISIBLE_SIDE) -> tuple:
    """``rect`` (integer x, y, w, h) cut to the frame, then grown about its centre to at
    least ``side`` x ``side`` pixels, still inside the frame (a frame smaller than
    ``side`` gives the whole frame)."""
    height, width = frame_shape[:2]
    x, y, w, h = rect
    spans = []
    for start, length, limit in ((x, w, width), (y, h, height)):
        low = min(max(start, 0), limit - 1)
        high = max(min(start + length, limit), low + 1)
        size = min(max(high - low, side), limit)
        low = min(max((low + high - size) // 2, 0), limit - size)
        spans.append((low, size))
    (x, w), (y, h) = spans
    return x, y, w, h


class OpenCVTracker(Tracker):
    """An OpenCV ``cv2.Tracker`` (KCF, CSRT, ...) made by ``create()``.

    OpenCV trackers take integer ``(x, y, w, h)`` rectangles: the box is rounded
    to the nearest pixel, at least 1 x 1. When OpenCV reports a lost target the
    last box is kept (the protocol decides failure by overlap).  A box OpenCV
    refuses to start from (CSRT on a target that is barely inside the frame) is
    started from :func:`visible_rect` of it; one refused even then, or an update
    OpenCV fails on, keeps the last box: reported as a box that does not move,
    never as a crash of the whole run.
    """

    def __init__(self, create):
        self.create = create
        self.tracker = None
        self.box: Optional[Box] = None

    def init(self, frame: np.ndarray, box: Box) -> None:
        import cv2

        rect = pixel_rect(box, "nearest", min_size=1)
        self.box = Box.from_xywh(*rect)
        starts = [visible_rect(rect, frame.shape)]
        if min(visible_sides(rect, frame.shape)) >= MIN_VISIBLE_SIDE:
            starts.insert(0, rect)      # the box as given: every ordinary box
        for start in starts:
            self.tracker = self.create()
            try:
                self.tracker.init(frame, start)
                return
            except cv2.error:
                continue
        self.tracker = None

    def update(self, frame: np.ndarray) -> Box:
        import cv2

        if self.tracker is None:
            return self.box
        try:
            ok, rect = self.tracker.update(frame)
        except cv2.error:
            ok = False
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
