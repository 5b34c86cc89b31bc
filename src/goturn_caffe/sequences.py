"""Tracking inputs: a video file, an image folder, or a VOT / OTB sequence folder.

:func:`open_sequence` returns a :class:`Sequence` whose frames are read lazily
(one decoded frame in memory at a time) and whose ground truth, when the folder
has one, gives the initial box.  A frame that fails to decode comes back as
``None`` so the caller can skip it and go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import cv2
import numpy as np

from goturn_caffe.boxes import Box

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v"}


class SequenceError(ValueError):
    pass


@dataclass
class Sequence:
    name: str
    source: str
    frame_paths: list = field(default_factory=list)   # empty for a video file
    ground_truth: Optional[list] = None                # list[Box | None] per frame
    fps: float = 30.0
    frame_size: Optional[tuple] = None                 # (width, height) when known

    def frames(self) -> Iterator[Optional[np.ndarray]]:
        """Decoded BGR frames in order; None for a frame that cannot be decoded."""
        if self.frame_paths:
            for path in self.frame_paths:
                yield cv2.imread(str(path), cv2.IMREAD_COLOR)
            return
        capture = cv2.VideoCapture(self.source)
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    return
                yield frame
        finally:
            capture.release()

    def __len__(self) -> int:
        if self.frame_paths:
            return len(self.frame_paths)
        capture = cv2.VideoCapture(self.source)
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        capture.release()
        return count


def _image_files(folder: Path) -> list:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _open_video(path: Path) -> Sequence:
    capture = cv2.VideoCapture(str(path))
    ok, frame = capture.read() if capture.isOpened() else (False, None)
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    capture.release()
    if not ok:
        raise SequenceError(f"{path}: cannot read a frame (not a video OpenCV can decode)")
    return Sequence(path.stem, str(path), fps=fps, frame_size=(frame.shape[1], frame.shape[0]))


def _open_vot(folder: Path) -> Sequence:
    from goturn_caffe.datasets.vot import load_vot_sequence

    video = load_vot_sequence(folder)
    return Sequence(video.name, str(folder), [f.path for f in video.frames],
                    [f.box for f in video.frames])


def _open_otb(folder: Path) -> Sequence:
    from goturn_caffe.datasets.otb import load_otb_sequence

    video = load_otb_sequence(folder)
    return Sequence(video.name, str(folder), [f.path for f in video.frames],
                    [f.box for f in video.frames])


def open_sequence(path) -> Sequence:
    """A video file, a VOT folder (groundtruth.txt), an OTB folder (img/ +
    groundtruth_rect.txt) or a plain folder of images."""
    path = Path(path)
    if not path.exists():
        raise SequenceError(f"{path}: no such file or folder")
    if path.is_file():
        if path.suffix.lower() not in VIDEO_SUFFIXES:
            raise SequenceError(f"{path}: not a video file ({', '.join(sorted(VIDEO_SUFFIXES))})")
        return _open_video(path)
    if (path / "groundtruth.txt").exists():
        return _open_vot(path)
    if (path / "img").is_dir():
        return _open_otb(path)
    images = _image_files(path)
    if not images:
        raise SequenceError(f"{path}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) and no "
                            "VOT/OTB ground truth in this folder")
    return Sequence(path.name, str(path), images)


def parse_box(text: str) -> Box:
    """``x,y,w,h`` (commas or spaces) -> Box; SequenceError on anything else."""
    try:
        values = [float(v) for v in text.replace(",", " ").split()]
    except ValueError:
        values = []
    if len(values) != 4:
        raise SequenceError(f"--box {text!r}: expected four numbers x,y,w,h")
    try:
        return Box.from_xywh(*values)
    except ValueError as exc:
        raise SequenceError(f"--box {text!r}: {exc}") from None
