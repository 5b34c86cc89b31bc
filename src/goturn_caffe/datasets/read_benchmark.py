"""Throughput of reading training pairs from a TrainingSet (files vs LMDB cache).

One *pair* is what one sampling step of training decodes: a video pair is two
consecutive annotated frames of a random video (2 decodes); a still pair is
one ImageNet image used as its own previous frame (1 decode). Training
alternates the two (``"mixed"``). Each pair yields 11 examples (1 true + 10
shifted), so the data layer needs 2,000 / 11 ~ 182 pairs/s to keep up with a
solver consuming 2,000 examples/s.
"""

from __future__ import annotations

import multiprocessing
import time

import numpy as np

EXAMPLES_PER_PAIR = 11
KINDS = ("video", "still", "mixed")

_worker_set = None


def random_pairs(training_set, count: int, kind: str = "mixed", seed: int = 0) -> list:
    """``count`` random pairs of keys: (previous, current) frames, or (image, image)."""
    if kind not in KINDS:
        raise ValueError(f"unknown pair kind {kind!r}; choose one of {', '.join(KINDS)}")
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(count):
        use_video = kind == "video" or (kind == "mixed" and i % 2 == 1) or not training_set.images
        if use_video and training_set.videos:
            video = training_set.videos[rng.integers(len(training_set.videos))]
            index = rng.integers(len(video.frames) - 1)
            pairs.append((video.frames[index].path, video.frames[index + 1].path))
        else:
            key = training_set.images[rng.integers(len(training_set.images))].path
            pairs.append((key, key))
    return pairs


def _init(training_set) -> None:
    global _worker_set
    _worker_set = training_set


def _read_pair(pair: tuple) -> None:
    """Decode the images of one pair (a still image only once)."""
    _worker_set.read_image(pair[0])
    if pair[1] != pair[0]:
        _worker_set.read_image(pair[1])


def pairs_per_second(training_set, pairs: list, workers: int = 1) -> float:
    """Wall-clock pairs/s decoding ``pairs`` with ``workers`` processes (start-up not counted)."""
    if workers <= 1:
        _init(training_set)
        _read_pair(pairs[0])  # open the cache / warm the import
        start = time.perf_counter()
        for pair in pairs:
            _read_pair(pair)
        return len(pairs) / (time.perf_counter() - start)
    with multiprocessing.get_context("spawn").Pool(workers, _init, (training_set,)) as pool:
        pool.map(_read_pair, pairs[:workers * 2], chunksize=1)  # every worker started and warm
        start = time.perf_counter()
        pool.map(_read_pair, pairs, chunksize=8)
        return len(pairs) / (time.perf_counter() - start)


def compare_sources(disk_set, cached_set, num_pairs: int = 400, workers: tuple = (1, 2),
                    kinds: tuple = KINDS, seed: int = 0) -> list:
    """Pairs/s from files vs from the cache, for each pair kind and worker count.

    Both read the same random pairs (keys are shared). Returns rows of dicts:
    kind, workers, files, lmdb (pairs/s) and lmdb_examples (examples/s).
    """
    rows = []
    for kind in kinds:
        pairs = random_pairs(cached_set, num_pairs, kind, seed)
        for count in workers:
            files = pairs_per_second(disk_set, pairs, count)
            lmdb = pairs_per_second(cached_set, pairs, count)
            rows.append({"kind": kind, "workers": count, "files": files, "lmdb": lmdb,
                         "lmdb_examples": lmdb * EXAMPLES_PER_PAIR})
    return rows
