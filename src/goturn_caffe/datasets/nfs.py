"""Need for Speed, NfS (Kiani Galoogahi et al., ICCV 2017), at 30 or 240 frames/s::

    <seq>/<fps>/<seq>/00001.jpg ...    the frames at that rate
    <seq>/<fps>/<seq>.txt              one line per 240 fps frame: id, left, top, right,
                                       bottom, frame, lost, occluded, generated, "label"

The annotation is made at 240 frames/s: the 30 fps videos take every 8th line.
A length differing from the frames' by one is cut to the shorter (the release
has such off-by-one sequences; the got10k toolkit does the same).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from goturn_caffe.datasets.base import SkipReport, Video
from goturn_caffe.datasets.groundtruth import parsed_frames
from goturn_caffe.datasets.image_io import DatasetError
from goturn_caffe.geometry.boxes import Box

RATES = (30, 240)
SUBSAMPLE = 8       # 240 / 30


def is_nfs_folder(root: str | Path, fps: int = 30) -> bool:
    return any(Path(root).glob(f"*/{fps}/*.txt"))


def parse_nfs_line(line: str) -> Box:
    """One annotation line -> Box (corners left, top, right, bottom); ValueError when malformed."""
    fields = line.split()
    if len(fields) < 5:
        raise ValueError(f"expected id, left, top, right, bottom, got {len(fields)} fields")
    left, top, right, bottom = (float(v) for v in fields[1:5])
    return Box(left, top, right, bottom)


def load_nfs_sequence(annotation: Path, fps: int, report: SkipReport) -> Video:
    name = annotation.stem
    images = sorted((annotation.parent / name).glob("*.jpg"))
    if not images:
        raise DatasetError(annotation.parent / name, "empty sequence: no .jpg frames")
    lines = [line for line in annotation.read_text(errors="replace").splitlines() if line.strip()]
    if len(lines) != len(images) and abs(len(lines) / len(images) - SUBSAMPLE) < 1:
        lines = lines[::SUBSAMPLE]
    if abs(len(lines) - len(images)) > 1:
        raise DatasetError(annotation, f"frame count mismatch: {len(lines)} boxes for {len(images)} frames")
    frames = parsed_frames(images, lines, parse_nfs_line, annotation, report)
    return Video(name, frames, f"nfs{fps}")


def load_nfs(root: str | Path, fps: int = 30, report: Optional[SkipReport] = None) -> list:
    """Every sequence of NfS at ``fps`` (30 or 240) under ``root`` (sorted) -> list[Video]."""
    if fps not in RATES:
        raise ValueError(f"NfS has {' and '.join(map(str, RATES))} fps versions, not {fps}")
    root = Path(root)
    report = report if report is not None else SkipReport()
    annotations = sorted(root.glob(f"*/{fps}/*.txt"))
    if not annotations:
        raise DatasetError(root, f"not an NfS folder: no <seq>/{fps}/<seq>.txt")
    videos = []
    for annotation in annotations:
        try:
            videos.append(load_nfs_sequence(annotation, fps, report))
        except DatasetError as exc:
            report.skip(exc.source, exc.reason)
    return videos
