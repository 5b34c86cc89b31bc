"""The annotation files of the one-pass tracking datasets (GOT-10k, LaSOT, TrackingNet).

Boxes come one ``x,y,w,h`` line per frame (commas and/or whitespace), in the
file's own coordinates. A line of NaN means "no ground truth for this frame"
and becomes None; a zero-size box is kept as written (scorers have their own
rule for it, training never uses it). Per-frame flags (GOT-10k's
``absence.label``, LaSOT's ``full_occlusion.txt``) are whole numbers, one per
line or all on one comma-separated line.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Optional

from goturn_caffe.datasets.base import Frame, SkipReport
from goturn_caffe.datasets.image_io import DatasetError
from goturn_caffe.geometry.boxes import Box, parse_numbers, parse_region

_NUMBERED = re.compile(r"\d+")


def parse_box_line(line: str) -> Optional[Box]:
    """One ``x,y,w,h`` line -> Box, or None when the line is NaN; ValueError when
    malformed (not four numbers, or an infinity)."""
    numbers = parse_region(line, polygon=False, finite=False)
    if any(math.isnan(v) for v in numbers):
        return None
    if not all(math.isfinite(v) for v in numbers):
        raise ValueError(f"infinite value in {line.strip()!r}")
    return Box.from_xywh(*numbers)


def parsed_frames(paths: list, lines: list, parse, source: Path, report: SkipReport,
                  mark_absent: bool = False) -> list:
    """One Frame per (image path, annotation line): ``parse(line)`` -> Box or None; a
    line it refuses (ValueError) is recorded in ``report`` as ``source:line`` and
    leaves its frame without a box.  ``mark_absent``: a frame without a box is also
    marked absent (a dataset whose empty lines mean "not visible")."""
    frames = []
    for number, (path, line) in enumerate(zip(paths, lines), 1):
        try:
            box = parse(line)
        except ValueError as exc:
            report.skip(f"{source}:{number}", f"bad annotation line: {exc}")
            box = None
        frames.append(Frame(str(path), box, absent=mark_absent and box is None))
    return frames


def read_boxes(path: Path, report: SkipReport) -> list:
    """The boxes of a ground-truth file, one per non-blank line (None: NaN or a bad
    line, which is recorded in ``report``)."""
    boxes = []
    for line_number, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            boxes.append(parse_box_line(line))
        except ValueError as exc:
            report.skip(f"{path}:{line_number}", f"bad annotation line: {exc}")
            boxes.append(None)
    return boxes


def read_flags(path: Path) -> list:
    """The whole numbers of a per-frame flag file; DatasetError when one is not."""
    try:
        values = parse_numbers(read_text(path))
    except ValueError as exc:
        raise DatasetError(path, f"bad label file: {exc}") from None
    if not all(math.isfinite(v) and v == int(v) and v >= 0 for v in values):
        raise DatasetError(path, "bad label file: expected whole numbers >= 0")
    return [int(v) for v in values]


def read_text(path: Path) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError as exc:
        raise DatasetError(path, f"unreadable file: {exc.strerror or exc}") from None


def numbered_images(folder: Path, suffix: str = ".jpg") -> list:
    """The ``<number><suffix>`` images of ``folder`` in numeric order (``2.jpg``
    before ``10.jpg``); other files are ignored."""
    images = [p for p in folder.glob(f"*{suffix}") if _NUMBERED.fullmatch(p.stem)]
    return sorted(images, key=lambda p: int(p.stem))


def check_count(path: Path, what: str, count: int, num_frames: int) -> None:
    """DatasetError unless a per-frame file has one entry per image."""
    if count != num_frames:
        raise DatasetError(path, f"frame count mismatch: {count} {what} for {num_frames} images")
