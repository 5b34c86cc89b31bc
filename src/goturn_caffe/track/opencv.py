"""OpenCV's GOTURN model files run through pycaffe (``--model-format opencv``).

OpenCV 4.x distributes a *different* network than the authors' (see
``prototxt/opencv/goturn.prototxt``) and its own tracking loop
(``modules/video/src/tracking/tracker_goturn.cpp``).  This module reproduces
that loop step for step so the same model files give the same boxes as
``cv2.TrackerGOTURN``:

- one rectangle for both patches: the previous (integer) box doubled around
  its centre, expressed in a frame padded by replicating its borders by the
  rectangle's (truncated) width and height; width and height capped at the
  frame size, x and y clamped to [-0.5, 1.5] x the frame size;
- the patch is cut at the rectangle rounded to integers, resized to 227 with
  INTER_LINEAR_EXACT, and minus 128 on every channel (no /255);
- the output (``scale`` layer, 227-pixel units) maps back with
  ``round(rect.x + out * rect.w / 227 - rect.w)`` etc., and the integer box is
  intersected with the frame.

One deviation, where OpenCV would abort: its box can collapse to nothing (a
width or height that rounds to 0, or an estimate off the frame), and its next
update then fails inside ``cv::resize`` (``!ssize.empty()``).  Here the tracker
never holds an empty box: an initial box is at least 1 x 1 pixel inside the
frame, and a collapsed estimate keeps the last box (as the authors' geometry
keeps a crop of at least one pixel).  On every frame where OpenCV's box is not
empty, the boxes are OpenCV's.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from goturn_caffe.geometry.boxes import Box, pixel_rect
from goturn_caffe.geometry.preprocess import INPUT_SIZE
from goturn_caffe.track.base import Tracker

OPENCV_MEAN = 128.0


def centre_box_bias(net) -> None:
    """Make an untrained OpenCV-architecture net answer 'the middle half of the
    patch' (fc8's bias; x10 by the scale layer = 227-pixel units), so random
    weights give sensible, content-dependent boxes instead of a collapsed one."""
    net.params["fc8"][1].data[...] = np.array([0.25, 0.25, 0.75, 0.75]) * INPUT_SIZE / 10


def _f32(value) -> np.float32:
    return np.float32(value)


def intersect_frame(x: int, y: int, w: int, h: int, width: int, height: int) -> tuple:
    """cv::Rect & Rect(0, 0, width, height); an empty intersection is (0, 0, 0, 0)."""
    x1, y1 = max(x, 0), max(y, 0)
    x2, y2 = min(x + w, width), min(y + h, height)
    if x2 <= x1 or y2 <= y1:
        return (0, 0, 0, 0)
    return (x1, y1, x2 - x1, y2 - y1)


def patch_rect(box: tuple, width: int, height: int) -> tuple:
    """OpenCV's float32 patch rectangle (x, y, w, h) in the padded frame, for integer ``box``."""
    bx, by, bw, bh = (float(v) for v in box)
    pad = _f32(2.0)
    cx, cy = _f32(bx + bw / 2), _f32(by + bh / 2)
    rect_w, rect_h = _f32(bw * pad), _f32(bh * pad)
    # (float)(center - w * 2 / 2.0 + rect_w), evaluated in double as in C++
    rect_x = _f32(float(cx) - bw * 2.0 / 2.0 + float(rect_w))
    rect_y = _f32(float(cy) - bh * 2.0 / 2.0 + float(rect_h))
    rect_w, rect_h = min(rect_w, _f32(width)), min(rect_h, _f32(height))
    rect_x = max(_f32(-width * 0.5), min(rect_x, _f32(width * 1.5)))
    rect_y = max(_f32(-height * 0.5), min(rect_y, _f32(height * 1.5)))
    return rect_x, rect_y, rect_w, rect_h


def cut_patch(frame: np.ndarray, rect: tuple) -> np.ndarray:
    """The 227x227 patch of ``frame`` at ``rect`` (padded by replication)."""
    rect_x, rect_y, rect_w, rect_h = rect
    pad_w, pad_h = int(rect_w), int(rect_h)
    padded = cv2.copyMakeBorder(frame, pad_h, pad_h, pad_w, pad_w, cv2.BORDER_REPLICATE)
    # Rect2f -> Rect rounds each field (saturate_cast), as Mat::operator() does
    x, y, w, h = (int(np.rint(v)) for v in rect)
    patch = padded[y:y + h, x:x + w]
    return cv2.resize(patch, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR_EXACT)


def decode_output(out: np.ndarray, rect: tuple, width: int, height: int) -> tuple:
    """The net's ``out`` (227-pixel units) -> OpenCV's integer box, intersected with the frame."""
    rect_x, rect_y, rect_w, rect_h = (np.float32(v) for v in rect)
    o = out.astype(np.float32)
    size = np.float32(INPUT_SIZE)
    # float32 throughout, in OpenCV's order of operations; cvRound rounds half to even
    x = int(np.rint(rect_x + (o[0] * rect_w / size) - rect_w))
    y = int(np.rint(rect_y + (o[1] * rect_h / size) - rect_h))
    w = int(np.rint((o[2] - o[0]) * rect_w / size))
    h = int(np.rint((o[3] - o[1]) * rect_h / size))
    return intersect_frame(x, y, w, h, width, height)


def is_empty(box: tuple) -> bool:
    return box[2] < 1 or box[3] < 1


def initial_pixel_box(box: Box, width: int, height: int) -> tuple:
    """The integer box OpenCV starts from (truncated, intersected with the frame),
    at least 1 x 1 pixel inside the frame."""
    x, y, w, h = pixel_rect(box, "truncate", min_size=1)
    rect = intersect_frame(x, y, w, h, width, height)
    if is_empty(rect):
        rect = (min(max(x, 0), width - 1), min(max(y, 0), height - 1), 1, 1)
    return rect


class OpenCVGoturnTracker(Tracker):
    """``init(frame, box)`` / ``update(frame) -> Box`` with OpenCV's loop on a
    loaded net of OpenCV's architecture (:data:`goturn_caffe.model.net.OPENCV_DEPLOY`)."""

    def __init__(self, net):
        self.net = net
        self.last_timing = {}

    def init(self, frame: np.ndarray, box: Box) -> None:
        self.previous_frame = frame
        self.box = initial_pixel_box(box, frame.shape[1], frame.shape[0])

    def update(self, frame: np.ndarray) -> Box:
        start = time.perf_counter()
        height, width = self.previous_frame.shape[:2]
        rect = patch_rect(self.box, width, height)
        for name, image in (("data1", self.previous_frame), ("data2", frame)):
            patch = cut_patch(image, rect).astype(np.float32) - OPENCV_MEAN
            self.net.blobs[name].data[0] = patch.transpose(2, 0, 1)
        prepared = time.perf_counter()
        out = self.net.forward()["out"].reshape(-1)
        network = time.perf_counter()
        estimate = decode_output(out, rect, frame.shape[1], frame.shape[0])
        if not is_empty(estimate):  # a collapsed estimate keeps the last box (module doc)
            self.box = estimate
        self.previous_frame = frame
        self.last_timing = {"preprocess": prepared - start, "network": network - prepared,
                            "decode": time.perf_counter() - network}
        return Box.from_xywh(*self.box)
