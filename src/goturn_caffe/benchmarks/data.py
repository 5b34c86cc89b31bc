"""Training data: random-access reads of pairs (files vs the LMDB cache) and the
examples/s the data layer's workers deliver."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from goturn_caffe.benchmarks.common import dataset_roots
from goturn_caffe.datasets.arguments import add_dataset_arguments


def configure(parser: argparse.ArgumentParser) -> None:
    add_dataset_arguments(parser)
    parser.add_argument("--pairs", type=int, default=300, help="random pairs read per case")
    parser.add_argument("--batches", type=int, default=6, help="data-layer batches of 50 timed")


def inputs(args) -> list:
    """What the run reads: the dataset roots."""
    return list(dataset_roots(args).values())


def data_layer_rate(training_set, batch_size: int, workers: int, batches: int) -> float:
    """Examples/s the data layer's workers deliver when nothing else waits on them
    (Laplace crops, the authors' mix), after one warm-up batch."""
    from goturn_caffe.train.batches import BatchConfig
    from goturn_caffe.train.data_layer import BatchSource

    config = BatchConfig(batch_size=batch_size)
    prefetcher = BatchSource(training_set, config, seed=0, workers=workers, queue_depth=2)
    try:
        next(prefetcher)  # workers started and warm
        start = time.perf_counter()
        for _ in range(batches):
            next(prefetcher)
        return batches * batch_size / (time.perf_counter() - start)
    finally:
        prefetcher.close()


def run(args) -> dict:
    from goturn_caffe.datasets.arguments import training_set_from_args
    from goturn_caffe.datasets.lmdb_cache import build_cache
    from goturn_caffe.datasets.read_benchmark import EXAMPLES_PER_PAIR, compare_sources
    from goturn_caffe.datasets.training_set import TrainingSet

    disk = training_set_from_args(args)
    results = {"training_set": disk.summary(), "reads": [], "data_layer": {}}
    with tempfile.TemporaryDirectory() as folder:
        build_cache(disk, Path(folder) / "cache.lmdb", progress=False)
        cached = TrainingSet.from_lmdb(Path(folder) / "cache.lmdb")
        for row in compare_sources(disk, cached, num_pairs=args.pairs):
            results["reads"].append(row)
            print(f"data  read {row['kind']:<5s} pairs, {row['workers']} worker(s): files "
                  f"{row['files']:7.1f} pairs/s, LMDB {row['lmdb']:7.1f} pairs/s "
                  f"({row['lmdb_examples']:.0f} examples/s at {EXAMPLES_PER_PAIR} per pair)")
        for workers in (1, 2):
            rate = data_layer_rate(cached, 50, workers, args.batches)
            results["data_layer"][f"workers={workers}"] = round(rate, 1)
            print(f"data  layer (LMDB, Laplace crops, batch 50), {workers} worker(s): "
                  f"{rate:7.1f} examples/s")
    return results
