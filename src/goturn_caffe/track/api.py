"""Tracking from a Python script: open a model, then ``init`` / ``update``.

>>> import cv2
>>> from goturn_caffe import Box, open_tracker
>>> tracker = open_tracker()          # the best model you have (see choose_model)
>>> tracker.init(cv2.imread("frame0.jpg"), Box.from_xywh(120, 80, 60, 40))
>>> x, y, w, h = tracker.update(cv2.imread("frame1.jpg")).to_xywh()

Frames are BGR ``uint8`` arrays as ``cv2.imread`` or ``cv2.VideoCapture.read``
give them; grey, BGRA and 16-bit arrays are converted as ``tools/track.py``
converts such image files (:func:`~goturn_caffe.datasets.image_io.as_bgr_image`).
A box is a :class:`~goturn_caffe.geometry.boxes.Box` or an ``(x, y, w, h)``
tuple.  Anything else (None, a float image, ``update`` before ``init``) is a
ValueError that says what is expected.  The box returned is always at least
1 x 1 pixel inside the frame: where the network's estimate is not (an empty or
inverted box, or one off the frame), the nearest such box is returned and the
tracker goes on from it.  :func:`open_batch_tracker` follows several targets
with one forward pass per step: ``init_batch(frames, boxes)``, then
``update_batch(frames) -> [Box]`` (``frames[i]`` is target i's frame, so the
targets may come from different videos).

With no ``weights``, :func:`choose_model` picks, in this order: your own
trained ``models/goturn.caffemodel``; OpenCV's trained GOTURN from ``make
model`` (``models/opencv/goturn.caffemodel``, OpenCV's architecture); the
demonstration model of ``make demo`` (untrained in all but name: it shows the
pipeline, it does not track).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from goturn_caffe.datasets.image_io import as_bgr_image
from goturn_caffe.geometry.boxes import Box
from goturn_caffe.model.net import DEMO_MODEL, MODELS_DIR, OPENCV_MODEL, TRAINED_MODEL, ModelError
from goturn_caffe.track.base import BatchTracker, Tracker, check_init_box
from goturn_caffe.track.builder import build_targets_tracker, build_tracker

GET_A_MODEL = ("`make model` downloads OpenCV's trained GOTURN, or tools/train.py trains "
               "the authors' network into models/goturn.caffemodel")


@dataclass(frozen=True)
class ModelChoice:
    """Which weights a run uses, and in which layout."""

    kind: str             # "trained", "opencv", "demonstration" or "given"
    weights: Path
    model_format: str     # "goturn" (the authors' layout) or "opencv"

    @property
    def label(self) -> str:
        """What the model is, in words, for the user."""
        return {
            "trained": f"your trained model {self.weights} (the authors' architecture)",
            "opencv": f"OpenCV's trained GOTURN network {self.weights} (OpenCV's architecture, "
                      "--model-format opencv)",
            "demonstration": f"the DEMONSTRATION model {self.weights} (a short run on the "
                             "bundled sample: untrained for tracking)",
            "given": f"the weights {self.weights} ({self.model_format} layout)",
        }[self.kind]

    @property
    def untrained(self) -> bool:
        return self.kind == "demonstration"


def choose_model(models_dir=None, model_format: Optional[str] = None) -> Optional[ModelChoice]:
    """The first model present under ``models_dir`` (default models/): your own
    training, OpenCV's (``make model``), the demonstration model (``make demo``);
    only those in ``model_format`` when it is given; None when there is none.
    The one order every tool, the demo and the API use."""
    root = Path(models_dir) if models_dir is not None else MODELS_DIR
    candidates = (("trained", TRAINED_MODEL, "goturn"), ("opencv", OPENCV_MODEL, "opencv"),
                  ("demonstration", DEMO_MODEL, "goturn"))
    for kind, default, candidate_format in candidates:
        path = root / default.relative_to(MODELS_DIR)
        if model_format in (None, candidate_format) and path.is_file():
            return ModelChoice(kind, path, candidate_format)
    return None


def resolve_model(weights=None, model_format: Optional[str] = None,
                  models_dir=None) -> ModelChoice:
    """``weights`` (in ``model_format``, default the authors' layout), else
    :func:`choose_model`; ModelError saying how to get a model when there is none."""
    if weights is not None:
        return ModelChoice("given", Path(weights), model_format or "goturn")
    choice = choose_model(models_dir, model_format)
    if choice is None:
        where = Path(models_dir) if models_dir is not None else MODELS_DIR
        raise ModelError(f"{where}: no model to track with; {GET_A_MODEL}")
    return choice


def as_box(box, where: str = "box") -> Box:
    """A :class:`Box`, or an ``(x, y, w, h)`` sequence as ``--box x,y,w,h`` takes it,
    -> Box; ValueError saying what is expected otherwise."""
    if isinstance(box, Box):
        return box
    try:
        values = np.asarray(box, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        values = np.empty(0)
    if values.size != 4:
        raise ValueError(f"{where} {box!r}: expected a Box or an (x, y, w, h) tuple of 4 numbers")
    return Box.from_xywh(*values)


def box_in_frame(box: Box, width: int, height: int) -> Box:
    """``box`` when it is at least 1 x 1 pixel and overlaps the ``width`` x ``height``
    frame; else the nearest such box: clipped to the frame, each side at least one
    pixel long around the clipped centre."""
    if box.width >= 1 and box.height >= 1 and box.overlaps_image(width, height):
        return box
    clipped = box.clip(width, height)

    def side(low: float, high: float, size: int) -> tuple:
        if high - low >= 1:
            return low, high
        centre = min(max((low + high) / 2, 0.5), size - 0.5)
        return centre - 0.5, centre + 0.5

    (x1, x2), (y1, y2) = side(clipped.x1, clipped.x2, width), side(clipped.y1, clipped.y2, height)
    return Box(x1, y1, x2, y2)


class ScriptTracker(Tracker):
    """What :func:`open_tracker` returns: ``tracker`` behind the checks and conversions
    of the module doc.  ``model`` says which weights it runs."""

    def __init__(self, tracker: Tracker, model: Optional[ModelChoice] = None):
        self.tracker, self.model = tracker, model
        self.box: Optional[Box] = None

    @property
    def last_timing(self):
        return self.tracker.last_timing

    def init(self, frame, box) -> None:
        frame = as_bgr_image(frame, "init()'s frame")
        box = as_box(box, "init()'s box")
        check_init_box(box, frame, "init()'s box")
        self.tracker.init(frame, box)
        self.box = box

    def update(self, frame) -> Box:
        if self.box is None:
            raise ValueError("update() before init(): start with init(frame, box) on the first frame")
        frame = as_bgr_image(frame, "update()'s frame")
        estimate = self.tracker.update(frame)
        self.box = box_in_frame(estimate, frame.shape[1], frame.shape[0])
        if self.box != estimate:    # go on from the box returned, not from an empty one
            self.tracker.init(frame, self.box)
        return self.box


class ScriptBatchTracker(BatchTracker):
    """What :func:`open_batch_tracker` returns: ``tracker`` behind the same checks and
    conversions, per target."""

    def __init__(self, tracker: BatchTracker, model: Optional[ModelChoice] = None):
        self.tracker, self.model = tracker, model
        self.boxes: Optional[list] = None

    @property
    def size(self) -> int:
        return self.tracker.size

    @property
    def last_timing(self):
        return self.tracker.last_timing

    def init_batch(self, frames: Sequence, boxes: Sequence) -> None:
        frames, boxes = self._frames(frames, "init_batch()"), list(boxes)
        if len(frames) != len(boxes):
            raise ValueError(f"init_batch(): {len(frames)} frames for {len(boxes)} boxes")
        boxes = [as_box(box, f"init_batch()'s box {i}") for i, box in enumerate(boxes)]
        for i, (frame, box) in enumerate(zip(frames, boxes)):
            check_init_box(box, frame, f"init_batch()'s box {i}")
        self.tracker.init_batch(frames, boxes)
        self.boxes = boxes

    def update_batch(self, frames: Sequence) -> list:
        if self.boxes is None:
            raise ValueError("update_batch() before init_batch(): start with "
                             "init_batch(frames, boxes) on the first frames")
        frames = self._frames(frames, "update_batch()")
        estimates = self.tracker.update_batch(frames)
        self.boxes = [box_in_frame(box, frame.shape[1], frame.shape[0])
                      for box, frame in zip(estimates, frames)]
        if self.boxes != estimates:
            self.tracker.init_batch(frames, self.boxes)
        return list(self.boxes)

    @staticmethod
    def _frames(frames: Sequence, where: str) -> list:
        if frames is None or isinstance(frames, np.ndarray):
            raise ValueError(f"{where} takes a list of frames, one per target")
        return [as_bgr_image(frame, f"{where}'s frame {i}") for i, frame in enumerate(frames)]


def open_tracker(weights=None, model_format: Optional[str] = None, gpu: Optional[int] = None,
                 engine: str = "default", models_dir=None, backend: str = "caffe",
                 deploy=None) -> Tracker:
    """A single-target :class:`~goturn_caffe.track.base.Tracker`: ``init(frame, box)``,
    then ``update(frame) -> Box`` (frames and boxes as the module doc says).
    ``weights`` None: :func:`choose_model`; ``backend`` ``onnxruntime``: the same
    boxes on the CPU without Caffe's net
    (:func:`~goturn_caffe.track.builder.build_tracker`); ``deploy`` None: the model
    format's architecture; ``gpu`` None: the CPU."""
    choice = resolve_model(weights, model_format, models_dir)
    return ScriptTracker(build_tracker("goturn", deploy=deploy, weights=choice.weights, gpu=gpu,
                                       model_format=choice.model_format, engine=engine,
                                       backend=backend), choice)


def open_batch_tracker(weights=None, model_format: Optional[str] = None,
                       gpu: Optional[int] = None, engine: str = "default",
                       models_dir=None, backend: str = "caffe", deploy=None) -> BatchTracker:
    """A :class:`~goturn_caffe.track.base.BatchTracker` for several targets:
    ``init_batch(frames, boxes)``, then ``update_batch(frames) -> [Box]``; the
    options, frames and boxes as :func:`open_tracker`'s."""
    choice = resolve_model(weights, model_format, models_dir)
    return ScriptBatchTracker(build_targets_tracker(deploy=deploy, weights=choice.weights, gpu=gpu,
                                                    model_format=choice.model_format, engine=engine,
                                                    backend=backend), choice)
