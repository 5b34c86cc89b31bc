"""Tracking inputs: a video file, an image folder, or a VOT / OTB sequence folder.

:func:`open_sequence` returns a :class:`FrameSource` whose frames are read
lazily (one decoded frame in memory at a time).  A folder's frames are a
:class:`~goturn_caffe.datasets.base.Video` (paths, and for a VOT / OTB folder
the ground-truth boxes, the first of which gives the initial box).  A frame
that cannot be used (undecodable, a truncated JPEG) comes back as ``None`` so
the caller can skip it and go on; why is in :attr:`FrameSource.frame_problems`.
A video file that ends before the frame count in its header (cut off, damaged)
says so in :attr:`FrameSource.ended_early`.
Problems of the ground truth (bad lines) are in :attr:`FrameSource.problems`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import cv2
import numpy as np

from goturn_caffe.datasets.base import Frame, SkipReport, Video
from goturn_caffe.datasets.image_io import read_frame
from goturn_caffe.geometry.boxes import Box, parse_xywh

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v"}


class SequenceError(ValueError):
    pass


@dataclass
class FrameSource:
    """What is tracked: ``video``'s frames (an image folder, a VOT / OTB folder),
    or, when it has none, the video file ``source``."""

    video: Video                        # name and frames (path, ground-truth box or None)
    source: str                         # the file or folder opened
    fps: float = 30.0
    frame_size: Optional[tuple] = None  # (width, height) when known
    problems: SkipReport = field(default_factory=SkipReport)        # the ground truth's
    frame_problems: SkipReport = field(default_factory=SkipReport)  # frames read as None
    annotation_files: list = field(default_factory=list)            # ground truth, tags
    ended_early: Optional[tuple] = None  # a video's (frames read, frames it says it has)

    @property
    def name(self) -> str:
        return self.video.name

    @property
    def frame_paths(self) -> list:
        """The image paths in order; empty for a video file."""
        return [frame.path for frame in self.video.frames]

    @property
    def ground_truth(self) -> Optional[list]:
        """One Box (or None) per frame; None when the input has no ground truth."""
        boxes = [frame.box for frame in self.video.frames]
        return boxes if any(box is not None for box in boxes) else None

    @property
    def input_files(self) -> list:
        """Every file tracking reads: the video, or the frames and the annotation files."""
        return (self.frame_paths + list(self.annotation_files)) if self.video.frames \
            else [self.source]

    def frames(self) -> Iterator[Optional[np.ndarray]]:
        """Decoded BGR frames in order; None for a frame that cannot be used (the
        reason goes to ``frame_problems``)."""
        if self.video.frames:
            for path in self.frame_paths:
                yield read_frame(path, self.frame_problems)
            return
        capture = cv2.VideoCapture(self.source)
        expected, read = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                read += 1
                yield frame
        finally:
            capture.release()
        if 0 < read < expected:     # a file cut off or damaged: its header counts more
            self.ended_early = (read, expected)

    def __len__(self) -> int:
        if self.video.frames:
            return len(self.video)
        capture = cv2.VideoCapture(self.source)
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        capture.release()
        return count


def _image_files(folder: Path) -> list:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _open_video(path: Path) -> FrameSource:
    capture = cv2.VideoCapture(str(path))
    ok, frame = capture.read() if capture.isOpened() else (False, None)
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    capture.release()
    if not ok:
        raise SequenceError(f"{path}: cannot read a frame (not a video OpenCV can decode)")
    return FrameSource(Video(path.stem, []), str(path), fps=fps,
                       frame_size=(frame.shape[1], frame.shape[0]))


def _annotation_files(folder: Path) -> list:
    """The ground-truth, tag and metadata files of a VOT / OTB sequence folder."""
    return sorted(p for p in folder.iterdir() if p.is_file() and (
        (p.name.startswith("groundtruth") and p.suffix == ".txt")
        or p.suffix in (".tag", ".label") or p.name == "sequence"))


def _open_annotated(path: Path) -> FrameSource:
    """A VOT folder (groundtruth.txt) or an OTB folder (img/ + groundtruth_rect.txt);
    the ground truth's bad lines go to ``problems``."""
    from goturn_caffe.datasets.otb import load_otb_sequence
    from goturn_caffe.datasets.vot import load_vot_sequence

    report = SkipReport()
    load = load_vot_sequence if (path / "groundtruth.txt").exists() else load_otb_sequence
    return FrameSource(load(path, report), str(path), problems=report,
                       annotation_files=_annotation_files(path))


def open_sequence(path) -> FrameSource:
    """A video file, a VOT folder (groundtruth.txt), an OTB folder (img/ +
    groundtruth_rect.txt) or a plain folder of images."""
    path = Path(path)
    if not path.exists():
        raise SequenceError(f"{path}: no such file or folder")
    if path.is_file():
        if path.suffix.lower() not in VIDEO_SUFFIXES:
            raise SequenceError(f"{path}: not a video file ({', '.join(sorted(VIDEO_SUFFIXES))})")
        return _open_video(path)
    if (path / "groundtruth.txt").exists() or (path / "img").is_dir():
        return _open_annotated(path)
    images = _image_files(path)
    if not images:
        raise SequenceError(f"{path}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) and no "
                            "VOT/OTB ground truth in this folder")
    return FrameSource(Video(path.name, [Frame(str(image)) for image in images]), str(path))


def parse_box(text: str) -> Box:
    """``--box x,y,w,h`` (commas or spaces) -> Box; SequenceError on anything else."""
    try:
        return parse_xywh(text)
    except ValueError as exc:
        raise SequenceError(f"--box {text!r}: {exc}") from None
