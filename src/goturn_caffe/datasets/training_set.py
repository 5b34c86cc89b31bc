"""The training data source: video datasets (ALOV300++; GOT-10k, LaSOT and TrackingNet
training sets; OTB extras) and ImageNet DET still images.

A :class:`TrainingSet` is the index of what training reads: it names every
image by a portable key, ``<source>/<path relative to that dataset's root>``
(``alov/imagedata++/01-Light/.../00000001.jpg``), and reads it through one of
the stores of :mod:`goturn_caffe.datasets.storage` -- the dataset folders, or
the LMDB cache built by :mod:`goturn_caffe.datasets.lmdb_cache`; both give the
same bytes, so the same pixels. Videos keep only their annotated frames where
the target is visible (training pairs are consecutive annotated frames, as in
the authors' ``video.annotations``; an absent target, a NaN line or a zero-size
box is never drawn, and a pair may span such frames as ALOV's pairs span its
unannotated ones), and only videos with at least two of them. The videos of
every source form one pool: a video pair is drawn from any of them. Videos that
overlap an evaluation benchmark can be left out (:meth:`TrainingSet.excluding`,
lists in :mod:`~goturn_caffe.datasets.overlap`).

What else is done with a training set lives beside it: dropping what cannot be
trained on (:mod:`~goturn_caffe.datasets.validation`), decoding every image in
worker processes (:mod:`~goturn_caffe.datasets.decoding`), drawing training
pairs (:mod:`~goturn_caffe.datasets.pairs`) and the command-line options
(:mod:`~goturn_caffe.datasets.arguments`).

The object is picklable: worker processes of the data layer each receive a
copy and open the cache themselves, lazily.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

import numpy as np

from goturn_caffe.datasets.alov import load_alov
from goturn_caffe.datasets.base import SkipReport, StillImage, Video
from goturn_caffe.datasets.got10k import load_got10k
from goturn_caffe.datasets.image_io import DatasetError, decode_image
from goturn_caffe.datasets.imagenet import load_imagenet_det, load_still_image
from goturn_caffe.datasets.lasot import load_lasot
from goturn_caffe.datasets.lmdb_cache import read_index
from goturn_caffe.datasets.otb import load_otb
from goturn_caffe.datasets.overlap import ALL, overlapping_videos, parse_benchmarks, read_name_list
from goturn_caffe.datasets.storage import FolderImageStore, LmdbImageStore
from goturn_caffe.datasets.trackingnet import load_trackingnet
from goturn_caffe.datasets.validation import MIN_VIDEO_ANNOTATIONS, is_trainable_frame, usable_entries

VIDEO_SOURCES = ("alov", "otb", "got10k", "lasot", "trackingnet")


def _relative_key(source: str, root: Path, path: str) -> str:
    return f"{source}/{Path(path).relative_to(root).as_posix()}"


def video_source(video: Video) -> str:
    """The dataset a training video comes from: the first part of its frames' keys."""
    return video.frames[0].path.partition("/")[0]


def _training_video(video: Video, source: str, root: Path, report: SkipReport) -> Optional[Video]:
    """``video`` cut to its trainable frames (a box, the target visible), paths turned
    into keys; None when it has < 2."""
    frames = [replace(f, path=_relative_key(source, root, f.path)) for f in video.frames
              if is_trainable_frame(f)]
    if len(frames) < MIN_VIDEO_ANNOTATIONS:
        report.skip(video.name, f"too few annotated frames: {len(frames)} with a visible target")
        return None
    return Video(video.name, frames, video.category)


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
    def from_roots(cls, alov=None, det=None, otb=None, got10k=None, lasot=None, trackingnet=None,
                   alov_split: str = "all", exclude_vot_overlap: bool = True, exclude=(),
                   exclude_videos=None, trackingnet_chunks=None) -> "TrainingSet":
        """Read the dataset folders given (any of them may be None, not all).

        ``alov``: ALOV300++ root; ``det``: ImageNet DET root (ILSVRC2014 or 2015
        layout); ``otb``: an OTB sequence or folder of sequences, used as extra
        fully annotated training videos; ``got10k``: GOT-10k root (or its
        train/ folder), its train split; ``lasot``: LaSOT root, its training
        sequences (all but the 280 test ones); ``trackingnet``: TrackingNet root
        (or one TRAIN_k folder), its training chunks (``trackingnet_chunks``:
        which, default all present). ``alov_split`` / ``exclude_vot_overlap`` as
        in :func:`~goturn_caffe.datasets.alov.load_alov`; ``exclude`` /
        ``exclude_videos`` as in :meth:`excluding`.
        """
        given = dict(alov=alov, det=det, otb=otb, got10k=got10k, lasot=lasot, trackingnet=trackingnet)
        roots = {name: Path(root) for name, root in given.items() if root is not None}
        if not roots:
            raise DatasetError("training set", "no dataset root given (alov, det, otb, got10k, "
                                               "lasot or trackingnet)")
        if trackingnet_chunks is not None and "trackingnet" not in roots:
            raise DatasetError("training set", "TrackingNet chunks chosen without a TrackingNet root")
        for name, root in roots.items():
            if not root.is_dir():
                raise DatasetError(root, f"missing folder: the {name} root does not exist")
        exclude = parse_benchmarks(exclude)
        for benchmark in exclude:  # refuse an unknown overlap before reading anything
            for source in sorted(roots.keys() & set(VIDEO_SOURCES)):
                overlapping_videos(benchmark, source, exclude_videos is not None)
        report = SkipReport()
        readers = {
            "alov": lambda root: load_alov(root, alov_split, exclude_vot_overlap or "vot" in exclude,
                                           report),
            "otb": lambda root: load_otb(root, report),
            "got10k": lambda root: load_got10k(root, "train", report),
            "lasot": lambda root: load_lasot(root, "train", report),
            "trackingnet": lambda root: load_trackingnet(root, "train", trackingnet_chunks, report),
        }
        videos = [(source, video) for source in VIDEO_SOURCES if source in roots
                  for video in readers[source](roots[source])]
        images = []
        if "det" in roots:
            images = [replace(image, path=_relative_key("det", roots["det"], image.path))
                      for image in load_imagenet_det(roots["det"], report)]
        kept_videos = [_training_video(video, source, roots[source], report) for source, video in videos]
        training_set = cls([v for v in kept_videos if v is not None], images,
                           {name: str(root) for name, root in roots.items()}, None, report)
        training_set = training_set.excluding(exclude, exclude_videos)
        training_set.check_not_empty(", ".join(str(r) for r in roots.values()))
        return training_set

    @classmethod
    def from_lmdb(cls, path, exclude=(), exclude_videos=None) -> "TrainingSet":
        """Open a cache written by :func:`~goturn_caffe.datasets.lmdb_cache.build_cache`
        (``exclude`` / ``exclude_videos``: see :meth:`excluding`)."""
        videos, images, report = read_index(path)
        training_set = cls(videos, images, {}, str(path), report).excluding(exclude, exclude_videos)
        training_set.check_not_empty(str(path))
        return training_set

    def excluding(self, benchmarks=(), videos_file=None) -> "TrainingSet":
        """This set without the videos that overlap ``benchmarks`` (``"otb"``,
        ``"vot"``; the lists of :mod:`~goturn_caffe.datasets.overlap`) and those
        named in ``videos_file`` (one video name per line). Each video left out
        is recorded in the report. A benchmark whose overlap with one of the
        sources is not known is refused (DatasetError) unless ``videos_file``
        is given."""
        benchmarks = parse_benchmarks(benchmarks)
        if not benchmarks and videos_file is None:
            return self
        named = frozenset(read_name_list(videos_file)) if videos_file is not None else frozenset()
        report = SkipReport(list(self.report.entries))
        kept = []
        for video in self.videos:
            source = video_source(video)
            reason = None
            for benchmark in benchmarks:
                listed = overlapping_videos(benchmark, source, videos_file is not None)
                if listed == ALL or video.name in listed:
                    reason = f"benchmark overlap: in {benchmark.upper()}"
                    break
            if reason is None and video.name in named:
                reason = f"excluded: named in {videos_file}"
            if reason is None:
                kept.append(video)
            else:
                report.skip(f"{source}/{video.name}", reason)
        return TrainingSet(kept, self.images, dict(self.roots), self.lmdb_path, report)

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

    @property
    def store(self):
        """Where the images are read from: the LMDB cache, or the dataset folders."""
        if self._store is None:
            self._store = (LmdbImageStore(self.lmdb_path) if self.lmdb_path is not None
                           else FolderImageStore(self.roots))
        return self._store

    def read_bytes(self, key: str) -> bytes:
        """The encoded image of ``key``, from the LMDB cache or the dataset folder."""
        return self.store.get(key)

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
        """This set without what cannot be trained on once the images are decoded
        (``image_sizes``: key -> (width, height) of every image that decoded; see
        :func:`~goturn_caffe.datasets.validation.usable_entries`)."""
        videos, images = usable_entries(self.videos, self.images, image_sizes, report)
        return TrainingSet(videos, images, dict(self.roots), self.lmdb_path, report)

    def summary(self) -> str:
        """Counts, where the images come from, and what was skipped."""
        frames = sum(len(v) for v in self.videos)
        boxes = sum(len(i.boxes) for i in self.images)
        sources = Counter(video_source(v) for v in self.videos)
        pooled = f"videos pooled from {', '.join(f'{s} {n}' for s, n in sources.items())}; " if sources else ""
        return (f"{len(self.videos)} videos ({frames} annotated frames, {frames - len(self.videos)} "
                f"training pairs), {len(self.images)} still images ({boxes} boxes); {pooled}read "
                f"from {self.store.describe()}; {self.report.summary()}")
