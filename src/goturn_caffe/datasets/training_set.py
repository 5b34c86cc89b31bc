"""The training data source: ALOV300++ videos, ImageNet DET still images, OTB extras.

A :class:`TrainingSet` names every image by a portable key, ``<source>/<path
relative to that dataset's root>`` (``alov/imagedata++/01-Light/.../00000001.jpg``),
and reads it either from the dataset folders or from the LMDB cache built by
:mod:`goturn_caffe.datasets.lmdb_cache`; both give the same bytes, so the same
pixels. Videos keep only their annotated frames (training pairs are
consecutive annotated frames, as in the authors' ``video.annotations``), and
only videos with at least two of them.

The object is picklable: worker processes of the data layer each receive a
copy and open the cache themselves, lazily.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Iterator, Optional

import numpy as np
from tqdm import tqdm

from goturn_caffe.boxes import Box
from goturn_caffe.datasets.alov import load_alov
from goturn_caffe.datasets.base import SkipReport, StillImage, Video
from goturn_caffe.datasets.image_io import DatasetError, decode_image, read_image_bytes
from goturn_caffe.datasets.imagenet import boxes_in_image, load_imagenet_det, load_still_image
from goturn_caffe.datasets.otb import load_otb

MIN_VIDEO_ANNOTATIONS = 2  # one training pair needs two annotated frames


def _relative_key(source: str, root: Path, path: str) -> str:
    return f"{source}/{Path(path).relative_to(root).as_posix()}"


def _training_video(video: Video, source: str, root: Path, report: SkipReport) -> Optional[Video]:
    """``video`` cut to its annotated frames, paths turned into keys; None when it has < 2."""
    frames = [replace(f, path=_relative_key(source, root, f.path)) for f in video.frames
              if f.box is not None]
    if len(frames) < MIN_VIDEO_ANNOTATIONS:
        report.skip(video.name, f"too few annotated frames: {len(frames)}")
        return None
    return Video(video.name, frames, video.category)


def box_overlaps_image(box: Box, width: int, height: int) -> bool:
    """True when the box covers some of the W x H image (a box may stick out partly)."""
    return box.x2 > 0 and box.y2 > 0 and box.x1 < width and box.y1 < height


@dataclass
class TrainingSet:
    """Videos and still images for training, with one way to read their images.

    ``videos``: list[Video] whose frames all carry a box; ``images``:
    list[StillImage] with >= 1 box (annotated-size coordinates, rescaled on
    load by :meth:`load_still`). Paths are keys (see module doc). Reads come
    from ``roots`` (source -> dataset folder) or, when ``lmdb_path`` is set,
    from that cache.
    """

    videos: list
    images: list
    roots: dict = field(default_factory=dict)
    lmdb_path: Optional[str] = None
    report: SkipReport = field(default_factory=SkipReport)
    _store: object = field(default=None, init=False, repr=False, compare=False)

    # ---- construction ------------------------------------------------------
    @classmethod
    def from_roots(cls, alov=None, det=None, otb=None, alov_split: str = "all",
                   exclude_vot_overlap: bool = True) -> "TrainingSet":
        """Read the dataset folders given (any of them may be None, not all).

        ``alov``: ALOV300++ root; ``det``: ImageNet DET root (ILSVRC2014 or 2015
        layout); ``otb``: an OTB sequence or folder of sequences, used as extra
        fully annotated training videos. ``alov_split`` / ``exclude_vot_overlap``
        as in :func:`~goturn_caffe.datasets.alov.load_alov`.
        """
        roots = {name: Path(root) for name, root in (("alov", alov), ("det", det), ("otb", otb))
                 if root is not None}
        if not roots:
            raise DatasetError("training set", "no dataset root given (alov, det or otb)")
        for name, root in roots.items():
            if not root.is_dir():
                raise DatasetError(root, f"missing folder: the {name} root does not exist")
        report = SkipReport()
        videos, images = [], []
        if "alov" in roots:
            videos += [("alov", v) for v in load_alov(roots["alov"], alov_split, exclude_vot_overlap, report)]
        if "otb" in roots:
            videos += [("otb", v) for v in load_otb(roots["otb"], report)]
        if "det" in roots:
            images = [replace(image, path=_relative_key("det", roots["det"], image.path))
                      for image in load_imagenet_det(roots["det"], report)]
        kept_videos = [_training_video(video, source, roots[source], report) for source, video in videos]
        training_set = cls([v for v in kept_videos if v is not None], images,
                           {name: str(root) for name, root in roots.items()}, None, report)
        training_set.check_not_empty(", ".join(str(r) for r in roots.values()))
        return training_set

    @classmethod
    def from_lmdb(cls, path) -> "TrainingSet":
        """Open a cache written by :func:`~goturn_caffe.datasets.lmdb_cache.build_cache`."""
        from goturn_caffe.datasets.lmdb_cache import read_index

        videos, images, report = read_index(path)
        training_set = cls(videos, images, {}, str(path), report)
        training_set.check_not_empty(str(path))
        return training_set

    def check_not_empty(self, where: str) -> None:
        if not self.videos and not self.images:
            raise DatasetError(where, "empty training set: no usable video or still image "
                                      f"({self.report.summary()})")

    # ---- reading -----------------------------------------------------------
    def keys(self) -> list:
        """Every image key training reads (annotated video frames, then still images), unique."""
        keys = [frame.path for video in self.videos for frame in video.frames]
        keys += [image.path for image in self.images]
        return list(dict.fromkeys(keys))

    def disk_path(self, key: str) -> Path:
        """The file of ``key`` under its dataset root."""
        source, _, relative = key.partition("/")
        if source not in self.roots:
            raise DatasetError(key, f"no {source!r} dataset root in this training set")
        return Path(self.roots[source]) / relative

    def read_bytes(self, key: str) -> bytes:
        """The encoded image of ``key``, from the LMDB cache or the dataset folder."""
        if self.lmdb_path is None:
            return read_image_bytes(self.disk_path(key))
        if self._store is None:
            from goturn_caffe.datasets.lmdb_cache import LmdbImageStore

            self._store = LmdbImageStore(self.lmdb_path)
        return self._store.get(key)

    def read_image(self, key: str) -> np.ndarray:
        """Decode the image of ``key`` -> (H, W, 3) BGR uint8; DatasetError when unusable."""
        return decode_image(self.read_bytes(key), key)

    def load_still(self, image: StillImage) -> tuple[np.ndarray, list]:
        """A still image and its boxes rescaled to the decoded image (see ``boxes_in_image``)."""
        return load_still_image(image, self.read_image)

    def __getstate__(self):
        # The LMDB handle belongs to the process that opened it; copies reopen lazily.
        state = self.__dict__.copy()
        state["_store"] = None
        return state

    # ---- validation ----------------------------------------------------------
    def restricted_to(self, image_sizes: dict, report: SkipReport) -> "TrainingSet":
        """Drop what cannot be trained on once the images are decoded.

        ``image_sizes``: key -> (width, height) of every image that decoded; a
        frame or still image whose key is absent is dropped, and so is a box
        lying entirely outside its image (a box partly outside is kept, as the
        authors do). Videos left with < 2 frames and images with no box go too.
        """
        def usable(key: str, box: Box, where: str) -> bool:
            if key not in image_sizes:
                return False
            if not box_overlaps_image(box, *image_sizes[key]):
                report.skip(where, f"box outside image: {box} in {image_sizes[key][0]} x "
                                   f"{image_sizes[key][1]}")
                return False
            return True

        videos = []
        for video in self.videos:
            frames = [f for f in video.frames if usable(f.path, f.box, f.path)]
            if len(frames) >= MIN_VIDEO_ANNOTATIONS:
                videos.append(Video(video.name, frames, video.category))
            else:
                report.skip(video.name, f"too few annotated frames: {len(frames)} usable")
        images = []
        for image in self.images:
            if image.path not in image_sizes:
                continue
            real_boxes = boxes_in_image(image, *image_sizes[image.path])
            boxes = [box for box, real in zip(image.boxes, real_boxes)
                     if usable(image.path, real, image.path)]
            if boxes:
                images.append(StillImage(image.path, boxes, image.annotated_size))
            else:
                report.skip(image.path, "no usable box: every box lies outside the image")
        return TrainingSet(videos, images, dict(self.roots), self.lmdb_path, report)

    def summary(self) -> str:
        """Counts, where the images come from, and what was skipped."""
        frames = sum(len(v) for v in self.videos)
        boxes = sum(len(i.boxes) for i in self.images)
        source = f"LMDB cache {self.lmdb_path}" if self.lmdb_path else \
            "files under " + ", ".join(f"{k}={v}" for k, v in self.roots.items())
        return (f"{len(self.videos)} videos ({frames} annotated frames, {frames - len(self.videos)} "
                f"training pairs), {len(self.images)} still images ({boxes} boxes); read from "
                f"{source}; {self.report.summary()}")


# ---- decoding every image once (validation and cache build) -------------------
_worker_set: Optional[TrainingSet] = None


def _init_worker(training_set: TrainingSet) -> None:
    global _worker_set
    _worker_set = training_set


def _check_key(key: str):
    """(key, bytes, (width, height)) for a usable image, (key, None, error message) otherwise."""
    try:
        data = _worker_set.read_bytes(key)
        image = decode_image(data, key)
    except DatasetError as exc:
        return key, None, exc.reason
    return key, data, (image.shape[1], image.shape[0])


def verify_images(training_set: TrainingSet, keys: Iterable[str], report: SkipReport,
                  workers: int = 1, progress: bool = True) -> Iterator[tuple]:
    """Read and decode every image of ``keys`` -> yields (key, bytes, (width, height)).

    Unusable images are recorded in ``report`` and not yielded; nothing stops
    the loop. ``workers`` > 1 decodes in that many processes (order kept).
    """
    keys = list(keys)
    bar = tqdm(total=len(keys), desc="decoding images", unit="img", disable=not progress)
    if workers > 1:
        pool = multiprocessing.get_context("spawn").Pool(workers, _init_worker, (training_set,))
        results = pool.imap(_check_key, keys, chunksize=16)
    else:
        pool = None
        _init_worker(training_set)
        results = map(_check_key, keys)
    try:
        for key, data, size_or_reason in results:
            bar.update()
            if data is None:
                report.skip(key, size_or_reason)
            else:
                yield key, data, size_or_reason
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()


# ---- command-line plumbing shared by data_prep/validate_dataset.py and build_lmdb.py ----
def add_dataset_arguments(parser) -> None:
    """The dataset-root options; defaults: the sample bundled in data/sample, else the shared data."""
    from goturn_caffe.paths import REPO_ROOT, shared_data_dir

    def default(name: str) -> Optional[str]:
        candidates = (REPO_ROOT / "data" / "sample" / name, shared_data_dir() / name)
        return next((str(folder) for folder in candidates if folder.is_dir()), None)

    group = parser.add_argument_group("datasets (give at least one)")
    group.add_argument("--alov", default=default("alov"),
                       help="ALOV300++ root holding imagedata++/ and alov300++_rectangleAnnotation_full/ "
                            "(default: %(default)s)")
    group.add_argument("--det", default=default("det"),
                       help="ImageNet DET root, ILSVRC2014 or ILSVRC2015 layout (default: %(default)s)")
    group.add_argument("--otb", default=None,
                       help="OTB sequence folder, or folder of them, used as extra training videos "
                            "(default: none; OTB is usually kept for evaluation)")
    group.add_argument("--no-alov", action="store_true", help="ignore the default ALOV root")
    group.add_argument("--no-det", action="store_true", help="ignore the default DET root")
    group.add_argument("--alov-split", choices=("all", "train", "val"), default="all",
                       help="the authors' ALOV split: all 307 videos (final model, default), "
                            "or their 251 train / 56 validation videos")
    group.add_argument("--keep-vot-overlap", action="store_true",
                       help="keep the 7 ALOV videos that are also in VOT2014 (the authors drop them)")


def training_set_from_args(args) -> TrainingSet:
    return TrainingSet.from_roots(alov=None if args.no_alov else args.alov,
                                  det=None if args.no_det else args.det, otb=args.otb,
                                  alov_split=args.alov_split,
                                  exclude_vot_overlap=not args.keep_vot_overlap)


def skip_details(report: SkipReport, per_reason: int = 5) -> str:
    """The skipped entries grouped by reason, at most ``per_reason`` examples each (0 = all)."""
    groups: dict = {}
    for where, reason in report.entries:
        groups.setdefault(reason.split(":")[0], []).append(f"{where}: {reason}")
    lines = []
    for reason, entries in sorted(groups.items(), key=lambda item: -len(item[1])):
        lines.append(f"{reason} ({len(entries)}):")
        shown = entries if per_reason <= 0 else entries[:per_reason]
        lines += [f"  {entry}" for entry in shown]
        if len(shown) < len(entries):
            lines.append(f"  ... and {len(entries) - len(shown)} more")
    return "\n".join(lines)
