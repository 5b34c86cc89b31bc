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
from goturn_caffe.fileio import remove_stale_partials
from goturn_caffe.vot.protocol import (
    DETERMINISTIC_RUNS,
    REPETITIONS,
    GroundTruth,
    exact_initialization,
    perturb_region,
    run_supervised,
)
from goturn_caffe.vot.results import repetition_paths, trajectory_path, write_trajectory

DEFAULT_SEED = 2014


@dataclass(frozen=True)
class VotExperiment:
    """A VOT2014 experiment: how each (re)initialisation region is drawn, how many repetitions."""

    name: str
    initialization: Callable        # (region, rng) -> region
    repetitions: int = REPETITIONS


EXPERIMENTS = {
    "baseline": VotExperiment("baseline", exact_initialization),
    "region_noise": VotExperiment("region_noise", perturb_region),
}


def parse_experiments(text: str) -> list:
    """``"baseline,region_noise"`` -> [VotExperiment]; ValueError naming an unknown one."""
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


def expected_repetitions(experiment: VotExperiment) -> int:
    """Repetitions a sequence is expected to take: ``DETERMINISTIC_RUNS`` from the
    exact ground truth (a deterministic tracker repeats itself), all of them from
    noisy initialisations (every repetition starts elsewhere)."""
    if experiment.initialization is exact_initialization:
        return min(DETERMINISTIC_RUNS, experiment.repetitions)
    return experiment.repetitions


def repetitions_left(experiment: VotExperiment, paths: list) -> tuple:
    """``(expected, at most)`` repetitions still to run for a sequence whose finished
    repetition files are ``paths`` (:func:`~goturn_caffe.vot.results.repetition_paths`)."""
    if is_deterministic(paths):
        return 0, 0
    at_most = max(experiment.repetitions - len(paths), 0)
    if len(paths) >= DETERMINISTIC_RUNS:      # not deterministic: all of them
        return at_most, at_most
    return min(max(expected_repetitions(experiment) - len(paths), 0), at_most), at_most


def run_sequence(tracker, tracker_name: str, video: Video, experiment: VotExperiment, root: Path,
                 seed: int = DEFAULT_SEED, truth: Optional[GroundTruth] = None,
                 show_progress: bool = True, progress: Optional[Callable] = None) -> int:
    """Run the repetitions of one sequence that are not on disk yet; returns how many ran.

    Partial files a crashed run left in the sequence's folder are removed first.
    ``progress(frames)``, when given, is told of every frame tracked (and the
    per-repetition bar is not shown)."""
    truth = truth or ground_truth(video)
    remove_stale_partials(trajectory_path(root, tracker_name, experiment.name, video.name, 1).parent)
    ran = 0
    for repetition in range(1, experiment.repetitions + 1):
        path = trajectory_path(root, tracker_name, experiment.name, video.name, repetition)
        if path.is_file():
            continue
        if is_deterministic(repetition_paths(root, tracker_name, experiment.name, video.name)):
            break
        with tqdm(total=len(video), desc=f"  {video.name} #{repetition}", unit="frame",
                  leave=False, disable=not show_progress or progress is not None) as bar:
            def advance(frames: int) -> None:
                bar.update(frames)
                if progress is not None:
                    progress(frames)

            trajectory, seconds = run_supervised(
                tracker, video, truth, experiment.initialization,
                rng=repetition_rng(seed, video.name, repetition), progress=advance)
        write_trajectory(path, trajectory, seconds)
        ran += 1
    return ran


def run_vot_experiment(tracker, tracker_name: str, videos: list, experiment: VotExperiment,
                       root: Path, seed: int = DEFAULT_SEED, truths: Optional[list] = None,
                       show_progress: bool = True, progress: Optional[Callable] = None) -> list:
    """Run one experiment over every sequence (tqdm per sequence and per frame, or
    ``progress(frames)`` as in :func:`run_sequence`); ``truths``: the videos'
    GroundTruth (built here when not given). Returns the repetitions run per sequence."""
    truths = truths or [None] * len(videos)
    return [run_sequence(tracker, tracker_name, video, experiment, root, seed, truth,
                         show_progress=show_progress, progress=progress)
            for video, truth in tqdm(list(zip(videos, truths)), desc=f"{tracker_name}/{experiment.name}",
                                     unit="seq", disable=not show_progress or progress is not None)]
