"""Where the images of a training set are read from: the dataset folders, or the LMDB cache.

Both stores answer ``get(key) -> bytes`` for a portable key ``<source>/<path
relative to that dataset's root>`` (``alov/imagedata++/01-Light/.../00000001.jpg``)
and give the original file's bytes, so the same pixels. Both are picklable: a
worker process receives a copy and opens what it needs itself.

The cache's layout (an LMDB environment, a directory with ``data.mdb``):

* ``img/<key>``  -> the image file's original bytes (verified to decode)
* ``size/<key>`` -> ``"<width> <height>"`` of the decoded image, written in the
  same transaction as ``img/<key>``: its presence marks the entry finished
* ``__index__``  -> JSON: videos, still images, boxes and the skip report;
  written last (:mod:`goturn_caffe.datasets.lmdb_cache` writes and reads it)
"""

from __future__ import annotations

import os
from pathlib import Path

import lmdb

from goturn_caffe.datasets.image_io import DatasetError, read_image_bytes

IMAGE_PREFIX = b"img/"
SIZE_PREFIX = b"size/"
INDEX_KEY = b"__index__"


def open_cache_readonly(path) -> lmdb.Environment:
    """The cache at ``path``, read-only and without locks (nothing writes a finished cache)."""
    if not (Path(path) / "data.mdb").is_file():
        raise DatasetError(path, "missing cache: no LMDB database here "
                                 "(build it with data_prep/build_lmdb.py)")
    return lmdb.open(str(path), readonly=True, lock=False, readahead=False, max_readers=512)


class FolderImageStore:
    """The images as files under their dataset roots (``roots``: source -> folder)."""

    def __init__(self, roots: dict):
        self.roots = dict(roots)

    def path(self, key: str) -> Path:
        """The file of ``key`` under its dataset root."""
        source, _, relative = key.partition("/")
        if source not in self.roots:
            raise DatasetError(key, f"no {source!r} dataset root in this training set")
        return Path(self.roots[source]) / relative

    def get(self, key: str) -> bytes:
        return read_image_bytes(self.path(key))

    def describe(self) -> str:
        return "files under " + ", ".join(f"{k}={v}" for k, v in self.roots.items())


class LmdbImageStore:
    """The images of a finished cache; safe to pickle and to use after fork.

    The environment is opened on first use in each process (an LMDB handle must
    not cross a fork).
    """

    def __init__(self, path):
        self.path = str(path)
        self._env = None
        self._pid = None

    def _environment(self) -> lmdb.Environment:
        if self._env is None or self._pid != os.getpid():
            self._env, self._pid = open_cache_readonly(self.path), os.getpid()
        return self._env

    def get(self, key: str) -> bytes:
        """The stored bytes of image ``key``; DatasetError when the cache lacks it."""
        with self._environment().begin() as txn:
            data = txn.get(IMAGE_PREFIX + key.encode())
        if data is None:
            raise DatasetError(f"{self.path}[{key}]", "missing from cache")
        return data

    def describe(self) -> str:
        return f"LMDB cache {self.path}"

    def __getstate__(self):
        return {"path": self.path, "_env": None, "_pid": None}
