"""Trackers the VOT protocol can score, behind one ``init(image, box)`` /
``update(image) -> Box`` interface, and the registry the CLIs choose from.

- ``static``: the box never moves (the floor any tracker must beat);
- ``kcf`` / ``csrt``: OpenCV's KCF and CSRT (opencv-contrib), reference
  trackers from the same era as the paper's competitors;
- ``goturn``: :mod:`goturn_caffe.tracker` (imported only when chosen: it needs
  pycaffe and a trained model).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from goturn_caffe.boxes import Box

TRACKER_NAMES = ("static", "kcf", "csrt", "goturn")


class StaticTracker:
    """Reports the initial box on every frame. Needs no pixels."""

    uses_images = False

    def __init__(self):
        self.box: Optional[Box] = None

    def init(self, image, box: Box) -> None:
        self.box = box

    def update(self, image) -> Box:
        return self.box


class OpenCVTracker:
    """An OpenCV ``cv2.Tracker`` (KCF, CSRT, ...) behind the protocol's interface.

    OpenCV trackers take integer ``(x, y, w, h)`` rectangles: the box is rounded
    to the nearest pixel, at least 1 x 1. When OpenCV reports a lost target the
    last box is kept (the protocol decides failure by overlap).
    """

    def __init__(self, create):
        self.create = create
        self.tracker = None
        self.box: Optional[Box] = None

    def init(self, image: np.ndarray, box: Box) -> None:
        self.tracker = self.create()
        x, y = int(round(box.x1)), int(round(box.y1))
        w, h = max(1, int(round(box.width))), max(1, int(round(box.height)))
        self.tracker.init(image, (x, y, w, h))
        self.box = Box.from_xywh(x, y, w, h)

    def update(self, image: np.ndarray) -> Box:
        ok, rect = self.tracker.update(image)
        if ok:
            self.box = Box.from_xywh(*rect)
        return self.box


def _opencv_factory(name: str):
    import cv2

    constructors = {"kcf": "TrackerKCF_create", "csrt": "TrackerCSRT_create"}
    create = getattr(cv2, constructors[name], None)
    if create is None:
        raise RuntimeError(f"cv2.{constructors[name]} is missing: install opencv-contrib-python-headless "
                           f"(the plain opencv-python wheel has no {name.upper()} tracker)")
    return create


def create_tracker(name: str, deploy: Optional[str] = None, weights: Optional[str] = None,
                   gpu: Optional[int] = None, model_format: str = "goturn",
                   engine: str = "default"):
    """A fresh tracker by registry name (see ``TRACKER_NAMES``).

    ``deploy`` / ``weights`` / ``gpu`` / ``model_format`` / ``engine`` are for ``goturn`` only
    (defaults: the package's deploy prototxt and trained model).
    """
    if name == "static":
        return StaticTracker()
    if name in ("kcf", "csrt"):
        return OpenCVTracker(_opencv_factory(name))
    if name == "goturn":
        from goturn_caffe.net import DEPLOY_PROTOTXT, TRAINED_MODEL
        from goturn_caffe.tracker import make_tracker

        return make_tracker(deploy or DEPLOY_PROTOTXT, weights or TRAINED_MODEL, gpu=gpu,
                            model_format=model_format, engine=engine)
    raise ValueError(f"unknown tracker {name!r}: choose one of {', '.join(TRACKER_NAMES)}")
