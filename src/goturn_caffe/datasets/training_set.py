"""The training data source: ALOV300++ videos, ImageNet DET still images, OTB extras.

A :class:`TrainingSet` is the index of what training reads: it names every
image by a portable key, ``<source>/<path relative to that dataset's root>``
(``alov/imagedata++/01-Light/.../00000001.jpg``), and reads it through one of
the stores of :mod:`goturn_caffe.datasets.storage` -- the dataset folders, or
the LMDB cache built by :mod:`goturn_caffe.datasets.lmdb_cache`; both give the
same bytes, so the same pixels. Videos keep only their annotated frames
(training pairs are consecutive annotated frames, as in the authors'
``video.annotations``), and only videos with at least two of them.

What else is done with a training set lives beside it: dropping what cannot be
trained on (:mod:`~goturn_caffe.datasets.validation`), decoding every image in
worker processes (:mod:`~goturn_caffe.datasets.decoding`), drawing training
pairs (:mod:`~goturn_caffe.datasets.pairs`) and the command-line options
(:mod:`~goturn_caffe.datasets.arguments`).

The object is picklable: worker processes of the data layer each receive a
copy and open the cache themselves, lazily.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

import numpy as np

from goturn_caffe.datasets.alov import load_alov
from goturn_caffe.datasets.base import SkipReport, StillImage, Video
from goturn_caffe.datasets.image_io import DatasetError, decode_image
from goturn_caffe.datasets.imagenet import load_imagenet_det, load_still_image
from goturn_caffe.datasets.lmdb_cache import read_index
from goturn_caffe.datasets.otb import load_otb
from goturn_caffe.datasets.storage import FolderImageStore, LmdbImageStore
from goturn_caffe.datasets.validation import MIN_VIDEO_ANNOTATIONS, usable_entries


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
        return (f"{len(self.videos)} videos ({frames} annotated frames, {frames - len(self.videos)} "
                f"training pairs), {len(self.images)} still images ({boxes} boxes); read from "
                f"{self.store.describe()}; {self.report.summary()}")
