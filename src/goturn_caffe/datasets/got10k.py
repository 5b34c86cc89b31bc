"""GOT-10k reader (Huang, Zhao and Huang, "GOT-10k", TPAMI 2019): train, val and test.

Layout (``root`` is the GOT-10k folder holding the splits, or one split folder)::

    train/list.txt                                  the split's sequences, one name per line
    train/GOT-10k_Train_000001/00000001.jpg ...     the frames
    train/GOT-10k_Train_000001/groundtruth.txt      x,y,w,h per frame (test: first frame only)
    train/GOT-10k_Train_000001/absence.label        per frame: 1 = the target is absent
    train/GOT-10k_Train_000001/cover.label          per frame: visible fraction, 0 (none) .. 8 (all)
    train/GOT-10k_Train_000001/cut_by_image.label   per frame: 1 = the box is cut by the image border
    train/GOT-10k_Train_000001/meta_info.ini        object_class, motion_class, ... (train, val)

The three label files are required in train and val (training must know which
frames are invisible) and absent from test. Each frame becomes a
:class:`~goturn_caffe.datasets.base.Frame` with ``absent`` from
``absence.label``, ``cover`` from ``cover.label`` and the tag ``cut_by_image``;
boxes are as written in the file. The ``vottrain`` split is train without the
1,000 sequences that overlap the VOT challenge datasets
(``lists/got10k_vot_overlap.txt``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from goturn_caffe.datasets.base import Frame, SkipReport, Video
from goturn_caffe.datasets.groundtruth import check_count, numbered_images, read_boxes, read_flags, read_text
from goturn_caffe.datasets.image_io import DatasetError
from goturn_caffe.datasets.overlap import GOT10K_VOT_OVERLAP, read_name_list, shipped_list

SPLITS = ("train", "val", "test", "vottrain")
SPLIT_FOLDERS = {"train": "train", "vottrain": "train", "val": "val", "test": "test"}
LIST_FILE = "list.txt"
GROUNDTRUTH = "groundtruth.txt"
ABSENCE, COVER, CUT_BY_IMAGE = "absence.label", "cover.label", "cut_by_image.label"
META_INFO = "meta_info.ini"
SEQUENCE_PREFIX = "GOT-10k_"


def read_meta_info(path: Path) -> dict:
    """``key: value`` lines of a ``meta_info.ini`` (its ``[METAINFO]`` header skipped)."""
    meta = {}
    for line in read_text(path).splitlines():
        key, separator, value = line.partition(":")
        if separator and not line.lstrip().startswith("["):
            meta[key.strip()] = value.strip()
    return meta


def load_got10k_sequence(sequence_dir: str | Path, first_frame_only: bool = False,
                         report: Optional[SkipReport] = None) -> Video:
    """One GOT-10k sequence folder -> Video. ``first_frame_only``: the test split's
    layout (one ground-truth line, no label files; later frames get no box).
    Raises :class:`DatasetError` when the sequence is unusable."""
    sequence_dir = Path(sequence_dir)
    report = report if report is not None else SkipReport()
    images = numbered_images(sequence_dir)
    if not images:
        raise DatasetError(sequence_dir, "empty sequence: no numbered .jpg images")
    groundtruth = sequence_dir / GROUNDTRUTH
    if not groundtruth.is_file():
        raise DatasetError(sequence_dir, f"missing {GROUNDTRUTH}")
    boxes = read_boxes(groundtruth, report)
    if first_frame_only and len(boxes) == 1:
        boxes += [None] * (len(images) - 1)
    check_count(groundtruth, "boxes", len(boxes), len(images))
    absent, cover, cut = [0] * len(images), [None] * len(images), [0] * len(images)
    if not first_frame_only:
        labels = {}
        for name in (ABSENCE, COVER, CUT_BY_IMAGE):
            if not (sequence_dir / name).is_file():
                raise DatasetError(sequence_dir, f"missing {name} (train and val have one per sequence)")
            labels[name] = read_flags(sequence_dir / name)
            check_count(sequence_dir / name, "labels", len(labels[name]), len(images))
        absent, cover, cut = labels[ABSENCE], labels[COVER], labels[CUT_BY_IMAGE]
    meta = read_meta_info(sequence_dir / META_INFO) if (sequence_dir / META_INFO).is_file() else {}
    frames = [Frame(str(path), box, tags=frozenset({"cut_by_image"}) if cut_flag else frozenset(),
                    absent=bool(absent_flag), cover=cover_level)
              for path, box, absent_flag, cover_level, cut_flag in zip(images, boxes, absent, cover, cut)]
    return Video(sequence_dir.name, frames, meta.get("object_class", ""))


def split_folder(root: Path, split: str) -> Path:
    """The folder of ``split`` under a GOT-10k root, or ``root`` when it is that split's folder."""
    folder = root / SPLIT_FOLDERS[split]
    if folder.is_dir():
        return folder
    is_split_folder = (root / LIST_FILE).is_file() or any(
        p.is_dir() for p in root.glob(f"{SEQUENCE_PREFIX}*"))
    if not is_split_folder:
        raise DatasetError(root, f"missing GOT-10k {split} split: no {SPLIT_FOLDERS[split]}/ folder, "
                                 f"and no {LIST_FILE} or {SEQUENCE_PREFIX}* sequence here")
    other = root.name.lower()
    if other in SPLIT_FOLDERS.values() and other != SPLIT_FOLDERS[split]:
        raise DatasetError(root, f"this is GOT-10k's {other} split, not {split}: give the GOT-10k "
                                 f"root or its {SPLIT_FOLDERS[split]}/ folder")
    return root


def sequence_names(folder: Path) -> tuple:
    """The split's sequences: its ``list.txt``, else every folder holding a ground truth."""
    if (folder / LIST_FILE).is_file():
        names = read_name_list(folder / LIST_FILE)
    else:
        names = tuple(p.name for p in sorted(folder.iterdir()) if (p / GROUNDTRUTH).is_file())
    if not names:
        raise DatasetError(folder, f"no GOT-10k sequence: empty {LIST_FILE} and no folder with a "
                                   f"{GROUNDTRUTH}")
    return names


def load_got10k(root: str | Path, split: str = "train",
                report: Optional[SkipReport] = None) -> list:
    """Read GOT-10k's ``split`` under ``root`` -> list[Video], in ``list.txt`` order.

    ``split``: ``"train"``, ``"val"``, ``"test"``, or ``"vottrain"`` (train
    without its sequences that overlap VOT). A sequence named in ``list.txt``
    but missing, or unusable, is recorded in ``report`` and skipped.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown GOT-10k split {split!r}; choose one of {', '.join(SPLITS)}")
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(root, "missing folder: the GOT-10k root does not exist")
    report = report if report is not None else SkipReport()
    folder = split_folder(root, split)
    names = sequence_names(folder)
    if split == "vottrain":
        overlap = shipped_list(GOT10K_VOT_OVERLAP)
        names = tuple(name for name in names if name not in overlap)
    videos = []
    for name in names:
        sequence_dir = folder / name
        if not sequence_dir.is_dir():
            report.skip(sequence_dir, f"missing folder: listed in {folder / LIST_FILE}")
            continue
        try:
            videos.append(load_got10k_sequence(sequence_dir, split == "test", report))
        except DatasetError as exc:
            report.skip(exc.source, exc.reason)
    return videos
