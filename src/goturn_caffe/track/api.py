"""Tracking from a Python script: open a model, then ``init`` / ``update``.

>>> import cv2
>>> from goturn_caffe import Box, open_tracker
>>> tracker = open_tracker()          # the best model you have (see choose_model)
>>> tracker.init(cv2.imread("frame0.jpg"), Box.from_xywh(120, 80, 60, 40))
>>> x, y, w, h = tracker.update(cv2.imread("frame1.jpg")).to_xywh()

Frames are BGR ``uint8`` arrays as ``cv2.imread`` or ``cv2.VideoCapture.read``
give them.  :func:`open_batch_tracker` follows several targets with one
forward pass per step: ``init_batch(frames, boxes)``, then
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
from typing import Optional

from goturn_caffe.model.net import DEMO_MODEL, MODELS_DIR, OPENCV_MODEL, TRAINED_MODEL, ModelError
from goturn_caffe.track.base import BatchTracker, Tracker
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


def open_tracker(weights=None, model_format: Optional[str] = None, gpu: Optional[int] = None,
                 engine: str = "default", models_dir=None, backend: str = "caffe",
                 deploy=None) -> Tracker:
    """A single-target :class:`~goturn_caffe.track.base.Tracker`: ``init(frame, box)``,
    then ``update(frame) -> Box``.  ``weights`` None: :func:`choose_model`;
    ``backend`` ``onnxruntime``: the same boxes on the CPU without Caffe's net
    (:func:`~goturn_caffe.track.builder.build_tracker`); ``deploy`` None: the model
    format's architecture; ``gpu`` None: the CPU."""
    choice = resolve_model(weights, model_format, models_dir)
    return build_tracker("goturn", deploy=deploy, weights=choice.weights, gpu=gpu,
                         model_format=choice.model_format, engine=engine, backend=backend)


def open_batch_tracker(weights=None, model_format: Optional[str] = None,
                       gpu: Optional[int] = None, engine: str = "default",
                       models_dir=None, backend: str = "caffe", deploy=None) -> BatchTracker:
    """A :class:`~goturn_caffe.track.base.BatchTracker` for several targets:
    ``init_batch(frames, boxes)``, then ``update_batch(frames) -> [Box]``; the
    options as :func:`open_tracker`'s."""
    choice = resolve_model(weights, model_format, models_dir)
    return build_targets_tracker(deploy=deploy, weights=choice.weights, gpu=gpu,
                                 model_format=choice.model_format, engine=engine, backend=backend)
