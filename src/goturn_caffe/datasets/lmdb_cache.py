"""The LMDB training cache: every image training reads, plus the annotation index.

Layout of the LMDB environment (a directory with ``data.mdb``):

* ``img/<key>``  -> the image file's original bytes (verified to decode; keys
  are the portable ``<source>/<relative path>`` of :mod:`training_set`)
* ``size/<key>`` -> ``"<width> <height>"`` of the decoded image, written in the
  same transaction as ``img/<key>``: its presence marks the entry finished
* ``__index__``  -> JSON: videos, still images, boxes and the skip report;
  written last

Keeping the original bytes (rather than re-encoding) makes a cached read
bit-identical to a file read. A build writes into ``<out>.partial`` and renames
it to ``<out>`` only once the index is in, so ``<out>`` is always complete; an
interrupted build is resumed from the partial, skipping finished entries.
Readers open the environment read-only without locks, lazily, once per process.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import lmdb

from goturn_caffe.boxes import Box
from goturn_caffe.datasets.base import Frame, SkipReport, StillImage, Video
from goturn_caffe.datasets.image_io import DatasetError

IMAGE_PREFIX = b"img/"
SIZE_PREFIX = b"size/"
INDEX_KEY = b"__index__"
FORMAT = "goturn-caffe training cache"
VERSION = 1
# Address space reserved for the map, not disk: on Linux the file grows as
# written. Caffe's own LMDB writer reserves the same 1 TiB.
MAP_SIZE = 1 << 40
COMMIT_EVERY = 256  # images per write transaction: bounds the work lost to an interruption


def partial_path(out) -> Path:
    """Where a build of ``out`` writes until it is complete."""
    out = Path(out)
    return out.with_name(out.name + ".partial")


def _open_readonly(path) -> lmdb.Environment:
    if not (Path(path) / "data.mdb").is_file():
        raise DatasetError(path, "missing cache: no LMDB database here "
                                 "(build it with data_prep/build_lmdb.py)")
    return lmdb.open(str(path), readonly=True, lock=False, readahead=False, max_readers=512)


class LmdbImageStore:
    """Read-only access to the images of a cache; safe to pickle and to use after fork.

    The environment is opened on first use in each process (an LMDB handle must
    not cross a fork), read-only and without locks: nothing writes a finished cache.
    """

    def __init__(self, path):
        self.path = str(path)
        self._env = None
        self._pid = None

    def _environment(self) -> lmdb.Environment:
        if self._env is None or self._pid != os.getpid():
            self._env, self._pid = _open_readonly(self.path), os.getpid()
        return self._env

    def get(self, key: str) -> bytes:
        """The stored bytes of image ``key``; DatasetError when the cache lacks it."""
        with self._environment().begin() as txn:
            data = txn.get(IMAGE_PREFIX + key.encode())
        if data is None:
            raise DatasetError(f"{self.path}[{key}]", "missing from cache")
        return data

    def __getstate__(self):
        return {"path": self.path, "_env": None, "_pid": None}


# ---- the annotation index ---------------------------------------------------------
def index_to_json(training_set) -> bytes:
    """The videos, still images and skip report of a TrainingSet as JSON bytes."""
    index = {
        "format": FORMAT,
        "version": VERSION,
        "sources": training_set.roots,  # where it was built from; informational only
        "videos": [{"name": v.name, "category": v.category,
                    "frames": [[f.path, *f.box.as_array().tolist()] for f in v.frames]}
                   for v in training_set.videos],
        "images": [{"path": i.path, "annotated_size": i.annotated_size,
                    "boxes": [b.as_array().tolist() for b in i.boxes]}
                   for i in training_set.images],
        "skipped": training_set.report.entries,
    }
    return json.dumps(index).encode()


def index_from_json(data: bytes, where: str) -> tuple[list, list, SkipReport]:
    """Inverse of :func:`index_to_json` -> (videos, images, report)."""
    try:
        index = json.loads(data)
        if index.get("format") != FORMAT or index.get("version") != VERSION:
            raise ValueError(f"not a {FORMAT} version {VERSION}")
        videos = [Video(v["name"], [Frame(key, Box(*coords)) for key, *coords in v["frames"]],
                        v["category"]) for v in index["videos"]]
        images = [StillImage(i["path"], [Box(*b) for b in i["boxes"]],
                             tuple(i["annotated_size"]) if i["annotated_size"] else None)
                  for i in index["images"]]
        report = SkipReport([tuple(entry) for entry in index["skipped"]])
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetError(where, f"bad cache index: {exc}") from None
    return videos, images, report


def read_index(path) -> tuple[list, list, SkipReport]:
    """(videos, images, report) stored in the cache at ``path``."""
    env = _open_readonly(path)
    try:
        with env.begin() as txn:
            data = txn.get(INDEX_KEY)
    finally:
        env.close()
    if data is None:
        raise DatasetError(path, "incomplete cache: no index (the build did not finish)")
    return index_from_json(data, str(path))


# ---- building -------------------------------------------------------------------
@dataclass
class CacheBuild:
    """What a build did: ``written`` images this run, ``reused`` from an earlier interrupted run."""

    path: Path
    written: int
    reused: int
    report: SkipReport
    up_to_date: bool = False


def _finished_sizes(txn) -> dict:
    """key -> (width, height) of every finished entry of a (partial) cache."""
    sizes = {}
    cursor = txn.cursor()
    if cursor.set_range(SIZE_PREFIX):
        for raw_key, value in cursor:
            if not raw_key.startswith(SIZE_PREFIX):
                break
            width, height = value.split()
            sizes[raw_key[len(SIZE_PREFIX):].decode()] = (int(width), int(height))
    return sizes


def build_cache(training_set, out, workers: int = 1, force: bool = False,
                progress: bool = True, commit_every: int = COMMIT_EVERY) -> CacheBuild:
    """Write every image of ``training_set`` (read from its roots) and its index to ``out``.

    Images that fail to decode, and boxes that then lie outside their image,
    are left out and recorded in the returned report (it extends
    ``training_set.report`` and is stored in the index). An existing complete
    ``out`` is kept as is unless ``force``; a leftover ``<out>.partial`` is
    resumed. ``workers`` processes decode in parallel.
    """
    from goturn_caffe.datasets.training_set import verify_images

    out = Path(out)
    if out.exists() and not (out / "data.mdb").is_file():
        # Replacing it at the end would delete whatever this folder holds.
        raise DatasetError(out, "exists and is not an LMDB cache: choose another output path")
    if out.exists() and not force:
        return CacheBuild(out, 0, 0, SkipReport(), up_to_date=True)
    partial = partial_path(out)
    partial.mkdir(parents=True, exist_ok=True)
    report = SkipReport(list(training_set.report.entries))
    env = lmdb.open(str(partial), map_size=MAP_SIZE, readahead=False)
    try:
        with env.begin() as txn:
            sizes = _finished_sizes(txn)
        keys = training_set.keys()
        reused = sum(key in sizes for key in keys)
        todo = [key for key in keys if key not in sizes]
        written = 0
        txn = env.begin(write=True)
        try:
            for key, data, size in verify_images(training_set, todo, report, workers, progress):
                txn.put(IMAGE_PREFIX + key.encode(), data)
                txn.put(SIZE_PREFIX + key.encode(), f"{size[0]} {size[1]}".encode())
                sizes[key] = size
                written += 1
                if written % commit_every == 0:
                    txn.commit()
                    txn = env.begin(write=True)
            txn.commit()
        except BaseException:
            txn.abort()
            raise
        cached = training_set.restricted_to(sizes, report)
        cached.check_not_empty(str(out))
        with env.begin(write=True) as txn:
            txn.put(INDEX_KEY, index_to_json(cached))
    finally:
        env.close()
    _move_into_place(partial, out)
    return CacheBuild(out, written, reused, report)


def _move_into_place(partial: Path, out: Path) -> None:
    """Rename the finished partial to ``out``, replacing an older cache only at the last step."""
    old = out.with_name(out.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        os.replace(out, old)
    os.replace(partial, out)
    if old.exists():
        shutil.rmtree(old)
