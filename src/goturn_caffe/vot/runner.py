"""The work of a VOT2014 evaluation -- (tracker, experiment, sequence) units --
planned, and run with one progress bar in this process or in ``jobs`` worker
processes (:mod:`goturn_caffe.track.workers`: spawned workers that die with
their parent, one BLAS thread count in every process that tracks, so any
``jobs`` writes the same files byte for byte).

A unit runs the repetitions of one sequence that are not on disk yet
(:func:`goturn_caffe.vot.experiment.run_sequence`): a repetition's trajectory
depends only on the tracker, the sequence and the (seed, sequence, repetition)
draws, never on which process ran it or when.  Each repetition is written
atomically; a worker that dies (killed, out of memory) stops the run with one
line, keeps every finished repetition, and a rerun redoes the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from goturn_caffe.track import workers
from goturn_caffe.vot.experiment import EXPERIMENTS, repetitions_left, run_vot_experiment
from goturn_caffe.vot.results import repetition_paths


@dataclass(frozen=True)
class Unit:
    """One sequence of one experiment for one tracker: ``frames`` per repetition,
    ``expected`` / ``at_most`` repetitions still to run."""

    results_name: str
    registry_name: str
    experiment: str
    sequence: int               # index into the videos
    frames: int
    expected: int
    at_most: int


def plan_units(trackers: list, experiments: list, videos: list, root: Path) -> tuple:
    """``(units to run, repetitions already done)`` for ``trackers`` (``[(results name,
    registry name)]``) over ``experiments`` (names) and ``videos`` under ``root``."""
    units, done = [], 0
    for results_name, registry_name in trackers:
        for experiment in experiments:
            for index, video in enumerate(videos):
                paths = repetition_paths(root, results_name, experiment, video.name)
                done += len(paths)
                expected, at_most = repetitions_left(EXPERIMENTS[experiment], paths)
                if at_most:
                    units.append(Unit(results_name, registry_name, experiment, index, len(video),
                                      expected, at_most))
    return units, done


def describe_plan(units: list, trackers: list, experiments: list, videos: list, done: int) -> str:
    """One line: the planned work (trackers x experiments x sequences x repetitions, frames)."""
    expected = sum(u.expected for u in units)
    at_most = sum(u.at_most for u in units)
    frames = sum(u.expected * u.frames for u in units)
    return (f"planned: {len(trackers)} tracker(s) x {len(experiments)} experiment(s) "
            f"({', '.join(experiments)}) x {len(videos)} sequence(s) "
            f"({sum(len(v) for v in videos)} frames) x up to {EXPERIMENTS[experiments[0]].repetitions} "
            f"repetitions: {expected} repetition(s) to run, {frames} frames"
            + (f" (up to {at_most} if a tracker is not deterministic)" if at_most > expected else "")
            + f"; {done} repetition(s) already done")


@dataclass(frozen=True)
class VotWork:
    """What every unit of a run reads: the videos, their ground truths, the
    results root, the seed of the noisy starts, and the experiment runner."""

    videos: list
    truths: list
    root: Path
    seed: int
    run_experiment: Callable = run_vot_experiment


def run_unit(tracker, unit: Unit, work: VotWork, report: Callable) -> int:
    """Run one unit (the repetitions of one sequence left to do); the repetitions run."""
    (ran,) = work.run_experiment(tracker, unit.results_name, [work.videos[unit.sequence]],
                                 EXPERIMENTS[unit.experiment], work.root, work.seed,
                                 [work.truths[unit.sequence]], show_progress=False, progress=report)
    return ran


def run_units(units: list, factory: Callable, videos: list, truths: list, root: Path, seed: int,
              jobs: int = 1, show_progress: bool = True, log: Callable = print,
              run_experiment: Optional[Callable] = None) -> None:
    """Run the planned ``units`` with one progress bar: in this process (``jobs`` 1)
    or in ``jobs`` worker processes; ``run_experiment`` (default
    :func:`~goturn_caffe.vot.experiment.run_vot_experiment`, picklable for ``jobs`` > 1)
    runs each unit's sequence."""
    work = VotWork(videos, truths, Path(root), seed, run_experiment or run_vot_experiment)
    workers.run_units(units, factory, run_unit, work, jobs, show_progress, log,
                      kept=f"the finished repetitions are kept in {root}")
