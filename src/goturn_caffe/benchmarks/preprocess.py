"""Crop + resize + preprocess of one target/search pair, per frame of the tracker."""

from __future__ import annotations

import argparse

from goturn_caffe.benchmarks.common import time_call

# (name, box x, y, w, h) in a 1280x720 frame: the common case, a box whose
# search region needs black padding, and a large box (a big canvas to resize).
CASES = (
    ("centre 160x120", 560, 300, 160, 120),
    ("corner 160x120 (padded)", 10, 10, 160, 120),
    ("large 640x360", 320, 180, 640, 360),
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--width", type=int, default=1280, help="frame width (default 1280)")
    parser.add_argument("--height", type=int, default=720, help="frame height (default 720)")


def run(args) -> dict:
    import cv2
    import numpy as np

    from goturn_caffe.geometry.boxes import Box
    from goturn_caffe.geometry.cropping import crop_and_resize
    from goturn_caffe.geometry.preprocess import INPUT_SIZE, preprocess_batch

    rng = np.random.default_rng(0)
    previous = rng.integers(0, 256, (args.height, args.width, 3), dtype=np.uint8)
    current = rng.integers(0, 256, (args.height, args.width, 3), dtype=np.uint8)
    crops = np.empty((2, INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)
    blobs = np.empty((2, 1, 3, INPUT_SIZE, INPUT_SIZE), dtype=np.float32)  # target, image inputs

    results = {"frame": f"{args.width}x{args.height}", "opencv_threads": cv2.getNumThreads(),
               "cases": {}}
    for name, x, y, w, h in CASES:
        box = Box.from_xywh(x, y, w, h)

        def into_buffers(box=box):
            # The tracker's path: crops and net inputs written into preallocated arrays.
            crop_and_resize(previous, box, out=crops[0])
            crop_and_resize(current, box, out=crops[1])
            preprocess_batch(crops[:1], out=blobs[0])
            preprocess_batch(crops[1:], out=blobs[1])

        def fresh_arrays(box=box):
            target, _ = crop_and_resize(previous, box)
            search, _ = crop_and_resize(current, box)
            preprocess_batch(np.stack([target, search]))

        timings = {"us_per_pair": round(time_call(into_buffers, args.repeats), 1),
                   "us_per_pair_fresh_arrays": round(time_call(fresh_arrays, args.repeats), 1)}
        results["cases"][name] = timings
        print(f"preprocess  {name:<26s} {timings['us_per_pair']:8.1f} us per pair "
              f"({timings['us_per_pair_fresh_arrays']:.1f} us allocating fresh arrays)")
    return results
