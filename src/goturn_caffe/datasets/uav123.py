"""UAV123 and UAV20L (Mueller, Smith, Ghanem, ECCV 2016) in their official layout.

The release's folder (``UAV123/``, or the folder above it) holds::

    data_seq/UAV123/<video>/000001.jpg ...       frames of every video
    anno/UAV123/<target>.txt                     one x,y,w,h line per frame, NaN when absent
    anno/UAV123/att/<target>.txt                 the target's 12 attributes, 0/1 comma-separated
    anno/UAV20L/<target>.txt (and att/)          the 20 long targets, each a whole video

Several UAV123 targets are ranges of one video (``bird1_2`` is frames 775..1477
of ``bird1``); their ranges are the dataset's configuration, stored in
``lists/uav123_subsequences.tsv`` (source named there).  Every other target is
its whole video from frame 1.  A NaN line leaves its frame without a box and
marks it absent (the dataset's README: fully occluded or out of view).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

from goturn_caffe.datasets.base import SkipReport, Video
from goturn_caffe.datasets.groundtruth import parsed_frames
from goturn_caffe.datasets.image_io import DatasetError
from goturn_caffe.datasets.otb import read_list
from goturn_caffe.datasets.overlap import LISTS_DIR
from goturn_caffe.geometry.boxes import Box, parse_numbers

VERSIONS = ("UAV123", "UAV20L")
FRAMES_FOLDER = Path("data_seq") / "UAV123"
SUBSEQUENCES = LISTS_DIR / "uav123_subsequences.tsv"
# The order of the 12 flags in anno/<version>/att/<target>.txt (the paper's Table 1).
ATTRIBUTES = ("SV", "ARC", "LR", "FM", "FOC", "POC", "OV", "BC", "IV", "VC", "CM", "SOB")


def subsequences() -> dict:
    """``{target: (video folder, first frame, last frame)}`` of the targets cut from a video."""
    return {name: (folder, int(first), int(last)) for name, folder, first, last in read_list(SUBSEQUENCES)}


def uav_root(root: str | Path) -> Path:
    """The folder holding ``anno/`` and ``data_seq/``: ``root`` itself or its ``UAV123/``."""
    root = Path(root)
    for candidate in (root, root / "UAV123"):
        if (candidate / "anno").is_dir() and (candidate / FRAMES_FOLDER).is_dir():
            return candidate
    missing = [str(p) for p in ("anno", FRAMES_FOLDER) if not (root / p).is_dir()]
    raise DatasetError(root, f"not a UAV123 folder: missing {' and '.join(missing)}/")


def is_uav_folder(root: str | Path, version: str = "UAV123") -> bool:
    try:
        return (uav_root(root) / "anno" / version).is_dir()
    except DatasetError:
        return False


def parse_uav_line(line: str) -> Optional[Box]:
    """One annotation line -> Box, None for a NaN line (target absent);
    ValueError when malformed."""
    values = parse_numbers(line)
    if len(values) != 4:
        raise ValueError(f"expected x,y,w,h, got {len(values)} values")
    if any(math.isnan(v) for v in values):
        return None
    return Box.from_xywh(*values)


def read_attributes(path: Path) -> tuple:
    """The attribute names flagged 1 in a target's ``att`` file; () when it has none."""
    if not path.is_file():
        return ()
    flags = [int(float(v)) for v in parse_numbers(path.read_text())]
    if len(flags) != len(ATTRIBUTES):
        raise DatasetError(path, f"bad attribute file: {len(flags)} flags, expected {len(ATTRIBUTES)}")
    return tuple(name for name, flag in zip(ATTRIBUTES, flags) if flag)


def load_uav_target(root: Path, version: str, name: str, report: SkipReport) -> Video:
    """One target -> Video (DatasetError naming the file when it is unusable)."""
    annotation = root / "anno" / version / f"{name}.txt"
    lines = [line for line in annotation.read_text(errors="replace").splitlines() if line.strip()]
    folder, first, last = subsequences().get(name, (name, 1, None)) if version == "UAV123" \
        else (name, 1, None)
    last = last if last is not None else first + len(lines) - 1
    if last - first + 1 != len(lines):
        raise DatasetError(annotation, f"frame count mismatch: {len(lines)} lines for frames "
                                       f"{first}..{last} of {folder}")
    frames_dir = root / FRAMES_FOLDER / folder
    paths = [frames_dir / f"{i:06d}.jpg" for i in range(first, last + 1)]
    for path in (paths[0], paths[-1]) if paths else ():
        if not path.is_file():
            raise DatasetError(path, f"missing frame: {name} needs frames {first}..{last} of {folder}")
    frames = parsed_frames(paths, lines, parse_uav_line, annotation, report, mark_absent=True)
    attributes = read_attributes(root / "anno" / version / "att" / f"{name}.txt")
    return Video(name, frames, version.lower(), attributes)


def load_uav(root: str | Path, version: str = "UAV123", report: Optional[SkipReport] = None) -> list:
    """Every target of UAV123 or UAV20L under ``root`` (sorted by name) -> list[Video].
    DatasetError (the folder and what is missing) for a wrong layout; an unusable
    target is recorded in ``report`` and skipped."""
    if version not in VERSIONS:
        raise ValueError(f"unknown UAV version {version!r} ({' or '.join(VERSIONS)})")
    root = uav_root(root)
    report = report if report is not None else SkipReport()
    anno = root / "anno" / version
    if not anno.is_dir():
        raise DatasetError(root, f"not a {version} folder: missing anno/{version}/")
    names = sorted(p.stem for p in anno.glob("*.txt"))
    if not names:
        raise DatasetError(anno, f"no {version} annotation (<target>.txt) found")
    videos = []
    for name in names:
        try:
            videos.append(load_uav_target(root, version, name, report))
        except DatasetError as exc:
            report.skip(exc.source, exc.reason)
    return videos
