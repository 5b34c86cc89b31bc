"""The VOT2014 supervised (reset-based) protocol and its two measures.

Run (the toolkit's ``SupervisedExperiment``): initialise on frame 0; on every
later frame the tracker's region is compared with the ground truth and a
frame whose overlap is <= 0 is a failure; the tracker is re-initialised from
the ground truth ``SKIP_INITIALIZE`` = 5 frames after the failure.

Measures (``vot.analysis.supervised.compute_accuracy`` / ``count_failures``):
accuracy is the mean overlap over the frames that carry a region, ignoring
the ``BURNIN`` = 10 frames from every (re)initialisation; robustness is the
number of failures.

Any :class:`~goturn_caffe.track.base.Tracker` can be run; images are BGR
uint8 (H, W, 3) arrays, boxes :class:`~goturn_caffe.geometry.boxes.Box`.  A
tracker whose ``uses_images`` is False is given ``None`` instead of decoded
frames (the static baseline needs none).
"""

from __future__ import annotations

import math
import time
from typing import Callable, Optional

import numpy as np

from goturn_caffe.datasets.base import Video
from goturn_caffe.datasets.image_io import read_image as read_image_file
from goturn_caffe.geometry.boxes import Box
from goturn_caffe.vot.overlap import GroundTruthRaster, region_overlap
from goturn_caffe.vot.results import FAILED, INITIALIZED, SKIPPED, quantize_region

BURNIN = 10
SKIP_INITIALIZE = 5
FAILURE_OVERLAP = 0.0
REPETITIONS = 15
DETERMINISTIC_RUNS = 3          # identical runs after which a tracker counts as deterministic
# region_noise: per-axis scale U[0.9, 1.1], shift U[-0.1, 0.1] of the width/height,
# rotation U[-0.1, 0.1] rad (the VOT2014 stack's noisy_transform).
NOISE_SCALE, NOISE_SHIFT, NOISE_ROTATION = 0.1, 0.1, 0.1


class GroundTruth:
    """A sequence's ground-truth regions and image size; each frame's raster is
    built on first use and kept, so every repetition, experiment and tracker
    scored on the sequence shares it."""

    def __init__(self, video: Video, image_size: tuple):
        self.regions = [f.region for f in video.frames]
        self.image_size = tuple(image_size)
        self.rasters: list = [None] * len(self.regions)

    def overlap(self, frame: int, region) -> float:
        """Overlap of a tracker region with frame ``frame``'s ground truth (the
        toolkit's); NaN when the frame has no ground truth."""
        truth = self.regions[frame]
        if truth is None:
            return float("nan")
        if len(region) != 4:
            return region_overlap(region, truth, self.image_size)
        if self.rasters[frame] is None:
            self.rasters[frame] = GroundTruthRaster(truth, self.image_size)
        return self.rasters[frame].overlap(region)


def region_polygon(region) -> np.ndarray:
    """A region's corners as an (N, 2) float64 array (a rectangle gives 4 corners)."""
    values = np.asarray(region, dtype=np.float64)
    if values.size == 4:
        x, y, w, h = values
        return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])
    return values.reshape(-1, 2)


def perturb_region(region, rng: np.random.Generator) -> tuple:
    """The region_noise initialisation: the ground-truth polygon transformed about
    the centre of its min/max box by ``[[sx cos r, -sin r], [sin r, sy cos r]]``
    plus a shift of up to 10 % of the box size (VOT2014's ``noisy_transform``,
    whose scale sits only on the diagonal). Returns polygon numbers ``x1, y1, ...``.
    """
    corners = region_polygon(region)
    low, high = corners.min(axis=0), corners.max(axis=0)
    size, centre = high - low, (low + high) / 2
    scale = 1 + rng.uniform(-NOISE_SCALE, NOISE_SCALE, size=2)
    shift = size * rng.uniform(-NOISE_SHIFT, NOISE_SHIFT, size=2)
    angle = rng.uniform(-NOISE_ROTATION, NOISE_ROTATION)
    transform = np.array([[scale[0] * math.cos(angle), -math.sin(angle)],
                          [math.sin(angle), scale[1] * math.cos(angle)]])
    moved = (corners - centre) @ transform.T + centre + shift
    return tuple(moved.ravel())


def exact_initialization(region, rng) -> tuple:
    """The baseline initialisation: the ground-truth region itself."""
    return tuple(region)


def _next_annotated(video: Video, frame: int) -> int:
    while frame < len(video) and video.frames[frame].region is None:
        frame += 1
    return frame


def run_supervised(tracker, video: Video, truth: GroundTruth,
                   initialization: Callable = exact_initialization,
                   rng: Optional[np.random.Generator] = None,
                   read_image: Optional[Callable] = None,
                   progress: Optional[Callable] = None) -> tuple:
    """Run ``tracker`` through ``video`` with failure detection and re-initialisation.

    ``initialization(region, rng) -> region`` gives the region the tracker is
    (re)initialised with (its min/max box is passed to ``init``); ``truth`` is
    ``GroundTruth(video, image_size)``; ``read_image(path)`` decodes a frame (default
    :func:`goturn_caffe.datasets.image_io.read_image`); ``progress(n)`` is called
    per frame. Frames without ground truth never fail and are skipped as
    (re)initialisation frames. Returns ``(trajectory, seconds)``: one entry per
    frame (codes / region tuples, as written to the results file) and the
    tracker's time per frame (init or update; 0 for skipped frames).
    """
    load = (read_image or read_image_file) if tracker.uses_images else (lambda path: None)
    trajectory: list = [SKIPPED] * len(video)
    seconds = [0.0] * len(video)
    reported = 0

    def report(upto: int) -> None:
        nonlocal reported
        if progress is not None and upto > reported:
            progress(upto - reported)
        reported = max(reported, upto)

    frame = _next_annotated(video, 0)
    while frame < len(video):
        region = initialization(video.frames[frame].region, rng)
        image = load(video.frames[frame].path)
        start = time.perf_counter()
        tracker.init(image, Box.from_polygon(region))
        seconds[frame] = time.perf_counter() - start
        trajectory[frame] = INITIALIZED
        restart = len(video)
        for current in range(frame + 1, len(video)):
            image = load(video.frames[current].path)
            start = time.perf_counter()
            box = tracker.update(image)
            seconds[current] = time.perf_counter() - start
            estimate = quantize_region(box.to_xywh())
            if truth.overlap(current, estimate) <= FAILURE_OVERLAP:  # False for NaN (no truth)
                trajectory[current] = FAILED
                restart = current + SKIP_INITIALIZE
                break
            trajectory[current] = estimate
            report(current + 1)
        frame = _next_annotated(video, restart)
        report(min(frame, len(video)))
    return trajectory, seconds


def frame_overlaps(trajectory: list, truth: GroundTruth) -> np.ndarray:
    """Overlap of every frame's region with the ground truth -> (N,) float64,
    NaN where the frame carries a code or has no ground truth."""
    return np.array([np.nan if isinstance(entry, int) else truth.overlap(frame, entry)
                     for frame, entry in enumerate(trajectory)], dtype=np.float64)


def valid_frames(trajectory: list, burnin: int = BURNIN) -> np.ndarray:
    """(N,) bool: frames that count for accuracy (a region, outside every burn-in)."""
    valid = np.array([not isinstance(entry, int) for entry in trajectory], dtype=bool)
    for i in np.flatnonzero([isinstance(entry, int) and entry == INITIALIZED for entry in trajectory]):
        valid[i:i + burnin] = False
    return valid


def failure_frames(trajectory: list) -> np.ndarray:
    """Indices of the failure frames, (F,) int64."""
    return np.array([i for i, e in enumerate(trajectory) if isinstance(e, int) and e == FAILED],
                    dtype=np.int64)


def trajectory_accuracy(overlaps: np.ndarray, valid: np.ndarray) -> float:
    """Mean overlap over the valid frames; 0 when there is none (as the toolkit)."""
    usable = valid & ~np.isnan(overlaps)
    return float(overlaps[usable].mean()) if usable.any() else 0.0
