"""Throughput of reading training pairs from a TrainingSet (files vs LMDB cache).

One *pair* is what one sampling step of training decodes: a video pair is two
consecutive annotated frames of a random video (2 decodes); a still pair is
one ImageNet image used as its own previous frame (1 decode). Training
alternates the two (``"mixed"``). Each pair yields 11 examples (1 true + 10
shifted), so the data layer needs 2,000 / 11 ~ 182 pairs/s to keep up with a
solver consuming 2,000 examples/s.
"""

from __future__ import annotations

import time

import numpy as np

from goturn_caffe.datasets.decoding import worker_pool, worker_training_set
from goturn_caffe.datasets.pairs import draw_still_image, draw_video_frames, pair_kinds

EXAMPLES_PER_PAIR = 11
KINDS = {"video": "videos", "still": "images", "mixed": "alternate"}  # -> the training mix


def random_pairs(training_set, count: int, kind: str = "mixed", seed: int = 0) -> list:
    """``count`` random pairs of keys: (previous, current) frames, or (image, image),
    drawn as training draws them (``kind``: video pairs, still images, or training's mix)."""
    if kind not in KINDS:
        raise ValueError(f"unknown pair kind {kind!r}; choose one of {', '.join(KINDS)}")
    kinds = pair_kinds(KINDS[kind], training_set)
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(count):
        if kinds[i % len(kinds)] == "video":
            previous, current = draw_video_frames(training_set.videos, rng)
            pairs.append((previous.path, current.path))
        else:
            key = draw_still_image(training_set.images, rng).path
            pairs.append((key, key))
    return pairs


def _read_pair(pair: tuple) -> None:
    """Decode the images of one pair (a still image only once)."""
    training_set = worker_training_set()
    training_set.read_image(pair[0])
    if pair[1] != pair[0]:
        training_set.read_image(pair[1])


def pairs_per_second(training_set, pairs: list, workers: int = 1) -> float:
    """Wall-clock pairs/s decoding ``pairs`` with ``workers`` processes (start-up not counted)."""
    with worker_pool(training_set, workers) as pool:
        if pool is None:
            _read_pair(pairs[0])  # open the cache / warm the import
            start = time.perf_counter()
            for pair in pairs:
                _read_pair(pair)
            return len(pairs) / (time.perf_counter() - start)
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
