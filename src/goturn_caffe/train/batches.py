"""Training batches, built the authors' way (pure numpy; the Caffe layer only copies them).

One step of the authors' trainer samples a still image (ImageNet DET, used as
its own pair) and then a video pair (a random ALOV video, a random annotated
frame i and the next annotated frame i+1), drawn by :mod:`goturn_caffe.datasets.pairs`.
Each pair gives 1 true example and k3 = 10 shifted ones from
:mod:`goturn_caffe.geometry.examples`; examples that do not fit in the current batch
of 50 are carried over into the next one.

Each pair's group of 1 + k3 examples is drawn from its own generator, seeded
from ``(seed, rank, group index)`` (:class:`GroupMaker`), so the stream of
batches is a pure function of the seed: the same whatever number of worker
processes builds it, and a run resumed at batch j continues it exactly
(:func:`batch_start`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Iterator, Optional

import numpy as np

from goturn_caffe.config import AUTHORS
from goturn_caffe.datasets.pairs import MIXES, draw_pair, pair_kinds
from goturn_caffe.geometry.examples import ExampleGenerator
from goturn_caffe.geometry.motion import MotionModel


@dataclass(frozen=True)
class BatchConfig:
    """How batches are drawn; every field can be set from the data layer's param_str."""

    batch_size: int = AUTHORS.batch_size
    augmented_per_pair: int = AUTHORS.augmented_per_pair   # k3
    mix: str = "alternate"                # still image, video pair, still image, ...
    motion: MotionModel = MotionModel()   # smooth=False: the uniform crops of the ablation
    max_videos: Optional[int] = None      # train on the first N videos only (Figure 9)

    def __post_init__(self):
        if self.mix not in MIXES:
            raise ValueError(f"mix must be one of {', '.join(MIXES)}, got {self.mix!r}")
        if self.augmented_per_pair < 0:
            raise ValueError(f"augmented_per_pair must be >= 0, got {self.augmented_per_pair}")
        if self.batch_size < self.augmented_per_pair + 1:
            raise ValueError(f"batch_size {self.batch_size} is below 1 + k3 = "
                             f"{self.augmented_per_pair + 1}: a pair's examples would not fit")


def group_rng(seed: int, rank: int, index: int) -> np.random.Generator:
    """The generator of example group ``index`` of solver ``rank``'s stream."""
    return np.random.default_rng(np.random.SeedSequence([seed, rank, index]))


class GroupMaker:
    """Picklable ``index -> group``: example group ``index`` of the stream, 1 + k3
    examples (targets, searches, labels), the true example first.

    Group ``index`` is drawn from its own generator, seeded from ``(seed, rank,
    index)``, and its pair kind is ``index``'s place in the mix, so every group
    is a pure function of its index: whichever process builds it, in whatever
    order, and a run resumed at any batch continues the same stream.  A pair
    whose image fails to decode or whose box is unusable is skipped (another is
    drawn from the same generator) and listed, ``(where, reason)``, until
    :meth:`take_skipped` hands the list over; more than ``max_bad_reads``
    failures for one group means the data is unusable, and raises.
    """

    def __init__(self, training_set, config: BatchConfig, seed: int, rank: int = 0,
                 max_bad_reads: int = 100):
        self.training_set, self.config = training_set, config
        self.seed, self.rank, self.max_bad_reads = int(seed), int(rank), max_bad_reads
        self.kinds = pair_kinds(config.mix, training_set)
        self.videos = (training_set.videos[:config.max_videos] if config.max_videos
                       else training_set.videos)
        self.generator = ExampleGenerator(motion=config.motion,
                                          num_shifted=config.augmented_per_pair)
        self.skipped: list = []

    def take_skipped(self) -> list:
        """The ``(where, reason)`` of each pair skipped since the last call."""
        taken, self.skipped = self.skipped, []
        return taken

    @property
    def group_size(self) -> int:
        return 1 + self.config.augmented_per_pair

    def __call__(self, index: int) -> tuple:
        rng = group_rng(self.seed, self.rank, index)
        kind = self.kinds[index % len(self.kinds)]
        for attempt in range(self.max_bad_reads + 1):
            try:  # an undecodable image or an unusable box (ValueError) costs one draw
                return self.generator.make_examples(
                    *draw_pair(self.training_set, kind, rng, self.videos), rng=rng)
            except ValueError as exc:
                if attempt == self.max_bad_reads:
                    raise
                self.skipped.append((getattr(exc, "source", f"example group {index}"),
                                     getattr(exc, "reason", str(exc))))


def batch_start(batch: int, config: BatchConfig) -> tuple:
    """``(group, skip)``: batch ``batch`` of the stream starts with example ``skip``
    of group ``group`` (every group holds 1 + k3 examples)."""
    return divmod(batch * config.batch_size, 1 + config.augmented_per_pair)


def assemble_batches(groups: Iterator[tuple], batch_size: int, skip: int = 0) -> Iterator[tuple]:
    """Endless batches cut from consecutive ``groups``, starting at example ``skip``
    of the first one.  Examples that overflow a batch start the next one (the
    authors' carry-over), so every example is used exactly once, in order."""
    pending = [[], [], []]
    pending_count = 0
    while True:
        while pending_count < batch_size:
            group = next(groups)
            if skip:
                group, skip = tuple(part[skip:] for part in group), 0
            for store, part in zip(pending, group):
                store.append(part)
            pending_count += len(group[2])
        merged = [np.concatenate(store) for store in pending]
        yield tuple(part[:batch_size] for part in merged)
        pending = [[part[batch_size:]] for part in merged]
        pending_count -= batch_size


def batches(training_set, config: BatchConfig, seed=AUTHORS.seed, rank: int = 0,
            start: int = 0) -> Iterator[tuple]:
    """Endless batches (targets, searches (N, 227, 227, 3) uint8; labels (N, 4) float32)
    of solver ``rank``'s stream from batch ``start`` on, built in this process:
    the batches the data layer's workers deliver for the same arguments.

    ``seed`` may also be a ``numpy.random.Generator``, whose first draw is then the seed.
    """
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(2 ** 63))
    make_group = GroupMaker(training_set, config, seed, rank)
    group, skip = batch_start(start, config)
    return assemble_batches(map(make_group, itertools.count(group)), config.batch_size, skip)


def distinct_targets(targets: np.ndarray) -> tuple:
    """The distinct target crops of a batch and which one each example uses.

    ``targets`` (N, H, W, 3) as :func:`batches` yields them: the 1 + k3 examples
    of a pair are consecutive and share one byte-identical target crop (a pair
    cut by the batch boundary leaves its tail at the start of the next batch),
    so each run of equal consecutive crops is stored once.  Returns
    ``(distinct (U, H, W, 3), index (N,) int64)`` with ``distinct[index]`` equal
    to ``targets``; ``index`` counts up from 0 to U - 1.  Crops are compared by
    content, so the result is exact whatever produced the batch.
    """
    count = len(targets)
    flat = targets.reshape(count, -1)
    starts = np.ones(count, dtype=bool)   # row i starts a new run
    for i in range(1, count):
        starts[i] = not np.array_equal(flat[i], flat[i - 1])
    return targets[starts], np.cumsum(starts) - 1
