"""Drawing training pairs from a training set, as the authors' trainer does.

A video pair is a random video, a random annotated frame i of it and the next
annotated frame i + 1; a still image (ImageNet DET) is its own pair. The order
of the two kinds is the *mix*: ``alternate`` (still image, video pair, still
image, ..., the authors'), ``videos`` or ``images``. Training
(:mod:`goturn_caffe.train.batches`) and the read benchmark
(:mod:`goturn_caffe.datasets.read_benchmark`) both draw through these functions.
"""

from __future__ import annotations

import numpy as np

from goturn_caffe.datasets.base import Frame, StillImage
from goturn_caffe.datasets.image_io import DatasetError

MIXES = {"alternate": ("image", "video"), "videos": ("video",), "images": ("image",)}


def pair_kinds(mix: str, training_set) -> list:
    """The repeating order of pair kinds of ``mix``, limited to what the training set has."""
    kinds = MIXES[mix]
    available = {"video": bool(training_set.videos), "image": bool(training_set.images)}
    usable = [k for k in kinds if available[k]]
    if not usable:
        wanted = " and ".join(sorted(set(kinds)))
        raise DatasetError("training set", f"mix={mix!r} needs {wanted} but the "
                                           f"training set has none ({training_set.summary()})")
    return usable


def draw_video_frames(videos: list, rng: np.random.Generator) -> tuple[Frame, Frame]:
    """A random video of ``videos``, its annotated frames i and i + 1 (i random)."""
    video = videos[rng.integers(len(videos))]
    i = int(rng.integers(len(video.frames) - 1))
    return video.frames[i], video.frames[i + 1]


def draw_still_image(images: list, rng: np.random.Generator) -> StillImage:
    """A random still image of ``images``."""
    return images[rng.integers(len(images))]


def draw_pair(training_set, kind: str, rng: np.random.Generator, videos: list):
    """(previous image, previous box, current image, current box) of one training pair,
    decoded; ``kind`` "video" draws from ``videos``, "image" from the still images
    (then one of the image's boxes at random)."""
    if kind == "video":
        previous, current = draw_video_frames(videos, rng)
        return (training_set.read_image(previous.path), previous.box,
                training_set.read_image(current.path), current.box)
    image, boxes = training_set.load_still(draw_still_image(training_set.images, rng))
    box = boxes[rng.integers(len(boxes))]
    return image, box, image, box
