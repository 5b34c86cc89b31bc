"""The tracker interface: what ``tools/track.py``, the VOT protocol, the TraX
server and the benchmarks call, whatever tracker is behind it.

:class:`Tracker` follows one target: ``init(frame, box)`` on the first frame,
then ``update(frame) -> Box`` on each next one.  :class:`BatchTracker` follows
N targets with one step for all of them: ``init_batch(frames, boxes)``, then
``update_batch(frames) -> [Box] * N`` (``frames[i]`` is target i's frame, so
the targets may come from different videos).  The two have different method
names on purpose: a batch tracker is not a single-target one;
:class:`PerTargetTrackers` makes N single-target trackers into a batch one.

Frames are BGR uint8 ``(H, W, 3)`` arrays as ``cv2.imread`` gives them; boxes
are :class:`~goturn_caffe.geometry.boxes.Box` in the frame's pixels.

Every tracker builds from :func:`goturn_caffe.track.builder.build_tracker`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable, Optional, Sequence

import numpy as np

from goturn_caffe.geometry.boxes import Box

TIMING_KEYS = ("preprocess", "network", "decode")


class Tracker(ABC):
    """One target: ``init(frame, box)``, then ``update(frame) -> Box`` per frame."""

    #: False for a tracker that never looks at the pixels (the static box):
    #: callers may then skip decoding frames and pass None.
    uses_images: bool = True

    #: Seconds spent in the last ``update``, as ``{"preprocess": ..., "network":
    #: ..., "decode": ...}`` (crop + preprocessing, the forward pass, the box
    #: decoding; see :data:`TIMING_KEYS`); ``{}`` before the first update; None for
    #: trackers that do not time themselves (the reference trackers).
    last_timing: Optional[dict] = None

    @abstractmethod
    def init(self, frame: Optional[np.ndarray], box: Box) -> None:
        """Start (or restart) on ``frame`` at ``box``."""

    @abstractmethod
    def update(self, frame: Optional[np.ndarray]) -> Box:
        """The target's box in the next ``frame``."""


class BatchTracker(ABC):
    """N targets, one step for all: ``init_batch(frames, boxes)``, then
    ``update_batch(frames) -> list[Box]``; ``last_timing`` as :class:`Tracker`'s,
    for the whole step."""

    last_timing: Optional[dict] = None

    @property
    @abstractmethod
    def size(self) -> int:
        """How many targets are being tracked."""

    @abstractmethod
    def init_batch(self, frames: Sequence[np.ndarray], boxes: Sequence[Box]) -> None:
        """Start target i on ``frames[i]`` at ``boxes[i]`` (the batch size becomes ``len(boxes)``)."""

    @abstractmethod
    def update_batch(self, frames: Sequence[np.ndarray]) -> list:
        """One step for every target: ``frames[i]`` is target i's next frame."""


#: An initial box may be at most this many times the frame's width / height: the
#: search crop is twice the box, so a huge box would need a huge canvas.
MAX_BOX_TO_FRAME = 2.0


class PerTargetTrackers(BatchTracker):
    """A :class:`BatchTracker` made of one single-target :class:`Tracker` per target,
    stepped one after the other (OpenCV's model, whose loop has no batched form).
    ``make_tracker()`` returns a fresh tracker; they may share one net."""

    def __init__(self, make_tracker: Callable[[], Tracker], max_size: Optional[int] = None):
        self.make_tracker, self.max_size = make_tracker, max_size
        self.trackers: list = []
        self.last_timing = {}

    @property
    def size(self) -> int:
        return len(self.trackers)

    def init_batch(self, frames, boxes) -> None:
        if len(frames) != len(boxes):
            raise ValueError(f"{len(frames)} frames for {len(boxes)} boxes")
        if self.max_size is not None and len(boxes) > self.max_size:
            raise ValueError(f"this tracker follows at most {self.max_size} target(s)")
        self.trackers = [self.make_tracker() for _ in boxes]
        for tracker, frame, box in zip(self.trackers, frames, boxes):
            tracker.init(frame, box)

    def update_batch(self, frames) -> list:
        if len(frames) != self.size:
            raise ValueError(f"{len(frames)} frames for {self.size} targets")
        boxes, timing = [], {}
        for tracker, frame in zip(self.trackers, frames):
            boxes.append(tracker.update(frame))
            for key, seconds in (tracker.last_timing or {}).items():
                timing[key] = timing.get(key, 0.0) + seconds
        self.last_timing = timing if timing else None
        return boxes


def check_init_box(box: Box, frame: np.ndarray, where: str = "initial box") -> None:
    """A clear error for a box a tracker cannot start from (before anything is cropped)."""
    height, width = frame.shape[:2]
    if not box.is_valid():
        raise ValueError(f"{where} {box.to_xywh()} has zero or negative size")
    if not box.overlaps_image(width, height):
        raise ValueError(f"{where} {box.to_xywh()} lies outside the {width}x{height} frame")
    if box.width > MAX_BOX_TO_FRAME * width or box.height > MAX_BOX_TO_FRAME * height:
        raise ValueError(f"{where} {box.to_xywh()} is more than {MAX_BOX_TO_FRAME:g} times "
                         f"the size of the {width}x{height} frame")
