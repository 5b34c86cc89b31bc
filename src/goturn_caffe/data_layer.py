"""The Python data layer of ``goturn_train.prototxt``: Laplace-augmented pairs on the fly.

Caffe-facing code is the :class:`GoturnDataLayer` shell at the bottom; it parses
``param_str`` with :func:`parse_params` and copies batches that
:func:`goturn_caffe.batches.batches` built in prefetching worker processes.

``param_str`` is JSON; every key is optional::

    {"alov": DIR, "det": DIR, "otb": DIR,   # dataset roots, or
     "lmdb": DIR,                           # the cache built by `make data`
     "batch_size": 50, "augmented_per_pair": 10, "mix": "alternate|videos|images",
     "lambda_shift": 5, "lambda_scale": 15, "min_scale": -0.4, "max_scale": 0.4,
     "smooth_motion": true, "max_videos": null,
     "seed": 800, "workers": null (= CPU count - 1, at least 2), "queue_depth": 2}

With no dataset given it trains on the sample bundled in ``data/sample``.
Under NCCL (several solvers) each solver process seeds its workers with its
rank, so every GPU draws its own examples.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, fields

from goturn_caffe.batches import BatchConfig
from goturn_caffe.paths import REPO_ROOT

SAMPLE_DATA = REPO_ROOT / "data" / "sample"
DATASET_KEYS = ("alov", "det", "otb", "lmdb")


@dataclass(frozen=True)
class DataLayerParams:
    config: BatchConfig
    roots: dict          # dataset name -> folder (alov / det / otb), empty with lmdb
    lmdb: str | None
    seed: int
    workers: int
    queue_depth: int

    def open_training_set(self):
        from goturn_caffe.datasets.training_set import TrainingSet

        if self.lmdb:
            return TrainingSet.from_lmdb(self.lmdb)
        return TrainingSet.from_roots(**self.roots)


def default_workers() -> int:
    # Decoding a 720p pair takes ~11 ms: one worker cannot feed a GPU solver.
    return max(2, (os.cpu_count() or 2) - 1)


def parse_params(param_str: str) -> DataLayerParams:
    """``param_str`` (JSON) -> DataLayerParams; ValueError naming the bad key."""
    try:
        raw = json.loads(param_str or "{}")
    except json.JSONDecodeError as exc:
        raise ValueError(f"data layer param_str is not JSON ({exc}): {param_str!r}") from None
    config_keys = {f.name for f in fields(BatchConfig)}
    known = config_keys | set(DATASET_KEYS) | {"seed", "workers", "queue_depth"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"data layer param_str: unknown keys {unknown}; known: {sorted(known)}")
    config = BatchConfig(**{k: raw[k] for k in config_keys if k in raw})
    roots = {k: str(raw[k]) for k in ("alov", "det", "otb") if raw.get(k)}
    lmdb = raw.get("lmdb")
    if lmdb and roots:
        raise ValueError("data layer param_str: give dataset roots or an lmdb cache, not both")
    if not lmdb and not roots:
        roots = {"alov": str(SAMPLE_DATA / "alov"), "det": str(SAMPLE_DATA / "det")}
    workers = raw.get("workers")
    return DataLayerParams(config=config, roots=roots, lmdb=lmdb, seed=int(raw.get("seed", 800)),
                           workers=default_workers() if workers is None else int(workers),
                           queue_depth=int(raw.get("queue_depth", 2)))


def solver_rank(caffe) -> int:
    """This solver's rank under NCCL (0 when Caffe has no multi-GPU support)."""
    rank = getattr(caffe, "solver_rank", None)
    return int(rank()) if rank else 0


class BatchMaker:
    """Picklable ``rng -> batch iterator`` for the worker processes."""

    def __init__(self, training_set, config: BatchConfig):
        self.training_set, self.config = training_set, config

    def __call__(self, rng):
        from goturn_caffe.batches import batches

        return batches(self.training_set, self.config, rng)


def open_batch_source(params: DataLayerParams, rank: int = 0):
    """A :class:`~goturn_caffe.prefetch.Prefetcher` of batches for ``params``."""
    from goturn_caffe.preprocess import INPUT_SIZE
    from goturn_caffe.prefetch import Prefetcher

    training_set = params.open_training_set()
    return Prefetcher(BatchMaker(training_set, params.config), params.config.batch_size,
                      (INPUT_SIZE, INPUT_SIZE, 3), seed=params.seed, rank=rank,
                      workers=params.workers, depth=params.queue_depth)


try:  # the layer class exists only where pycaffe does; the rest of the module is pure
    from goturn_caffe.caffe_env import CaffeUnavailable, import_caffe

    _caffe = import_caffe()
except CaffeUnavailable:  # pragma: no cover - machines without Caffe
    _caffe = None

if _caffe is not None:
    class GoturnDataLayer(_caffe.Layer):
        """Tops: ``target``, ``image`` (N, 3, 227, 227) float32, mean-subtracted BGR;
        ``bbox`` (N, 4, 1, 1) float32, the label box scaled to [0, 10] in the search crop."""

        def setup(self, bottom, top):
            if bottom:
                raise ValueError("GoturnDataLayer takes no bottoms")
            if len(top) != 3:
                raise ValueError("GoturnDataLayer has three tops: target, image, bbox")
            self.params = parse_params(self.param_str)
            self.batch_source = open_batch_source(self.params, rank=solver_rank(_caffe))
            n = self.params.config.batch_size
            from goturn_caffe.preprocess import INPUT_SIZE

            top[0].reshape(n, 3, INPUT_SIZE, INPUT_SIZE)   # target crops
            top[1].reshape(n, 3, INPUT_SIZE, INPUT_SIZE)   # search crops
            top[2].reshape(n, 4, 1, 1)                     # labels
            # Seconds forward() spent waiting for the workers: near zero while
            # they keep ahead of the solver (tools/benchmark.py train reads it).
            self.wait_seconds = 0.0

        def reshape(self, bottom, top):
            pass  # fixed shapes, set in setup

        def forward(self, bottom, top):
            from goturn_caffe.preprocess import preprocess_batch

            start = time.perf_counter()
            targets, searches, labels = next(self.batch_source)
            self.wait_seconds += time.perf_counter() - start
            preprocess_batch(targets, out=top[0].data)
            preprocess_batch(searches, out=top[1].data)
            top[2].data[...] = labels.reshape(-1, 4, 1, 1)

        def backward(self, top, propagate_down, bottom):
            pass  # a data layer has nothing to propagate
