"""VOT sequence reader: the VOT2014 (legacy) and VOT2016+ layouts.

A VOT dataset folder holds ``list.txt`` (one sequence name per line) and one
folder per sequence with ``groundtruth.txt``: one region per frame, either a
polygon ``x1,y1,x2,y2,x3,y3,x4,y4`` or a rectangle ``x,y,w,h`` (commas).
Images are ``%08d.jpg`` in the sequence folder (VOT2014/2015) or in ``color/``
(VOT2016+, which also has a ``sequence`` metadata file naming the pattern).
Per-frame attribute tags are files ``<tag>.label`` (VOT2014) or ``<tag>.tag``
(later), one ``0``/``1`` line per frame.

Every frame keeps its raw region (``Frame.region``, the numbers of the line;
the VOT protocol measures overlap against it) and its min/max box
(``Frame.box``, what a rectangle tracker is initialised with).

The ground truth is checked here, once, for every tracker and tool that reads
it.  Line 1 is where every tracker starts, so it must be a region whose min/max
box has a positive width and height and covers at least one pixel of the image
each way; otherwise the sequence is refused (:class:`DatasetError` naming
``groundtruth.txt:1``).  A later line that cannot serve (not numbers; NaN, which
VOT's long-term sets write for an absent target; a zero-size box; a box off the
image or on less than a pixel of it) leaves its frame without ground truth: the
protocol never scores a failure there and never re-initialises a tracker from
it; each such line is recorded in the :class:`SkipReport` with its file and
line number.  The short-term VOT sequences annotate every frame with a usable
region.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from goturn_caffe.datasets.base import Frame, SkipReport, Video
from goturn_caffe.datasets.image_io import DatasetError, read_image
from goturn_caffe.geometry.boxes import Box, parse_region

GROUNDTRUTH = "groundtruth.txt"
LIST_FILE = "list.txt"
METADATA_FILE = "sequence"
COLOR_FOLDER = "color"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
TAG_SUFFIXES = (".tag", ".label")


def read_metadata(sequence_dir: Path) -> dict:
    """The VOT2016+ ``sequence`` file (``key=value`` lines) as a dict; {} when absent."""
    path = sequence_dir / METADATA_FILE
    if not path.is_file():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text(errors="replace").splitlines()
             if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def image_paths(sequence_dir: Path) -> list:
    """The sequence's frames in order: the ``sequence`` file's ``channels.color``
    folder, else ``color/``, else the sequence folder itself (VOT2014)."""
    pattern = read_metadata(sequence_dir).get("channels.color")
    if pattern:
        folder = (sequence_dir / pattern).parent
    elif (sequence_dir / COLOR_FOLDER).is_dir():
        folder = sequence_dir / COLOR_FOLDER
    else:
        folder = sequence_dir
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def read_tags(sequence_dir: Path, num_frames: int, report: SkipReport) -> list:
    """Per-frame tag sets from ``*.tag`` / ``*.label`` files -> list[frozenset] (num_frames).

    A file shorter than the sequence leaves the remaining frames untagged (as
    the VOT toolkit does); a line other than 0/1 is recorded and read as 0.
    """
    tags = [set() for _ in range(num_frames)]
    for path in sorted(p for p in sequence_dir.iterdir() if p.suffix in TAG_SUFFIXES):
        lines = path.read_text(errors="replace").splitlines()
        if len(lines) > num_frames:
            report.skip(path, f"tag lines beyond the last frame: {len(lines)} lines for "
                              f"{num_frames} frames, extra lines ignored")
        for line_number, line in enumerate(lines[:num_frames], 1):
            value = line.strip()
            if value == "1":
                tags[line_number - 1].add(path.stem)
            elif value not in ("0", ""):
                report.skip(f"{path}:{line_number}", f"bad tag line: expected 0 or 1, got {value!r}")
    return [frozenset(t) for t in tags]


def unusable_regions(groundtruth: Path, regions: list, image_shape: tuple) -> dict:
    """``{line number: reason}`` for the parsed ``regions`` of ``groundtruth`` that no
    tracker can use: a min/max box of zero or negative width or height, or one
    covering less than a pixel of the ``(height, width)`` image each way (wholly
    outside it, or a sliver of its edge).  DatasetError for line 1, where every
    tracker starts."""
    height, width = image_shape
    unusable = {}
    for line_number, region in enumerate(regions, 1):
        if region is None:
            continue
        box = Box.from_polygon(region)
        if not box.is_valid():
            reason = f"has zero or negative size (x,y,w,h {_xywh(box)})"
        elif not box.overlaps_image(width, height):
            reason = f"lies wholly outside the {width}x{height} image (x,y,w,h {_xywh(box)})"
        elif min((visible := box.clip(width, height)).width, visible.height) < 1:
            reason = (f"covers less than one pixel of the {width}x{height} image "
                      f"(x,y,w,h {_xywh(box)})")
        else:
            continue
        if line_number == 1:
            raise DatasetError(f"{groundtruth}:1", f"bad first region: the region {reason} "
                                                   "(every tracker starts from line 1)")
        unusable[line_number] = f"unusable region: it {reason}; the frame counts as unannotated"
    return unusable


def _xywh(box: Box) -> str:
    return ",".join(f"{v:g}" for v in box.to_xywh())


def load_vot_sequence(sequence_dir: str | Path, report: Optional[SkipReport] = None) -> Video:
    """Read one VOT sequence folder -> Video with one Frame per image.

    Line i of ``groundtruth.txt`` is frame i. A bad later line leaves its frame
    without region and box and is recorded in ``report`` (see the module notes).
    Raises :class:`DatasetError` when the sequence is unusable (no images, no
    ground truth, no usable line, a first region no tracker can start from,
    naming ``groundtruth.txt:1``) or when its line count differs from its image
    count (a missing frame would silently pair every later image with the wrong
    region).
    """
    sequence_dir = Path(sequence_dir)
    report = report if report is not None else SkipReport()
    groundtruth = sequence_dir / GROUNDTRUTH
    if not groundtruth.is_file():
        raise DatasetError(sequence_dir, f"missing ground truth: no {GROUNDTRUTH}")
    paths = image_paths(sequence_dir)
    if not paths:
        raise DatasetError(sequence_dir, "empty sequence: no images")
    lines = groundtruth.read_text(errors="replace").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) != len(paths):
        # A missing (or extra) frame would shift every later region by one: refuse, as OTB does.
        raise DatasetError(sequence_dir, f"frame count mismatch: {len(lines)} lines in "
                                         f"{GROUNDTRUTH} for {len(paths)} images")
    regions: list = [None] * len(paths)
    problems: dict = {}
    for line_number, line in enumerate(lines, 1):
        try:
            regions[line_number - 1] = parse_region(line)
        except ValueError as exc:
            problems[line_number] = exc
    if not any(r is not None for r in regions):
        raise DatasetError(groundtruth, "no usable annotation")
    if 1 in problems:
        raise DatasetError(f"{groundtruth}:1", f"bad first region: {problems[1]} "
                                               "(every tracker starts from line 1)")
    problems = {n: f"bad annotation line: {exc}" for n, exc in problems.items()}
    problems.update(unusable_regions(groundtruth, regions, read_image(paths[0]).shape[:2]))
    for line_number in sorted(problems):
        regions[line_number - 1] = None
        report.skip(f"{groundtruth}:{line_number}", problems[line_number])
    tags = read_tags(sequence_dir, len(paths), report)
    frames = [Frame(str(path), None if region is None else Box.from_polygon(region), region, tag)
              for path, region, tag in zip(paths, regions, tags)]
    return Video(sequence_dir.name, frames, "vot")


def sequence_names(root: Path) -> list:
    """The names in ``list.txt``, else every sub-folder with a ground truth (sorted)."""
    listing = root / LIST_FILE
    if listing.is_file():
        return [line.strip() for line in listing.read_text(errors="replace").splitlines()
                if line.strip()]
    return sorted(p.name for p in root.iterdir() if (p / GROUNDTRUTH).is_file())


def load_vot(root: str | Path, sequences: Optional[list] = None,
             report: Optional[SkipReport] = None, strict: bool = False) -> list:
    """Read a VOT dataset folder (or one sequence folder) -> list[Video].

    ``sequences``: names to load (default: all of ``list.txt``); a name that is
    not in the dataset raises :class:`DatasetError`. An unusable sequence is
    recorded in ``report`` and skipped, or with ``strict`` raises its
    :class:`DatasetError` (an evaluation scores every sequence it was given or
    none).
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(root, "missing folder: VOT root does not exist")
    report = report if report is not None else SkipReport()
    if (root / GROUNDTRUTH).is_file():
        return [load_vot_sequence(root, report)]
    names = sequence_names(root)
    if sequences is not None:
        unknown = [name for name in sequences if name not in names]
        if unknown:
            raise DatasetError(root, f"unknown sequence(s) {', '.join(unknown)}; "
                                     f"available: {', '.join(names)}")
        names = list(sequences)
    if not names:
        raise DatasetError(root, f"no VOT sequence found (expected {LIST_FILE} or "
                                 f"<sequence>/{GROUNDTRUTH})")
    videos = []
    for name in names:
        try:
            videos.append(load_vot_sequence(root / name, report))
        except DatasetError as exc:
            if strict:
                raise
            report.skip(exc.source, exc.reason)
    return videos
