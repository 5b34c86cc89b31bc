"""OTB-style sequence reader (OTB-50/100 and users' own videos in that layout).

A sequence folder holds ``img/NNNN.jpg`` and ``groundtruth_rect.txt``: one
``x,y,w,h`` line per frame (comma-, tab- or space-separated). Sequences with
two targets (OTB's Jogging, Skating2) have ``groundtruth_rect.1.txt`` and
``groundtruth_rect.2.txt`` instead; each becomes its own video (``Jogging.1``).

The benchmark itself: :func:`load_otb_benchmark` reads OTB-2013 (51 targets)
or OTB-2015 / OTB-100 (100 targets) with each target's 11 attributes, from the
benchmark's lists stored in ``lists/otb_sequences.tsv`` (source named there).
Five sequences are scored on part of their images only (the OTB toolkit's
sequence configuration): their ground truth has one line per frame of that
range, and the video is cut to it (:data:`OFFICIAL_FRAME_RANGES`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Optional

from goturn_caffe.datasets.base import Frame, SkipReport, Video
from goturn_caffe.datasets.image_io import DatasetError
from goturn_caffe.datasets.overlap import LISTS_DIR
from goturn_caffe.geometry.boxes import Box, parse_xywh

IMAGE_FOLDER = "img"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
OTB_LIST = LISTS_DIR / "otb_sequences.tsv"
OTB_VERSIONS = {"2013": "OTB-2013", "100": "OTB-100"}
# 1-based inclusive frame ranges of the sequences whose ground truth covers part of
# the images only (the OTB toolkit's sequence configuration; got10k's OTB loader
# cuts the same ranges).  Applied only where the ground truth has exactly one
# line per frame of the range, so another video of the same name (the TLD
# dataset's David, 761 frames, all annotated) is read as it is.
# The benchmark's name of a target -> the name its results file has in the got10k
# toolkit (which names a folder's only target after the folder), so that its
# scorer finds our files.
RESULTS_NAMES = {"Human4.2": "Human4"}
OFFICIAL_FRAME_RANGES = {"David": (300, 770), "Football1": (1, 74), "Freeman3": (1, 460),
                         "Freeman4": (1, 283), "Diving": (1, 215)}


def read_list(path: Path) -> list:
    """The rows of one of the benchmark lists in ``lists/`` (tab-separated, # comments)."""
    return [line.split("\t") for line in Path(path).read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def target_key(name: str) -> str:
    """A target's name as compared across layouts: ``Jogging-1``, ``jogging.1`` and
    ``Jogging.1`` are one target (the toolkit's, pysot's and our readers' spellings)."""
    return name.lower().replace("-", ".")


def otb_targets(version: str) -> dict:
    """``{target: attributes}`` of OTB-2013 (``version`` "2013") or OTB-100 ("100"), in list order."""
    if version not in OTB_VERSIONS:
        raise ValueError(f"unknown OTB version {version!r} ({' or '.join(OTB_VERSIONS)})")
    return {name: tuple(attributes.split(",")) for name, versions, attributes in read_list(OTB_LIST)
            if version in versions.split(",")}


def official_range(sequence: str, lines: int, images: int) -> Optional[tuple]:
    """The official ``(first, last)`` frames of ``sequence`` when its ground truth
    (``lines`` lines) and ``images`` fit them; None otherwise."""
    frames = OFFICIAL_FRAME_RANGES.get(sequence)
    if frames is None or lines != frames[1] - frames[0] + 1 or images < frames[1]:
        return None
    return frames


def parse_otb_line(line: str) -> Box:
    """One ``x,y,w,h`` ground-truth line -> Box; ValueError when malformed or empty."""
    box = parse_xywh(line)
    if not box.is_valid():
        raise ValueError(f"empty box: w={box.width:g} h={box.height:g}")
    return box


def groundtruth_files(sequence_dir: Path) -> list:
    """The sequence's ground-truth files: ``groundtruth_rect.txt`` or its numbered targets."""
    single = sequence_dir / "groundtruth_rect.txt"
    if single.is_file():
        return [single]
    # OTB's Human4 ships an empty groundtruth_rect.1.txt beside its one target's .2 file
    return [p for p in sorted(sequence_dir.glob("groundtruth_rect.*.txt")) if p.read_text(errors="replace").strip()]


def _video_name(sequence_dir: Path, groundtruth: Path) -> str:
    target = groundtruth.name[len("groundtruth_rect."):-len(".txt")]
    return f"{sequence_dir.name}.{target}" if target else sequence_dir.name


def load_otb_sequence(sequence_dir: str | Path, report: Optional[SkipReport] = None,
                      start_frame: Optional[int] = None,
                      groundtruth: Optional[str | Path] = None) -> Video:
    """Read one OTB sequence folder -> Video (every image, boxes from the ground truth).

    ``groundtruth``: the file to use (default ``groundtruth_rect.txt``, else the
    first numbered target). Line i of it is frame ``start_frame + i`` (1-based);
    without ``start_frame`` the line count must equal the image count, or that
    of the sequence's official range (:func:`official_range`; the video is then
    cut to it): guessing an offset would mislabel every frame. A bad line leaves
    its frame without a box and is recorded in ``report``. Raises :class:`DatasetError` when the sequence is unusable.
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
    if start_frame is None and len(lines) != len(image_paths):
        frames = official_range(sequence_dir.name, len(lines), len(image_paths))
        if frames is not None:      # the benchmark scores this range only: cut the video to it
            image_paths = image_paths[frames[0] - 1:frames[1]]
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


def otb_version_of(videos: list) -> Optional[str]:
    """"100" when ``videos`` hold every OTB-100 target, "2013" when every OTB-2013
    one, else None (an OTB-layout folder that is not the benchmark)."""
    names = {target_key(v.name) for v in videos}
    for version in ("100", "2013"):
        if all(target_key(t) in names for t in otb_targets(version)):
            return version
    return None


def load_otb_benchmark(root: str | Path, version: str = "100",
                       report: Optional[SkipReport] = None) -> list:
    """The targets of OTB-2013 / OTB-100 under ``root``, in the benchmark's order,
    named as the got10k toolkit names them (``Jogging.1``, ``Human4``), each with
    its attributes.  DatasetError (one line: the folder and the targets missing)
    when ``root`` lacks any of them."""
    return otb_benchmark_of(root, load_otb(root, report), version)


def otb_benchmark_of(root: str | Path, loaded: list, version: str) -> list:
    """:func:`load_otb_benchmark` on the videos :func:`load_otb` already read from ``root``."""
    targets = otb_targets(version)
    videos = {target_key(v.name): v for v in loaded}
    missing = [name for name in targets if target_key(name) not in videos]
    if missing:
        shown = ", ".join(missing[:6]) + (", ..." if len(missing) > 6 else "")
        raise DatasetError(root, f"not the full {OTB_VERSIONS[version]}: {len(missing)} of its "
                                 f"{len(targets)} targets missing ({shown})")
    return [replace(videos[target_key(name)], name=RESULTS_NAMES.get(name, name), attributes=attributes)
            for name, attributes in targets.items()]
