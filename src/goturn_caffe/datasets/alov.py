"""ALOV300++ reader: the training videos of GOTURN.

Layout (``root`` is the folder holding both)::

    imagedata++/<category>/<video>/*.jpg
    alov300++_rectangleAnnotation_full/<category>/<video>.ann

An ``.ann`` line is ``frame Ax Ay Bx By Cx Cy Dx Dy``: a 1-based frame number
(every ~5th frame is annotated) and the four corners of the box, which become
the min/max box minus 1 (:meth:`Box.from_alov`, as in the authors' loader).
Categories and videos are read in sorted order, as the authors' split depends
on it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

from goturn_caffe.datasets.base import Frame, SkipReport, Video
from goturn_caffe.datasets.image_io import DatasetError
from goturn_caffe.geometry.boxes import Box

IMAGES_DIR = "imagedata++"
ANNOTATIONS_DIR = "alov300++_rectangleAnnotation_full"

# The 7 ALOV300++ videos that overlap VOT2014 (paper appendix); the authors
# train without them, leaving 307 videos.
VOT2014_OVERLAP = frozenset({
    "01-Light_video00016", "01-Light_video00022", "01-Light_video00023",
    "02-SurfaceCover_video00012", "03-Specularity_video00003",
    "03-Specularity_video00012", "10-LowContrast_video00013",
})

# The authors' ``val_ratio``: the last int(0.2 * n) videos of each category
# (after the exclusion) are the validation set: 251 train / 56 val of 307.
VALIDATION_FRACTION = 0.2
SPLITS = ("all", "train", "val")


def parse_ann_line(line: str) -> tuple[int, Box]:
    """One ``.ann`` line -> (0-based frame index, box); ValueError when malformed."""
    values = line.split()
    if len(values) != 9:
        raise ValueError(f"expected 9 values (frame and 8 corner coordinates), got {len(values)}")
    try:
        frame_number = int(values[0])
        corners = [float(v) for v in values[1:]]
    except ValueError:
        raise ValueError(f"non-numeric value in {line.strip()!r}") from None
    if not all(math.isfinite(c) for c in corners):
        raise ValueError(f"non-finite coordinate in {line.strip()!r}")
    return frame_number - 1, Box.from_alov(corners)


def read_ann(ann_path: Path, num_frames: int, report: SkipReport) -> dict[int, Box]:
    """The boxes of one ``.ann`` file by 0-based frame index; bad lines go to ``report``."""
    boxes: dict[int, Box] = {}
    for line_number, line in enumerate(ann_path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{ann_path}:{line_number}"
        try:
            index, box = parse_ann_line(line)
        except ValueError as exc:
            report.skip(where, f"bad annotation line: {exc}")
            continue
        if not 0 <= index < num_frames:
            report.skip(where, f"frame out of range: frame {index + 1} of {num_frames} images")
        elif not box.is_valid():
            report.skip(where, f"empty box: {box}")
        elif index in boxes:
            report.skip(where, f"duplicate frame: frame {index + 1} annotated twice, first kept")
        else:
            boxes[index] = box
    return boxes


def load_video(ann_path: Path, frames_dir: Path, category: str,
               report: SkipReport) -> Optional[Video]:
    """One ALOV video (all its sorted frames, boxes on the annotated ones), or None if unusable."""
    if not frames_dir.is_dir():
        report.skip(frames_dir, "missing folder: no images for this annotation file")
        return None
    image_paths = sorted(frames_dir.glob("*.jpg"))
    if not image_paths:
        report.skip(frames_dir, "empty sequence: no .jpg images")
        return None
    boxes = read_ann(ann_path, len(image_paths), report)
    if not boxes:
        report.skip(ann_path, "no usable annotation")
        return None
    frames = [Frame(str(path), boxes.get(i)) for i, path in enumerate(image_paths)]
    return Video(ann_path.stem, frames, category)


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown ALOV split {split!r}; choose one of {', '.join(SPLITS)}")


def split_category(items: list, split: str) -> list:
    """The authors' split of one category's sorted videos: val = the last int(0.2 n)."""
    check_split(split)
    num_train = len(items) - int(VALIDATION_FRACTION * len(items))
    return {"all": items, "train": items[:num_train], "val": items[num_train:]}[split]


def load_alov(root: str | Path, split: str = "all", exclude_vot_overlap: bool = True,
              report: Optional[SkipReport] = None) -> list:
    """Read ALOV300++ under ``root`` -> list[Video], categories and videos in sorted order.

    ``split``: ``"all"`` (the authors' final model: 307 videos), ``"train"`` or
    ``"val"`` (their 251 / 56 split, taken per category after the exclusion).
    ``exclude_vot_overlap`` drops the 7 videos that are also in VOT2014.
    Unusable videos and lines are recorded in ``report`` and skipped.
    """
    root = Path(root)
    report = report if report is not None else SkipReport()
    annotations_root, images_root = root / ANNOTATIONS_DIR, root / IMAGES_DIR
    for folder in (annotations_root, images_root):
        if not folder.is_dir():
            raise DatasetError(folder, f"missing ALOV300++ folder (expected {IMAGES_DIR}/ and "
                                       f"{ANNOTATIONS_DIR}/ under {root})")
    check_split(split)
    videos = []
    for category_dir in sorted(p for p in annotations_root.iterdir() if p.is_dir()):
        # The split is taken on the annotation files, like the authors', so a
        # damaged video does not move other videos between train and val.
        ann_paths = [p for p in sorted(category_dir.glob("*.ann"))
                     if not (exclude_vot_overlap and p.stem in VOT2014_OVERLAP)]
        for ann_path in split_category(ann_paths, split):
            video = load_video(ann_path, images_root / category_dir.name / ann_path.stem,
                               category_dir.name, report)
            if video is not None:
                videos.append(video)
    return videos
