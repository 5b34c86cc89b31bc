"""OTB-style sequence reader (OTB-50/100 and users' own videos in that layout).

A sequence folder holds ``img/NNNN.jpg`` and ``groundtruth_rect.txt``: one
``x,y,w,h`` line per frame (comma-, tab- or space-separated). Sequences with
two targets (OTB's Jogging, Skating2) have ``groundtruth_rect.1.txt`` and
``groundtruth_rect.2.txt`` instead; each becomes its own video (``Jogging.1``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from goturn_caffe.datasets.base import Frame, SkipReport, Video
from goturn_caffe.datasets.image_io import DatasetError
from goturn_caffe.geometry.boxes import Box, parse_xywh

IMAGE_FOLDER = "img"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def parse_otb_line(line: str) -> Box:
    """One ``x,y,w,h`` ground-truth line -> Box; ValueError when malformed or empty."""
    box = parse_xywh(line)
    if not box.is_valid():
        raise ValueError(f"empty box: w={box.width:g} h={box.height:g}")
    return box


def groundtruth_files(sequence_dir: Path) -> list:
    """The sequence's ground-truth files: ``groundtruth_rect.txt`` or its numbered targets."""
    single = sequence_dir / "groundtruth_rect.txt"
    return [single] if single.is_file() else sorted(sequence_dir.glob("groundtruth_rect.*.txt"))


def _video_name(sequence_dir: Path, groundtruth: Path) -> str:
    target = groundtruth.name[len("groundtruth_rect."):-len(".txt")]
    return f"{sequence_dir.name}.{target}" if target else sequence_dir.name


def load_otb_sequence(sequence_dir: str | Path, report: Optional[SkipReport] = None,
                      start_frame: Optional[int] = None,
                      groundtruth: Optional[str | Path] = None) -> Video:
    """Read one OTB sequence folder -> Video (every image, boxes from the ground truth).

    ``groundtruth``: the file to use (default ``groundtruth_rect.txt``, else the
    first numbered target). Line i of it is frame ``start_frame + i`` (1-based);
    without ``start_frame`` the line count must equal the image count: OTB
    sequences such as David start later, and guessing the offset would mislabel
    every frame. A bad line leaves its frame without a box and is recorded in
    ``report``. Raises :class:`DatasetError` when the sequence is unusable.
    """
    sequence_dir = Path(sequence_dir)
    report = report if report is not None else SkipReport()
    image_paths = sorted(p for p in (sequence_dir / IMAGE_FOLDER).glob("*")
                         if p.suffix.lower() in IMAGE_SUFFIXES)
    if not image_paths:
        raise DatasetError(sequence_dir / IMAGE_FOLDER, "empty sequence: no images")
    if groundtruth is None:
        files = groundtruth_files(sequence_dir)
        if not files:
            raise DatasetError(sequence_dir, "missing ground truth: no groundtruth_rect*.txt")
        groundtruth = files[0]
    groundtruth = Path(groundtruth)
    lines = [line for line in groundtruth.read_text(errors="replace").splitlines() if line.strip()]
    offset = 0 if start_frame is None else start_frame - 1
    if (start_frame is None and len(lines) != len(image_paths)) or offset + len(lines) > len(image_paths):
        raise DatasetError(groundtruth, f"frame count mismatch: {len(lines)} boxes for "
                                        f"{len(image_paths)} images starting at frame {offset + 1}")
    boxes: list[Optional[Box]] = [None] * len(image_paths)
    for line_number, line in enumerate(lines, 1):
        try:
            boxes[offset + line_number - 1] = parse_otb_line(line)
        except ValueError as exc:
            report.skip(f"{groundtruth}:{line_number}", f"bad annotation line: {exc}")
    if not any(boxes):
        raise DatasetError(groundtruth, "no usable annotation")
    frames = [Frame(str(path), box) for path, box in zip(image_paths, boxes)]
    return Video(_video_name(sequence_dir, groundtruth), frames, "otb")


def load_otb(root: str | Path, report: Optional[SkipReport] = None) -> list:
    """Read an OTB sequence folder, or a folder of them (sorted) -> list[Video].

    A sequence with several targets gives one video per target; an unusable
    sequence is recorded in ``report`` and skipped.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(root, "missing folder: OTB root does not exist")
    report = report if report is not None else SkipReport()
    sequences = [root] if (root / IMAGE_FOLDER).is_dir() else \
        sorted(p for p in root.iterdir() if (p / IMAGE_FOLDER).is_dir())
    if not sequences:
        raise DatasetError(root, f"no OTB sequence found (expected <sequence>/{IMAGE_FOLDER}/ "
                                 "and <sequence>/groundtruth_rect.txt)")
    videos = []
    for sequence in sequences:
        for groundtruth in groundtruth_files(sequence) or [None]:
            try:
                videos.append(load_otb_sequence(sequence, report, groundtruth=groundtruth))
            except DatasetError as exc:
                report.skip(exc.source, exc.reason)
    return videos
