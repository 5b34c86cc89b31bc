"""The LMDB training cache: every image training reads, plus the annotation index.

The layout is :mod:`goturn_caffe.datasets.storage`'s (which also reads the
images back); this module writes a cache and reads its index. Keeping the
original bytes (rather than re-encoding) makes a cached read bit-identical to a
file read. A build writes into the hidden partial folder beside ``<out>``
(:func:`goturn_caffe.fileio.partial_path`) and renames it to ``<out>`` only once
the index is in, so ``<out>`` is always complete; an interrupted build is
resumed from the partial, skipping finished entries.  A write that fails (a
full disk, a file-size limit, a full LMDB map) ends the build with one line
naming the cache and the cause (:func:`write_failure`); the partial is kept.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import lmdb

from goturn_caffe.datasets.base import Frame, SkipReport, StillImage, Video
from goturn_caffe.datasets.decoding import verify_images
from goturn_caffe.datasets.image_io import DatasetError
from goturn_caffe.datasets.storage import IMAGE_PREFIX, INDEX_KEY, SIZE_PREFIX, open_cache_readonly
from goturn_caffe.fileio import partial_path
from goturn_caffe.geometry.boxes import Box

FORMAT = "goturn-caffe training cache"
VERSION = 1
# Address space reserved for the map, not disk: on Linux the file grows as
# written. Caffe's own LMDB writer reserves the same 1 TiB.
MAP_SIZE = 1 << 40
COMMIT_EVERY = 256  # images per write transaction: bounds the work lost to an interruption
# Below this much free space a failed LMDB write is put down to a full disk.
LOW_SPACE_BYTES = 64 << 20


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
    env = open_cache_readonly(path)
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
    ``out`` is kept as is unless ``force``; a leftover partial build is
    resumed. ``workers`` processes decode in parallel.
    """
    out = Path(out)
    if out.exists() and not (out / "data.mdb").is_file():
        # Replacing it at the end would delete whatever this folder holds.
        raise DatasetError(out, "exists and is not an LMDB cache: choose another output path")
    if out.exists() and not force:
        return CacheBuild(out, 0, 0, SkipReport(), up_to_date=True)
    partial = partial_path(out)
    partial.mkdir(parents=True, exist_ok=True)
    try:
        return _build(training_set, out, partial, workers, progress, commit_every)
    except lmdb.Error as exc:
        raise write_failure(out, partial, exc) from None


def write_failure(out: Path, partial: Path, exc: Exception) -> OSError:
    """The one-line error for an LMDB write that failed while building ``out``:
    the map full (MDB_MAP_FULL: ``MAP_SIZE`` reached), the disk full (ENOSPC:
    less than ``LOW_SPACE_BYTES`` free where the partial lies), or else LMDB's
    own words (an I/O error: a file-size limit, a failing disk)."""
    keep = f"the partial build {partial.name} is kept: run again to resume"
    if isinstance(exc, lmdb.MapFullError):
        reserved = f"{MAP_SIZE >> 30} GiB" if MAP_SIZE >= 1 << 30 else f"{MAP_SIZE >> 10} KiB"
        return OSError(errno.ENOSPC, f"the LMDB map is full (MDB_MAP_FULL: the cache would pass "
                                     f"the {reserved} reserved for it); {keep}", str(out))
    try:
        free = shutil.disk_usage(partial).free
    except OSError:
        free = None
    if free is not None and free < LOW_SPACE_BYTES:
        return OSError(errno.ENOSPC, f"no space left on the disk ({free >> 20} MiB free, ENOSPC); "
                                     f"free some space, then {keep}", str(out))
    return OSError(errno.EIO, f"cannot write the cache (LMDB: {exc}; a file-size limit or a "
                              f"failing disk?); {keep}", str(out))


def _build(training_set, out: Path, partial: Path, workers: int, progress: bool,
           commit_every: int) -> CacheBuild:
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
