"""The Python data layer of ``goturn_train.prototxt``: Laplace-augmented pairs on the fly.

Caffe-facing code is the :class:`GoturnDataLayer` shell at the bottom; it parses
``param_str`` with :func:`parse_params` and copies batches that
:func:`goturn_caffe.train.batches.batches` built in prefetching worker processes.

``param_str`` is JSON; every key is optional::

    {"alov": DIR, "det": DIR, "otb": DIR,   # dataset roots,
     "got10k": DIR, "lasot": DIR, "trackingnet": DIR, "trackingnet_chunks": [0, 1],
     "lmdb": DIR,                           # or the cache built by `make data`;
     "exclude": ["otb", "vot"], "exclude_videos": FILE,  # videos left out (either way)
     "batch_size": 50, "augmented_per_pair": 10, "mix": "alternate|videos|images",
     "lambda_shift": 5, "lambda_scale": 15, "min_scale": -0.4, "max_scale": 0.4,
     "smooth_motion": true, "max_videos": null,
     "seed": 800, "workers": null (= CPU count - 1, at least 2), "queue_depth": 2,
     "start_batch": 0}                      # where in the stream to start (a resumed run)

With no dataset given it trains on the sample bundled in ``data/sample``.
The number of tops chooses the output: three (the authors' net), or four
(a training net with ``NetOptions.dedup_targets``: distinct target crops only,
and the index of each example's crop; see :class:`GoturnDataLayer`).
Under NCCL (several solvers) each solver process seeds its stream with its
rank, so every GPU draws its own examples.

The stream of batches is a pure function of (seed, rank, batch index) (see
:mod:`goturn_caffe.train.batches`), and before each batch the layer re-seeds
Caffe's own generator, which draws the dropout masks, from the same triple
(:func:`net_seed`).  A run resumed from a snapshot at iteration j with
``start_batch`` j therefore computes the same losses as the uninterrupted run.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field, fields

import numpy as np

from goturn_caffe.config import AUTHORS
from goturn_caffe.geometry.motion import MotionModel
from goturn_caffe.paths import REPO_ROOT
from goturn_caffe.train.batches import BatchConfig

SAMPLE_DATA = REPO_ROOT / "data" / "sample"
SOURCE_KEYS = ("alov", "det", "otb", "got10k", "lasot", "trackingnet")
# which videos of the sources are used: TrainingSet.from_roots / from_lmdb keywords
SELECTION_KEYS = ("exclude", "exclude_videos", "trackingnet_chunks")
DATASET_KEYS = SOURCE_KEYS + SELECTION_KEYS + ("lmdb",)
# param_str key -> MotionModel field (the keys are flat in param_str)
MOTION_KEYS = {"lambda_shift": "lambda_shift", "lambda_scale": "lambda_scale",
               "min_scale": "min_scale", "max_scale": "max_scale", "smooth_motion": "smooth"}


@dataclass(frozen=True)
class DataLayerParams:
    config: BatchConfig
    roots: dict          # dataset name -> folder (SOURCE_KEYS), empty with lmdb
    lmdb: str | None
    seed: int
    workers: int
    queue_depth: int
    start_batch: int = 0
    selection: dict = field(default_factory=dict)   # SELECTION_KEYS given

    def open_training_set(self):
        from goturn_caffe.datasets.training_set import TrainingSet

        if self.lmdb:
            return TrainingSet.from_lmdb(self.lmdb, self.selection.get("exclude", ()),
                                         self.selection.get("exclude_videos"))
        return TrainingSet.from_roots(**self.roots, **self.selection)


def default_workers() -> int:
    # Decoding a 720p pair takes ~11 ms: one worker cannot feed a GPU solver.
    return max(2, (os.cpu_count() or 2) - 1)


def parse_params(param_str: str) -> DataLayerParams:
    """``param_str`` (JSON) -> DataLayerParams; ValueError naming the bad key."""
    try:
        raw = json.loads(param_str or "{}")
    except json.JSONDecodeError as exc:
        raise ValueError(f"data layer param_str is not JSON ({exc}): {param_str!r}") from None
    config_keys = {f.name for f in fields(BatchConfig)} - {"motion"}
    known = (config_keys | set(MOTION_KEYS) | set(DATASET_KEYS)
             | {"seed", "workers", "queue_depth", "start_batch"})
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"data layer param_str: unknown keys {unknown}; known: {sorted(known)}")
    motion = MotionModel(**{MOTION_KEYS[k]: raw[k] for k in MOTION_KEYS if k in raw})
    config = BatchConfig(motion=motion, **{k: raw[k] for k in config_keys if k in raw})
    roots = {k: str(raw[k]) for k in SOURCE_KEYS if raw.get(k)}
    selection = {k: raw[k] for k in SELECTION_KEYS if raw.get(k)}
    lmdb = raw.get("lmdb")
    if lmdb and roots:
        raise ValueError("data layer param_str: give dataset roots or an lmdb cache, not both")
    if not lmdb and not roots:
        roots = {"alov": str(SAMPLE_DATA / "alov"), "det": str(SAMPLE_DATA / "det")}
    workers = raw.get("workers")
    return DataLayerParams(config=config, roots=roots, lmdb=lmdb, seed=int(raw.get("seed", AUTHORS.seed)),
                           workers=default_workers() if workers is None else int(workers),
                           queue_depth=int(raw.get("queue_depth", 2)),
                           start_batch=int(raw.get("start_batch", 0)), selection=selection)


def solver_rank(caffe) -> int:
    """This solver's rank under NCCL (0 when Caffe has no multi-GPU support)."""
    rank = getattr(caffe, "solver_rank", None)
    return int(rank()) if rank else 0


def net_seed(seed: int, rank: int, batch: int) -> int:
    """The seed of Caffe's own generator (dropout masks) for batch ``batch``."""
    return int(np.random.SeedSequence([seed, rank, batch], spawn_key=(1,)).generate_state(1)[0])


class BatchSource:
    """Batches of solver ``rank``'s stream from batch ``start`` on: example groups
    built ahead by ``workers`` processes (:class:`~goturn_caffe.train.prefetch.Prefetcher`),
    cut into batches with the authors' carry-over.  ``position``: the index of
    the next batch.  Use as an iterator; call :meth:`close`."""

    def __init__(self, training_set, config: BatchConfig, seed: int, rank: int = 0,
                 start: int = 0, workers: int = 1, queue_depth: int = 2):
        from goturn_caffe.geometry.preprocess import INPUT_SIZE
        from goturn_caffe.train.batches import GroupMaker, assemble_batches, batch_start
        from goturn_caffe.train.prefetch import Prefetcher

        make_group = GroupMaker(training_set, config, seed, rank)
        group, skip = batch_start(start, config)
        # about queue_depth batches ahead, spread over the workers
        per_batch = -(-config.batch_size // make_group.group_size) + 1
        depth = max(2, -(-queue_depth * per_batch // max(workers, 1)))
        self.groups = Prefetcher(make_group, make_group.group_size, (INPUT_SIZE, INPUT_SIZE, 3),
                                 start=group, workers=workers, depth=depth)
        self._batches = assemble_batches(self.groups, config.batch_size, skip)
        self.position = start

    def __iter__(self):
        return self

    def __next__(self):
        batch = next(self._batches)
        self.position += 1
        return batch

    @property
    def skipped(self) -> list:
        """``(where, reason)`` of each training pair skipped so far (undecodable images)."""
        return self.groups.skipped

    def close(self) -> None:
        self.groups.close()


def open_batch_source(params: DataLayerParams, rank: int = 0) -> BatchSource:
    """The :class:`BatchSource` of ``params``, from ``params.start_batch`` on."""
    return BatchSource(params.open_training_set(), params.config, params.seed, rank,
                       start=params.start_batch, workers=params.workers,
                       queue_depth=params.queue_depth)


try:  # the layer class exists only where pycaffe does; the rest of the module is pure
    from goturn_caffe.caffe_env import CaffeUnavailable, import_caffe

    _caffe = import_caffe()
except CaffeUnavailable:  # pragma: no cover - machines without Caffe
    _caffe = None

if _caffe is not None:
    class GoturnDataLayer(_caffe.Layer):
        """Tops: ``target``, ``image`` (N, 3, 227, 227) float32, mean-subtracted BGR;
        ``bbox`` (N, 4, 1, 1) float32, the label box scaled to [0, 10] in the search crop.

        With a fourth top, ``target_index`` (N,) float32, ``target`` holds only
        the batch's U <= N distinct target crops, (U, 3, 227, 227), reshaped by
        ``forward`` every batch; example i's crop is ``target[target_index[i]]``
        (:func:`goturn_caffe.train.batches.distinct_targets`)."""

        def setup(self, bottom, top):
            if bottom:
                raise ValueError("GoturnDataLayer takes no bottoms")
            if len(top) not in (3, 4):
                raise ValueError("GoturnDataLayer has three tops (target, image, bbox) "
                                 "or four (and target_index: distinct target crops only)")
            self.distinct = len(top) == 4
            self.params = parse_params(self.param_str)
            self.rank = solver_rank(_caffe)
            self.batch_source = open_batch_source(self.params, rank=self.rank)
            n = self.params.config.batch_size
            from goturn_caffe.geometry.preprocess import INPUT_SIZE

            top[0].reshape(n, 3, INPUT_SIZE, INPUT_SIZE)   # target crops
            top[1].reshape(n, 3, INPUT_SIZE, INPUT_SIZE)   # search crops
            top[2].reshape(n, 4, 1, 1)                     # labels
            if self.distinct:
                top[3].reshape(n)                          # example -> row of target
            # Seconds forward() spent waiting for the workers: near zero while
            # they keep ahead of the solver (tools/benchmark.py train reads it).
            self.wait_seconds = 0.0

        def reshape(self, bottom, top):
            pass  # shapes set in setup; forward reshapes target when distinct

        def forward(self, bottom, top):
            from goturn_caffe.geometry.preprocess import preprocess_batch

            # dropout masks from (seed, rank, batch): a resumed run draws the same ones
            _caffe.set_random_seed(net_seed(self.params.seed, self.rank,
                                            self.batch_source.position))
            start = time.perf_counter()
            targets, searches, labels = next(self.batch_source)
            self.wait_seconds += time.perf_counter() - start
            if self.distinct:
                from goturn_caffe.train.batches import distinct_targets

                targets, index = distinct_targets(targets)
                # target: (N, ...) -> (U, 3, 227, 227); the layers above reshape to it
                # in their own forward.  target_index stays (N,).
                top[0].reshape(len(targets), *top[0].data.shape[1:])
                top[3].data[...] = index
            preprocess_batch(targets, out=top[0].data)
            preprocess_batch(searches, out=top[1].data)
            top[2].data[...] = labels.reshape(-1, 4, 1, 1)

        def backward(self, top, propagate_down, bottom):
            pass  # a data layer has nothing to propagate
