"""The GOTURN tracker: frame -> crop around the previous box -> network -> box.

The authors' semantics, exactly: the target crop comes from the previous frame
at the previous estimate, the search crop from the current frame at the same
box; the network's output (in the search crop's [0, 10] coordinates) is
mapped back through the same crop geometry; no motion model, no online update
(unless asked, see :mod:`goturn_caffe.track.finetune`).

:class:`BatchedTracker` tracks N targets (in one video or across videos) with
one forward of batch N (the :class:`~goturn_caffe.track.base.BatchTracker`
interface); :class:`GoturnTracker` is its N = 1 case, a
:class:`~goturn_caffe.track.base.Tracker`.  Both take a loaded deploy net;
:func:`goturn_caffe.track.builder.build_tracker` loads it from files.
"""

from __future__ import annotations

import time
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

from goturn_caffe.geometry.boxes import Box
from goturn_caffe.geometry.cropping import crop_and_resize, decode_box
from goturn_caffe.geometry.preprocess import INPUT_SIZE, preprocess_batch
from goturn_caffe.track.base import BatchTracker, PerTargetTrackers, Tracker, check_init_box


class BatchedTracker(BatchTracker):
    """N targets, one forward of batch N per step.

    ``net`` is a deploy ``caffe.Net`` with inputs ``input_names`` (target crop,
    search crop) and output ``output_name``.  Timings of the last step are in
    ``last_timing`` (seconds: crop+preprocess, network, decode).
    """

    def __init__(self, net, input_names=("target", "image"), output_name="fc8"):
        self.net = net
        self.target_input, self.search_input = input_names
        self.output_name = output_name
        self.previous_frames: list = []
        self.boxes: list = []
        self.last_timing = {}
        self._crops = np.empty((2, 0, INPUT_SIZE, INPUT_SIZE, 3), np.uint8)

    @property
    def size(self) -> int:
        return len(self.boxes)

    @property
    def uses_target(self) -> bool:
        """False for the current-frame-only variant (the paper's Figure 7)."""
        return self.target_input in self.net.blobs

    def _reshape(self, n: int) -> None:
        for name in (self.target_input, self.search_input)[0 if self.uses_target else 1:]:
            blob = self.net.blobs[name]
            if blob.data.shape[0] != n:
                blob.reshape(n, *blob.data.shape[1:])

    def init_batch(self, frames: Sequence[np.ndarray], boxes: Sequence[Box]) -> None:
        if len(frames) != len(boxes):
            raise ValueError(f"{len(frames)} frames for {len(boxes)} boxes")
        for frame, box in zip(frames, boxes):
            check_init_box(box, frame)
        self.previous_frames = list(frames)
        self.boxes = [Box(*b.as_array()) for b in boxes]
        self._reshape(len(boxes))

    def update_batch(self, frames: Sequence[np.ndarray]) -> list:
        """One step for every target: ``frames[i]`` is target i's current frame."""
        if len(frames) != self.size:
            raise ValueError(f"{len(frames)} frames for {self.size} targets")
        start = time.perf_counter()
        if self._crops.shape[1] != self.size:  # (2, N, 227, 227, 3): target and search crops
            self._crops = np.empty((2, self.size, INPUT_SIZE, INPUT_SIZE, 3), np.uint8)
        geometries = []
        for i, (previous, frame, box) in enumerate(zip(self.previous_frames, frames, self.boxes)):
            # Target: previous frame at the previous estimate; search: current frame
            # at the same box (the authors' tracker: no motion model).
            if self.uses_target:
                crop_and_resize(previous, box, out=self._crops[0, i])
            geometries.append(crop_and_resize(frame, box, out=self._crops[1, i])[1])
        if self.uses_target:
            preprocess_batch(self._crops[0], out=self.net.blobs[self.target_input].data)
        preprocess_batch(self._crops[1], out=self.net.blobs[self.search_input].data)
        prepared = time.perf_counter()
        outputs = self.net.forward()[self.output_name].reshape(self.size, -1)
        network = time.perf_counter()
        self.boxes = [decode_box(out[:4], geometry) for out, geometry in zip(outputs, geometries)]
        self.previous_frames = list(frames)
        self.last_timing = {"preprocess": prepared - start, "network": network - prepared,
                            "decode": time.perf_counter() - network}
        return list(self.boxes)


class GoturnTracker(Tracker):
    """One target on a loaded deploy ``net``: ``init(frame, box)``, ``update(frame) -> Box``.
    Frames are BGR uint8 (H, W, 3) as cv2 reads them."""

    def __init__(self, net):
        self.batch = BatchedTracker(net)

    @property
    def net(self):
        return self.batch.net

    @property
    def last_timing(self) -> dict:
        return self.batch.last_timing

    def init(self, frame: np.ndarray, box: Box) -> None:
        self.batch.init_batch([frame], [box])

    def update(self, frame: np.ndarray) -> Box:
        return self.batch.update_batch([frame])[0]


class TrackResult:
    """Boxes per frame (the initial box first), frames skipped, and timings."""

    def __init__(self):
        self.boxes: list = []
        self.skipped: list = []        # indices of frames that failed to decode
        self.network_seconds = 0.0     # forward passes only
        self.total_seconds = 0.0       # decode + crop + preprocess + forward + decode box
        self.tracked_frames = 0        # frames that went through the network

    @property
    def network_fps(self) -> float:
        return self.tracked_frames / self.network_seconds if self.network_seconds else 0.0

    @property
    def end_to_end_fps(self) -> float:
        return self.tracked_frames / self.total_seconds if self.total_seconds else 0.0


def track_targets(tracker: BatchTracker, frames: Iterable, boxes: Sequence[Box],
                  on_boxes: Optional[Callable] = None) -> TrackResult:
    """Track every target through ``frames``, pairs ``(frame number, BGR image or
    None)``, starting from ``boxes`` on the first: one ``update_batch`` per frame.

    ``result.boxes[t]`` is the list of the targets' boxes on the t-th frame seen.  A
    frame that failed to decode (None) keeps every box and is listed in
    ``result.skipped``.  ``on_boxes(number, frame, boxes)`` is called for each
    frame; when it returns True, tracking stops there (a live window's ``q``).
    """
    result = TrackResult()
    clock = time.perf_counter()
    for number, frame in frames:
        if frame is None:
            if not result.boxes:
                raise ValueError("the first frame cannot be decoded: nothing to initialise on")
            result.skipped.append(number)
            current = result.boxes[-1]
        elif not result.boxes:
            tracker.init_batch([frame] * len(boxes), list(boxes))
            current = list(boxes)
        else:
            current = tracker.update_batch([frame] * len(boxes))
            if tracker.last_timing:
                result.network_seconds += tracker.last_timing["network"]
            result.tracked_frames += 1
        result.boxes.append(current)
        now = time.perf_counter()
        if len(result.boxes) > 1:
            result.total_seconds += now - clock
        stop = on_boxes(number, frame, current) if on_boxes is not None else False
        clock = time.perf_counter()
        if stop:
            break
    return result


def track_sequence(tracker: Tracker, frames, init_box: Box, on_box=None) -> TrackResult:
    """Track one target through ``frames`` (an iterable of BGR images or None for a
    frame that failed to decode) from ``init_box`` on the first frame: the one-target
    case of :func:`track_targets`, with ``result.boxes`` one box per frame.

    A frame that failed to decode is skipped: its box is the last one, and its
    index is recorded.  ``on_box(index, frame, box)`` is called for every frame
    (for writing output as it goes).
    """
    def on_boxes(index, frame, boxes):
        on_box(index, frame, boxes[0])

    result = track_targets(PerTargetTrackers(lambda: tracker, max_size=1), enumerate(frames),
                           [init_box], on_boxes if on_box is not None else None)
    result.boxes = [boxes[0] for boxes in result.boxes]
    return result
