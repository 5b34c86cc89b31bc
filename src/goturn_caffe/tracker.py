"""The GOTURN tracker: frame -> crop around the previous box -> network -> box.

The authors' semantics, exactly: the target crop comes from the previous frame
at the previous estimate, the search crop from the current frame at the same
box; the network's output (in the search crop's [0, 10] coordinates) is
mapped back through the same crop geometry; no motion model, no online update
(unless asked, see :mod:`goturn_caffe.finetune`).

:class:`BatchedTracker` tracks N targets (in one video or across videos) with
one forward of batch N; :class:`GoturnTracker` is its N = 1 case with the
``init(frame, box)`` / ``update(frame) -> box`` interface the VOT protocol uses.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from goturn_caffe.boxes import Box
from goturn_caffe.caffe_env import select_device
from goturn_caffe.cropping import crop_and_resize, decode_box
from goturn_caffe.net import DEPLOY_PROTOTXT, TRAINED_MODEL, check_engine, load_net
from goturn_caffe.preprocess import INPUT_SIZE, preprocess_batch


def check_init_box(box: Box, frame: np.ndarray, where: str = "initial box") -> None:
    """A clear error for a box the tracker cannot start from."""
    height, width = frame.shape[:2]
    if not box.is_valid():
        raise ValueError(f"{where} {box.to_xywh()} has zero or negative size")
    if box.x2 <= 0 or box.y2 <= 0 or box.x1 >= width or box.y1 >= height:
        raise ValueError(f"{where} {box.to_xywh()} lies outside the {width}x{height} frame")


class BatchedTracker:
    """N targets, one forward of batch N per step.

    ``net`` is a deploy ``caffe.Net`` with inputs ``target`` and ``image`` and
    output ``fc8`` (or see ``model_format``).  Timings of the last update are in
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

    def init(self, frames: Sequence[np.ndarray], boxes: Sequence[Box]) -> None:
        if len(frames) != len(boxes):
            raise ValueError(f"{len(frames)} frames for {len(boxes)} boxes")
        for frame, box in zip(frames, boxes):
            check_init_box(box, frame)
        self.previous_frames = list(frames)
        self.boxes = [Box(*b.as_array()) for b in boxes]
        self._reshape(len(boxes))

    def update(self, frames: Sequence[np.ndarray]) -> list:
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


class GoturnTracker:
    """``GoturnTracker(deploy_prototxt, weights, gpu=None)``; ``init(frame, box)``,
    ``update(frame) -> Box``.  Frames are BGR uint8 (H, W, 3) as cv2 reads them.
    ``engine`` picks Caffe's layer implementations (:data:`goturn_caffe.net.ENGINES`)."""

    def __init__(self, deploy_prototxt=DEPLOY_PROTOTXT, weights=TRAINED_MODEL,
                 gpu: Optional[int] = None, net=None, engine: str = "default"):
        if net is None:
            check_engine(engine, gpu)
            select_device(gpu)
            net = load_net(Path(deploy_prototxt), weights, engine=engine)
        self.batch = BatchedTracker(net)

    @property
    def net(self):
        return self.batch.net

    @property
    def last_timing(self) -> dict:
        return self.batch.last_timing

    def init(self, frame: np.ndarray, box: Box) -> None:
        self.batch.init([frame], [box])

    def update(self, frame: np.ndarray) -> Box:
        return self.batch.update([frame])[0]


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


def track_sequence(tracker, frames, init_box: Box, on_box=None) -> TrackResult:
    """Track through ``frames`` (an iterable of BGR images or None for a frame
    that failed to decode) from ``init_box`` on the first frame.

    A frame that failed to decode is skipped: its box is the last one, and its
    index is recorded.  ``on_box(index, frame, box)`` is called for every frame
    (for writing output as it goes).
    """
    result = TrackResult()
    frames = iter(frames)
    clock = time.perf_counter()
    for index, frame in enumerate(frames):
        if frame is None:
            if not result.boxes:
                raise ValueError("the first frame cannot be decoded: nothing to initialise on")
            result.skipped.append(index)
            box = result.boxes[-1]
        elif not result.boxes:
            tracker.init(frame, init_box)
            box = init_box
        else:
            box = tracker.update(frame)
            result.network_seconds += tracker.last_timing["network"]
            result.tracked_frames += 1
        result.boxes.append(box)
        now = time.perf_counter()
        if index:
            result.total_seconds += now - clock
        if on_box is not None:
            on_box(index, frame, box)
        clock = time.perf_counter()
    return result


def make_tracker(deploy, weights, gpu: Optional[int] = None, model_format: str = "goturn",
                 finetune: bool = False, engine: str = "default"):
    """A tracker for the authors' model layout, or for OpenCV's GOTURN model files;
    ``finetune`` adds the paper's online fine-tuning (Appendix B)."""
    if finetune:
        if model_format != "goturn":
            raise ValueError("online fine-tuning needs the authors' model layout (--model-format goturn)")
        from goturn_caffe.finetune import OnlineFinetuningTracker

        return OnlineFinetuningTracker(GoturnTracker(deploy, weights, gpu=gpu, engine=engine))
    if model_format == "opencv":
        from goturn_caffe.opencv_goturn import OpenCVGoturnTracker

        return OpenCVGoturnTracker(deploy, weights, gpu=gpu, engine=engine)
    if model_format != "goturn":
        raise ValueError(f"unknown model format {model_format!r} (goturn or opencv)")
    return GoturnTracker(deploy, weights, gpu=gpu, engine=engine)
