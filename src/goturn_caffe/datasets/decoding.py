"""Decoding many images of a training set in worker processes.

A pool's workers each receive a copy of the training set (it is picklable and
reopens its store lazily) through :func:`worker_pool`; the functions they run
read it back with :func:`worker_training_set`. :func:`verify_images` decodes
every image once, for validation and for the cache build.
"""

from __future__ import annotations

import multiprocessing
from contextlib import contextmanager
from typing import Iterable, Iterator, Optional

from tqdm import tqdm

from goturn_caffe.datasets.base import SkipReport
from goturn_caffe.datasets.image_io import DatasetError, decode_image

_worker_set = None


def _init_worker(training_set) -> None:
    global _worker_set
    _worker_set = training_set


def worker_training_set():
    """The training set this process's pool worker received (see :func:`worker_pool`)."""
    return _worker_set


@contextmanager
def worker_pool(training_set, workers: int) -> Iterator[Optional[multiprocessing.pool.Pool]]:
    """A pool of ``workers`` spawned processes holding a copy of ``training_set``;
    None when ``workers`` <= 1 (the caller's process then holds it and does the work)."""
    if workers <= 1:
        _init_worker(training_set)
        yield None
        return
    pool = multiprocessing.get_context("spawn").Pool(workers, _init_worker, (training_set,))
    try:
        yield pool
    finally:
        pool.terminate()


def _check_key(key: str):
    """(key, bytes, (width, height)) for a usable image, (key, None, error message) otherwise."""
    try:
        data = _worker_set.read_bytes(key)
        image = decode_image(data, key)
    except DatasetError as exc:
        return key, None, exc.reason
    return key, data, (image.shape[1], image.shape[0])


def verify_images(training_set, keys: Iterable[str], report: SkipReport,
                  workers: int = 1, progress: bool = True) -> Iterator[tuple]:
    """Read and decode every image of ``keys`` -> yields (key, bytes, (width, height)).

    Unusable images are recorded in ``report`` and not yielded; nothing stops
    the loop. ``workers`` > 1 decodes in that many processes (order kept).
    """
    keys = list(keys)
    with tqdm(total=len(keys), desc="decoding images", unit="img", disable=not progress) as bar, \
            worker_pool(training_set, workers) as pool:
        results = pool.imap(_check_key, keys, chunksize=16) if pool else map(_check_key, keys)
        for key, data, size_or_reason in results:
            bar.update()
            if data is None:
                report.skip(key, size_or_reason)
            else:
                yield key, data, size_or_reason
