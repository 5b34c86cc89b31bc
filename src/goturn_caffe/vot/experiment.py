"""The VOT2014 experiments (``baseline``, ``region_noise``) run over a dataset,
restartably, into the VOT results layout.

Each repetition's trajectory file is written atomically when the repetition
ends, so an interrupted run keeps everything finished and a rerun skips it.
As in the toolkit, a sequence stops early once ``DETERMINISTIC_RUNS`` = 3
repetitions are identical (a deterministic tracker would repeat itself 15
times); region_noise draws a new initialisation for every (re)initialisation,
so its repetitions differ and all 15 run. The draws come from a numpy
Generator seeded with (seed, sequence, repetition): every tracker scored with
the same seed gets the same noisy initialisations, and a resumed run draws
what the uninterrupted one would have.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from tqdm import tqdm

from goturn_caffe.datasets.base import Video
from goturn_caffe.datasets.image_io import read_image
from goturn_caffe.vot.protocol import (DETERMINISTIC_RUNS, REPETITIONS, GroundTruth,
                                       exact_initialization, perturb_region, run_supervised)
from goturn_caffe.vot.results import repetition_paths, trajectory_path, write_trajectory

DEFAULT_SEED = 2014


@dataclass(frozen=True)
class Experiment:
    name: str
    initialization: Callable        # (region, rng) -> region
    repetitions: int = REPETITIONS


EXPERIMENTS = {
    "baseline": Experiment("baseline", exact_initialization),
    "region_noise": Experiment("region_noise", perturb_region),
}


def parse_experiments(text: str) -> list:
    """``"baseline,region_noise"`` -> [Experiment]; ValueError naming an unknown one."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown or not names:
        raise ValueError(f"unknown experiment(s) {', '.join(unknown) or '(none given)'}: "
                         f"choose from {', '.join(EXPERIMENTS)}")
    return [EXPERIMENTS[n] for n in names]


def repetition_rng(seed: int, sequence: str, repetition: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(sequence.encode()), repetition])


def image_size(video: Video) -> tuple:
    """``(width, height)`` of the sequence's frames (read from the first one)."""
    height, width = read_image(video.frames[0].path).shape[:2]
    return (width, height)


def ground_truth(video: Video) -> GroundTruth:
    return GroundTruth(video, image_size(video))


def is_deterministic(paths: list) -> bool:
    """At least ``DETERMINISTIC_RUNS`` repetitions exist and all equal the first."""
    if len(paths) < DETERMINISTIC_RUNS:
        return False
    first = paths[0].read_text()
    return all(p.read_text() == first for p in paths[1:])


def run_sequence(tracker, tracker_name: str, video: Video, experiment: Experiment, root: Path,
                 seed: int = DEFAULT_SEED, truth: Optional[GroundTruth] = None,
                 show_progress: bool = True) -> int:
    """Run the repetitions of one sequence that are not on disk yet; returns how many ran."""
    truth = truth or ground_truth(video)
    ran = 0
    for repetition in range(1, experiment.repetitions + 1):
        path = trajectory_path(root, tracker_name, experiment.name, video.name, repetition)
        if path.is_file():
            continue
        if is_deterministic(repetition_paths(root, tracker_name, experiment.name, video.name)):
            break
        with tqdm(total=len(video), desc=f"  {video.name} #{repetition}", unit="frame",
                  leave=False, disable=not show_progress) as bar:
            trajectory, seconds = run_supervised(
                tracker, video, truth, experiment.initialization,
                rng=repetition_rng(seed, video.name, repetition), progress=bar.update)
        write_trajectory(path, trajectory, seconds)
        ran += 1
    return ran


def run_experiment(tracker, tracker_name: str, videos: list, experiment: Experiment, root: Path,
                   seed: int = DEFAULT_SEED, truths: Optional[list] = None,
                   show_progress: bool = True) -> None:
    """Run one experiment over every sequence (tqdm per sequence and per frame);
    ``truths``: the videos' GroundTruth (built here when not given)."""
    truths = truths or [None] * len(videos)
    for video, truth in tqdm(list(zip(videos, truths)), desc=f"{tracker_name}/{experiment.name}",
                             unit="seq", disable=not show_progress):
        run_sequence(tracker, tracker_name, video, experiment, root, seed, truth,
                     show_progress=show_progress)
