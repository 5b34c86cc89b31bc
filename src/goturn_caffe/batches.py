"""Training batches, built the authors' way (pure numpy; the Caffe layer only copies them).

One step of the authors' trainer samples a still image (ImageNet DET, used as
its own pair) and then a video pair (a random ALOV video, a random annotated
frame i and the next annotated frame i+1).  Each pair gives 1 true example and
k3 = 10 shifted ones from :mod:`goturn_caffe.examples`; examples that do not
fit in the current batch of 50 are carried over into the next one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional

import numpy as np

from goturn_caffe.datasets.image_io import DatasetError
from goturn_caffe.examples import ExampleGenerator
from goturn_caffe.motion import MotionModel

MIXES = ("alternate", "videos", "images")


@dataclass(frozen=True)
class BatchConfig:
    """How batches are drawn; every field can be set from the data layer's param_str."""

    batch_size: int = 50
    augmented_per_pair: int = 10          # k3
    mix: str = "alternate"                # still image, video pair, still image, ...
    lambda_shift: float = 5.0
    lambda_scale: float = 15.0
    min_scale: float = -0.4
    max_scale: float = 0.4
    smooth_motion: bool = True            # False: the uniform crops of the ablation
    max_videos: Optional[int] = None      # train on the first N videos only (Figure 9)

    def __post_init__(self):
        if self.mix not in MIXES:
            raise ValueError(f"mix must be one of {', '.join(MIXES)}, got {self.mix!r}")
        if self.augmented_per_pair < 0:
            raise ValueError(f"augmented_per_pair must be >= 0, got {self.augmented_per_pair}")
        if self.batch_size < self.augmented_per_pair + 1:
            raise ValueError(f"batch_size {self.batch_size} is below 1 + k3 = "
                             f"{self.augmented_per_pair + 1}: a pair's examples would not fit")

    @property
    def group_size(self) -> int:
        return 1 + self.augmented_per_pair

    def motion_model(self) -> MotionModel:
        return MotionModel(lambda_shift=self.lambda_shift, lambda_scale=self.lambda_scale,
                           min_scale=self.min_scale, max_scale=self.max_scale,
                           smooth=self.smooth_motion)


def pair_kinds(config: BatchConfig, training_set) -> list:
    """The repeating order of pair kinds, limited to what the training set has."""
    kinds = {"alternate": ["image", "video"], "videos": ["video"], "images": ["image"]}[config.mix]
    available = {"video": bool(training_set.videos), "image": bool(training_set.images)}
    usable = [k for k in kinds if available[k]]
    if not usable:
        wanted = " and ".join(sorted(set(kinds)))
        raise DatasetError("training set", f"mix={config.mix!r} needs {wanted} but the "
                                           f"training set has none ({training_set.summary()})")
    return usable


def draw_pair(training_set, kind: str, rng: np.random.Generator, videos: list):
    """(previous image, previous box, current image, current box) of one training pair.

    A video pair is two consecutive annotated frames; a still image is its own pair.
    """
    if kind == "video":
        video = videos[rng.integers(len(videos))]
        i = int(rng.integers(len(video.frames) - 1))
        previous, current = video.frames[i], video.frames[i + 1]
        return (training_set.read_image(previous.path), previous.box,
                training_set.read_image(current.path), current.box)
    still = training_set.images[rng.integers(len(training_set.images))]
    image, boxes = training_set.load_still(still)
    box = boxes[rng.integers(len(boxes))]
    return image, box, image, box


def example_groups(training_set, config: BatchConfig, rng: np.random.Generator,
                   max_bad_reads: int = 100) -> Iterator[tuple]:
    """Endless groups of 1 + k3 examples: (targets, searches, labels), true example first.

    A pair whose image fails to decode or whose box is unusable is skipped (another
    is drawn); more than ``max_bad_reads`` failures in a row means the data is
    unusable, and raises.
    """
    kinds = pair_kinds(config, training_set)
    videos = training_set.videos[:config.max_videos] if config.max_videos else training_set.videos
    generator = ExampleGenerator(motion=config.motion_model(),
                                 num_shifted=config.augmented_per_pair)
    step, bad_reads = 0, 0
    while True:
        kind = kinds[step % len(kinds)]
        try:  # an undecodable image or an unusable box (ValueError) costs one draw
            group = generator.make_examples(*draw_pair(training_set, kind, rng, videos), rng=rng)
        except ValueError:
            bad_reads += 1
            if bad_reads > max_bad_reads:
                raise
            continue
        bad_reads = 0
        step += 1
        yield group


def batches(training_set, config: BatchConfig, rng: np.random.Generator) -> Iterator[tuple]:
    """Endless batches (targets, searches (N, 227, 227, 3) uint8; labels (N, 4) float32).

    Examples that overflow a batch start the next one (the authors' carry-over),
    so every example generated is used exactly once, in order.
    """
    pending = [[], [], []]
    pending_count = 0
    groups = example_groups(training_set, config, rng)
    while True:
        while pending_count < config.batch_size:
            group = next(groups)
            for store, part in zip(pending, group):
                store.append(part)
            pending_count += len(group[2])
        merged = [np.concatenate(store) for store in pending]
        yield tuple(part[:config.batch_size] for part in merged)
        pending = [[part[config.batch_size:]] for part in merged]
        pending_count -= config.batch_size
