"""TrackingNet reader (Müller et al., "TrackingNet", ECCV 2018): train chunks and the test set.

Layout (``root`` is the TrackingNet folder, or one chunk folder)::

    TRAIN_0/frames/<sequence>/0.jpg, 1.jpg, ...   the frames, numbered from 0
    TRAIN_0/anno/<sequence>.txt                   x,y,w,h per frame, comma-separated
    ...
    TRAIN_11/...
    TEST/frames/<sequence>/0.jpg ...
    TEST/anno/<sequence>.txt                      the first frame's box only

The training set comes in 12 chunks (``TRAIN_0`` .. ``TRAIN_11``); ``chunks``
picks some of them. Each video's ``category`` is its chunk's folder name
(TrackingNet's files carry no object class); boxes are as written in the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

from goturn_caffe.datasets.base import Frame, SkipReport, Video
from goturn_caffe.datasets.groundtruth import check_count, numbered_images, read_boxes
from goturn_caffe.datasets.image_io import DatasetError

SPLITS = ("train", "test")
NUM_TRAIN_CHUNKS = 12
TEST_CHUNK = "TEST"
FRAMES, ANNOTATIONS = "frames", "anno"


def train_chunk(k: int) -> str:
    return f"TRAIN_{k}"


def parse_chunks(text) -> tuple:
    """``"0,3,5"`` (or a list of numbers) -> (0, 3, 5); ValueError outside 0..11."""
    values = text.split(",") if isinstance(text, str) else list(text)
    try:
        chunks = tuple(dict.fromkeys(int(str(v).strip()) for v in values if str(v).strip()))
    except ValueError:
        raise ValueError(f"TrackingNet chunks must be numbers 0..{NUM_TRAIN_CHUNKS - 1}, "
                         f"got {text!r}") from None
    if not chunks or not all(0 <= k < NUM_TRAIN_CHUNKS for k in chunks):
        raise ValueError(f"TrackingNet chunks must be numbers 0..{NUM_TRAIN_CHUNKS - 1}, got {text!r}")
    return chunks


def load_trackingnet_sequence(chunk_dir: Path, name: str, first_frame_only: bool = False,
                              report: Optional[SkipReport] = None) -> Video:
    """Sequence ``name`` of a chunk folder -> Video; :class:`DatasetError` when unusable."""
    report = report if report is not None else SkipReport()
    frames_dir = chunk_dir / FRAMES / name
    images = numbered_images(frames_dir)
    if not images:
        raise DatasetError(frames_dir, "empty sequence: no numbered .jpg images")
    annotation = chunk_dir / ANNOTATIONS / f"{name}.txt"
    boxes = read_boxes(annotation, report)
    if first_frame_only and len(boxes) == 1:
        boxes += [None] * (len(images) - 1)
    check_count(annotation, "boxes", len(boxes), len(images))
    return Video(name, [Frame(str(path), box) for path, box in zip(images, boxes)], chunk_dir.name)


def load_chunk(chunk_dir: Path, first_frame_only: bool, report: SkipReport) -> list:
    """Every sequence of one chunk folder, sorted by name."""
    annotations = chunk_dir / ANNOTATIONS
    if not annotations.is_dir() or not (chunk_dir / FRAMES).is_dir():
        raise DatasetError(chunk_dir, f"missing {ANNOTATIONS}/ or {FRAMES}/: not a TrackingNet chunk")
    videos = []
    for annotation in sorted(annotations.glob("*.txt")):
        try:
            videos.append(load_trackingnet_sequence(chunk_dir, annotation.stem, first_frame_only, report))
        except DatasetError as exc:
            report.skip(exc.source, exc.reason)
    return videos


def chunk_folders(root: Path, split: str, chunks: Optional[Iterable[int]]) -> list:
    """The chunk folders to read: ``root`` itself when it is one, else the split's
    chunks under it (``chunks``: those TRAIN_k, each required)."""
    if (root / ANNOTATIONS).is_dir() and (root / FRAMES).is_dir():
        if chunks is not None:
            raise DatasetError(root, "is one TrackingNet chunk: chunks can only be chosen under "
                                     "the TrackingNet root")
        return [root]
    if split == "test":
        if not (root / TEST_CHUNK).is_dir():
            raise DatasetError(root, f"missing TrackingNet {TEST_CHUNK}/ folder")
        return [root / TEST_CHUNK]
    if chunks is None:
        found = [root / train_chunk(k) for k in range(NUM_TRAIN_CHUNKS) if (root / train_chunk(k)).is_dir()]
        if not found:
            raise DatasetError(root, f"missing TrackingNet training chunks: no {train_chunk(0)}/ .. "
                                     f"{train_chunk(NUM_TRAIN_CHUNKS - 1)}/ folder")
        return found
    missing = [train_chunk(k) for k in parse_chunks(chunks) if not (root / train_chunk(k)).is_dir()]
    if missing:
        raise DatasetError(root, f"missing TrackingNet chunk folder {missing[0]}/")
    return [root / train_chunk(k) for k in parse_chunks(chunks)]


def load_trackingnet(root: str | Path, split: str = "test", chunks: Optional[Iterable[int]] = None,
                     report: Optional[SkipReport] = None) -> list:
    """Read TrackingNet's ``split`` (``"train"`` or ``"test"``) under ``root`` -> list[Video].

    ``chunks``: the training chunks to read (numbers 0..11; default every
    ``TRAIN_k`` present). ``root`` may also be one chunk folder. The test split
    has the first frame's box only. Unusable sequences are recorded in
    ``report`` and skipped.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown TrackingNet split {split!r}; choose one of {', '.join(SPLITS)}")
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(root, "missing folder: the TrackingNet root does not exist")
    report = report if report is not None else SkipReport()
    videos = []
    for chunk_dir in chunk_folders(root, split, chunks):
        videos += load_chunk(chunk_dir, split == "test" or chunk_dir.name == TEST_CHUNK, report)
    return videos
