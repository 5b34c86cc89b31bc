"""LaSOT reader (Fan et al., "LaSOT", CVPR 2019): the 280 test and 1,120 training sequences.

Layout (``root`` is the LaSOT folder)::

    <category>/<category>-<n>/img/00000001.jpg ...
    <category>/<category>-<n>/groundtruth.txt      x,y,w,h per frame, comma-separated
    <category>/<category>-<n>/full_occlusion.txt   one line of 0/1 flags, one per frame
    <category>/<category>-<n>/out_of_view.txt      one line of 0/1 flags, one per frame
    <category>/<category>-<n>/nlp.txt              a sentence naming the target (not used)

The test set downloaded on its own has the sequences directly under ``root``
(``airplane-1/img/...``); both are read. The test split is the official list
of 280 (protocol II, ``lists/lasot_test_sequences.txt``); the train split is
every other sequence of the root. A frame is ``absent`` where it is fully
occluded or out of view; boxes are as written in the file.

Attributes: the 14 per-sequence attributes are not in the dataset download but
in the LaSOT evaluation toolkit, one file per sequence
(``<sequence>.txt``: 14 comma-separated 0/1 flags in the toolkit's order
:data:`ATTRIBUTES`). Where the root holds that folder as ``att/`` or
``annos/att/`` (or ``attributes_dir`` names it), each video's ``attributes``
lists the abbreviations flagged 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from goturn_caffe.datasets.base import Frame, SkipReport, Video
from goturn_caffe.datasets.groundtruth import check_count, numbered_images, read_boxes, read_flags
from goturn_caffe.datasets.image_io import DatasetError
from goturn_caffe.datasets.overlap import lasot_test_sequences

SPLITS = ("test", "train", "all")
IMAGE_FOLDER = "img"
GROUNDTRUTH = "groundtruth.txt"
FULL_OCCLUSION, OUT_OF_VIEW = "full_occlusion.txt", "out_of_view.txt"
# The LaSOT toolkit's attribute order (its run_tracker_performance_evaluation.m,
# att_name / att_fig_name, reading annos/att/<sequence>.txt): illumination
# variation, partial occlusion, deformation, motion blur, camera motion, rotation,
# background clutter, viewpoint change, scale variation, full occlusion, fast
# motion, out of view, low resolution, aspect ratio change.
ATTRIBUTES = ("IV", "POC", "DEF", "MB", "CM", "ROT", "BC", "VC", "SV", "FOC", "FM", "OV", "LR", "ARC")
ATTRIBUTE_FOLDERS = ("att", "annos/att")


def _sort_key(name: str) -> tuple:
    category, _, number = name.rpartition("-")
    return (category, int(number)) if number.isdigit() else (name, -1)


def sequence_dirs(root: Path) -> dict:
    """name -> folder of every sequence (a folder holding ``img/``) under ``root``,
    with or without the category level."""
    found = {}
    for path in sorted(p for p in root.iterdir() if p.is_dir()):
        if (path / IMAGE_FOLDER).is_dir():
            found[path.name] = path
            continue
        for sequence in sorted(p for p in path.iterdir() if p.is_dir()):
            if (sequence / IMAGE_FOLDER).is_dir():
                found[sequence.name] = sequence
    return found


def read_attributes(path: Path, report: SkipReport) -> tuple:
    """The abbreviations flagged 1 in a toolkit attribute file; () with a report entry when bad."""
    try:
        flags = read_flags(path)
        if len(flags) != len(ATTRIBUTES) or any(flag > 1 for flag in flags):
            raise DatasetError(path, f"bad attribute file: expected {len(ATTRIBUTES)} flags 0/1, "
                                     f"got {len(flags)} values")
    except DatasetError as exc:
        report.skip(exc.source, exc.reason)
        return ()
    return tuple(name for name, flag in zip(ATTRIBUTES, flags) if flag)


def load_lasot_sequence(sequence_dir: str | Path, report: Optional[SkipReport] = None,
                        attributes: tuple = ()) -> Video:
    """One LaSOT sequence folder -> Video; :class:`DatasetError` when unusable."""
    sequence_dir = Path(sequence_dir)
    report = report if report is not None else SkipReport()
    images = numbered_images(sequence_dir / IMAGE_FOLDER)
    if not images:
        raise DatasetError(sequence_dir / IMAGE_FOLDER, "empty sequence: no numbered .jpg images")
    groundtruth = sequence_dir / GROUNDTRUTH
    for name in (GROUNDTRUTH, FULL_OCCLUSION, OUT_OF_VIEW):
        if not (sequence_dir / name).is_file():
            raise DatasetError(sequence_dir, f"missing {name}")
    boxes = read_boxes(groundtruth, report)
    check_count(groundtruth, "boxes", len(boxes), len(images))
    occluded, out_of_view = (read_flags(sequence_dir / name) for name in (FULL_OCCLUSION, OUT_OF_VIEW))
    check_count(sequence_dir / FULL_OCCLUSION, "flags", len(occluded), len(images))
    check_count(sequence_dir / OUT_OF_VIEW, "flags", len(out_of_view), len(images))
    frames = [Frame(str(path), box, absent=bool(occ or oov))
              for path, box, occ, oov in zip(images, boxes, occluded, out_of_view)]
    return Video(sequence_dir.name, frames, sequence_dir.name.rpartition("-")[0], attributes)


def attribute_folder(root: Path, attributes_dir) -> Optional[Path]:
    if attributes_dir is not None:
        if not Path(attributes_dir).is_dir():
            raise DatasetError(attributes_dir, "missing folder: the LaSOT attribute folder does not exist")
        return Path(attributes_dir)
    return next((root / name for name in ATTRIBUTE_FOLDERS if (root / name).is_dir()), None)


def load_lasot(root: str | Path, split: str = "test", report: Optional[SkipReport] = None,
               attributes_dir: str | Path | None = None) -> list:
    """Read LaSOT's ``split`` (``"test"``, ``"train"`` or ``"all"``) under ``root`` -> list[Video].

    Test sequences come in the official list's order, the others sorted by
    category and number. A test sequence missing from the root, or an unusable
    sequence, is recorded in ``report`` and skipped.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown LaSOT split {split!r}; choose one of {', '.join(SPLITS)}")
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(root, "missing folder: the LaSOT root does not exist")
    report = report if report is not None else SkipReport()
    found = sequence_dirs(root)
    if not found:
        raise DatasetError(root, f"no LaSOT sequence (expected <category>/<category>-<n>/{IMAGE_FOLDER}/ "
                                 f"and {GROUNDTRUTH})")
    test = lasot_test_sequences()
    if split == "test":
        names = [name for name in test if name in found]
        if not names:
            raise DatasetError(root, f"none of LaSOT's {len(test)} test sequences is here "
                                     f"({len(found)} other sequences found)")
        for name in test:
            if name not in found:
                report.skip(root / name, "missing sequence: in LaSOT's test list")
    else:
        excluded = set(test) if split == "train" else set()
        names = sorted((name for name in found if name not in excluded), key=_sort_key)
    attributes = attribute_folder(root, attributes_dir)
    videos = []
    for name in names:
        attribute_file = attributes / f"{name}.txt" if attributes is not None else None
        try:
            labels = (read_attributes(attribute_file, report)
                      if attribute_file is not None and attribute_file.is_file() else ())
            videos.append(load_lasot_sequence(found[name], report, labels))
        except DatasetError as exc:
            report.skip(exc.source, exc.reason)
    return videos
