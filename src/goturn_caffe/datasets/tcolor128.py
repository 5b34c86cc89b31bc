"""Temple Color 128 (Liang, Blasch, Ling, TIP 2015) in its release layout::

    <seq>/img/0001.jpg ...          the frames
    <seq>/<seq>_gt.txt              x,y,w,h per frame of the range, comma-separated
    <seq>/<seq>_frames.txt          "first,last": the frames the ground truth covers

Only the range's frames make the video (the got10k toolkit reads the same files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from goturn_caffe.datasets.base import SkipReport, Video
from goturn_caffe.datasets.groundtruth import parsed_frames
from goturn_caffe.datasets.image_io import DatasetError
from goturn_caffe.datasets.uav123 import parse_uav_line
from goturn_caffe.geometry.boxes import parse_numbers


def is_tcolor128_folder(root: str | Path) -> bool:
    return any(Path(root).glob("*/*_frames.txt"))


def load_tcolor128_sequence(folder: Path, report: SkipReport) -> Video:
    """One sequence folder -> Video (DatasetError naming the file when unusable)."""
    name = folder.name
    groundtruth, frames_file = folder / f"{name}_gt.txt", folder / f"{name}_frames.txt"
    for path in (groundtruth, frames_file):
        if not path.is_file():
            raise DatasetError(folder, f"missing {path.name}: not a TColor128 sequence")
    try:
        first, last = (int(v) for v in parse_numbers(frames_file.read_text())[:2])
    except ValueError:
        raise DatasetError(frames_file, "bad frame range: expected first,last") from None
    lines = [line for line in groundtruth.read_text(errors="replace").splitlines() if line.strip()]
    if len(lines) != last - first + 1:
        raise DatasetError(groundtruth, f"frame count mismatch: {len(lines)} lines for frames {first}..{last}")
    paths = [folder / "img" / f"{index:04d}.jpg" for index in range(first, last + 1)]
    frames = parsed_frames(paths, lines, parse_uav_line, groundtruth, report)
    if not Path(frames[0].path).is_file():
        raise DatasetError(frames[0].path, "missing frame: the first frame of the range")
    return Video(name, frames, "tcolor128")


def load_tcolor128(root: str | Path, report: Optional[SkipReport] = None) -> list:
    """Every sequence under ``root`` (sorted) -> list[Video]; unusable ones go to ``report``."""
    root = Path(root)
    report = report if report is not None else SkipReport()
    folders = sorted(p.parent for p in root.glob("*/*_gt.txt"))
    if not folders:
        raise DatasetError(root, "not a TColor128 folder: no <seq>/<seq>_gt.txt")
    videos = []
    for folder in folders:
        try:
            videos.append(load_tcolor128_sequence(folder, report))
        except DatasetError as exc:
            report.skip(exc.source, exc.reason)
    return videos
