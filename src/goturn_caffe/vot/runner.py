"""The work of an evaluation -- (tracker, experiment, sequence) units -- planned,
shown with progress and an ETA, and run in this process or in ``jobs`` worker
processes.

Workers are started with the ``spawn`` method (a pycaffe net belongs to the
process that made it), each builds its own trackers with the picklable
``factory(registry name)`` and runs whole sequences
(:func:`goturn_caffe.vot.experiment.run_sequence`), so the results files are
the ones a single process writes: a repetition's trajectory depends only on
the tracker, the sequence and the (seed, sequence, repetition) draws, never on
which process ran it or when.  Each repetition is written atomically; a worker
that dies (killed, out of memory) stops the run with one line, keeps every
finished repetition, and a rerun redoes the rest.  Each worker's BLAS gets the
machine's cores divided among the workers (unless OPENBLAS_NUM_THREADS /
OMP_NUM_THREADS are set): threads split a product's rows and columns, not its
sums, so the numbers do not change.
"""

from __future__ import annotations

import os
import queue as queue_module
import signal
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from tqdm import tqdm

from goturn_caffe.train.prefetch import spawn_context
from goturn_caffe.vot.experiment import EXPERIMENTS, repetitions_left, run_sequence
from goturn_caffe.vot.results import repetition_paths

ETA_AFTER_SECONDS = 10.0        # measure this long before announcing the ETA
FLUSH_SECONDS = 0.25            # how often a worker reports its frames
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


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


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Progress:
    """Progress over every frame to track, on ``stream`` (default stderr): on a
    terminal a tqdm bar (rate, remaining time); otherwise (a pipe, a log file) a
    plain line every tenth of the work, never tqdm's cursor movements.  One ETA line
    (through ``log``) once the rate has been measured for ``ETA_AFTER_SECONDS``."""

    def __init__(self, total: int, show: bool = True, log: Callable = print, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        terminal = show and isatty is not None and isatty()
        self.bar = tqdm(total=total, unit="frame", desc="tracking", file=self.stream, smoothing=0.05,
                        dynamic_ncols=True, disable=not terminal)
        self.show, self.log, self.total = show, log, total
        self.started = time.monotonic()
        self.frames = 0
        self.announced = False
        self.every = max(1, total // 10)
        self.next_line = self.every

    def _rate(self) -> tuple:
        elapsed = time.monotonic() - self.started
        return elapsed, (self.frames / elapsed if elapsed > 0 else 0.0)

    def advance(self, frames: int) -> None:
        self.bar.update(frames)
        self.frames += frames
        elapsed, rate = self._rate()
        remaining = max(self.total - self.frames, 0)
        if not self.announced and rate > 0 and elapsed >= ETA_AFTER_SECONDS:
            self.announced = True
            self.say(f"ETA: {format_duration(remaining / rate)} for the {remaining} frames left, "
                     f"at the {rate:.1f} frames/s of the first {format_duration(elapsed)}")
        if self.show and self.bar.disable and self.frames >= self.next_line:
            self.next_line = self.frames + self.every
            left = f", about {format_duration(remaining / rate)} left" if rate > 0 else ""
            print(f"tracking: {self.frames}/{self.total} frames "
                  f"({100 * self.frames / max(self.total, 1):.0f}%), {rate:.1f} frames/s{left}",
                  file=self.stream, flush=True)

    def finished(self, unit: Unit, ran: int) -> None:
        """A unit ended after ``ran`` repetitions: correct the total for what it really took."""
        change = (ran - unit.expected) * unit.frames
        if change:
            self.total = max(self.total + change, self.frames)
            self.bar.total = self.total
            self.bar.refresh()

    def say(self, message: str) -> None:
        if self.bar.disable:
            self.log(message)
        else:
            self.bar.write(message)

    def close(self) -> None:
        self.bar.close()


# ---- worker processes --------------------------------------------------------------
_worker: dict = {}


def _start_worker(factory: Callable, videos: list, truths: list, root: str, seed: int,
                  reports, threads: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the parent's to handle
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, str(threads))
    _worker.update(factory=factory, videos=videos, truths=truths, root=Path(root), seed=seed,
                   reports=reports, trackers={})


def _tracker(registry_name: str):
    trackers = _worker["trackers"]
    if registry_name not in trackers:
        trackers[registry_name] = _worker["factory"](registry_name)
    return trackers[registry_name]


def _prepare(registry_name: str) -> None:
    _tracker(registry_name)


def _run_unit(unit: Unit) -> int:
    tracker = _tracker(unit.registry_name)
    pending, last = 0, time.monotonic()

    def report(frames: int) -> None:
        nonlocal pending, last
        pending += frames
        if time.monotonic() - last >= FLUSH_SECONDS:
            _worker["reports"].put(pending)
            pending, last = 0, time.monotonic()

    try:
        return run_sequence(tracker, unit.results_name, _worker["videos"][unit.sequence],
                            EXPERIMENTS[unit.experiment], _worker["root"], _worker["seed"],
                            _worker["truths"][unit.sequence], show_progress=False, progress=report)
    finally:
        if pending:
            _worker["reports"].put(pending)


def _drain(reports, progress: Progress) -> None:
    while True:
        try:
            progress.advance(reports.get_nowait())
        except queue_module.Empty:
            return


def _registry_names(units: list) -> list:
    return list(dict.fromkeys(u.registry_name for u in units))


def run_in_workers(units: list, factory: Callable, videos: list, truths: list, root: Path, seed: int,
                   jobs: int, start_progress: Callable) -> None:
    """Run ``units`` in ``jobs`` spawned processes (the longest first), after one
    worker has built each tracker (so a bad model file stops the run, as it is,
    before any progress is shown); ``start_progress()`` -> :class:`Progress`.
    ChildProcessError (one line) when a worker dies."""
    context = spawn_context()
    reports = context.Queue()
    jobs = max(1, min(jobs, len(units)))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    order = sorted(units, key=lambda u: -u.expected * u.frames)
    pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker,
                               initargs=(factory, videos, truths, str(root), seed, reports, threads))
    progress = None
    try:
        for future in [pool.submit(_prepare, name) for name in _registry_names(units)]:
            future.result()
        progress = start_progress()
        futures = {pool.submit(_run_unit, unit): unit for unit in order}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=FLUSH_SECONDS, return_when=FIRST_COMPLETED)
            _drain(reports, progress)
            for future in done:
                progress.finished(futures[future], future.result())
        _drain(reports, progress)
    except BrokenProcessPool:
        raise ChildProcessError(f"a worker process died (killed, or out of memory); the finished "
                                f"repetitions are kept in {root}: rerun to do the rest") from None
    except BaseException:
        _stop_workers(pool)     # an error or Ctrl-C: do not wait for whole sequences to end
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if progress is not None:
            progress.close()


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """End the pool's processes now (an unfinished repetition is redone by a rerun)."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        if process.is_alive():
            process.terminate()


def run_here(units: list, trackers: dict, videos: list, truths: list, root: Path, seed: int,
             progress: Progress, run_experiment: Callable) -> None:
    """Run ``units`` in this process with ``trackers`` (``{registry name: Tracker}``),
    through ``run_experiment`` (:func:`~goturn_caffe.vot.experiment.run_vot_experiment`)."""
    groups: dict = {}
    for unit in units:
        groups.setdefault((unit.results_name, unit.registry_name), {}).setdefault(
            unit.experiment, []).append(unit)
    for (results_name, registry_name), by_experiment in groups.items():
        for experiment, chosen in by_experiment.items():
            ran = run_experiment(trackers[registry_name], results_name,
                                 [videos[u.sequence] for u in chosen], EXPERIMENTS[experiment], root,
                                 seed, [truths[u.sequence] for u in chosen], show_progress=False,
                                 progress=progress.advance)
            for unit, count in zip(chosen, ran):
                progress.finished(unit, count)


def run_units(units: list, factory: Callable, videos: list, truths: list, root: Path, seed: int,
              jobs: int = 1, show_progress: bool = True, log: Callable = print,
              run_experiment: Optional[Callable] = None) -> None:
    """Run the planned ``units`` with one progress bar: in this process (``jobs`` 1;
    every tracker is built first) or in ``jobs`` worker processes."""
    if not units:
        return

    def start_progress() -> Progress:
        return Progress(sum(u.expected * u.frames for u in units), show_progress, log)

    if jobs > 1:
        run_in_workers(units, factory, videos, truths, root, seed, jobs, start_progress)
        return
    from goturn_caffe.vot.experiment import run_vot_experiment

    trackers = {name: factory(name) for name in _registry_names(units)}
    progress = start_progress()
    try:
        run_here(units, trackers, videos, truths, root, seed, progress,
                 run_experiment or run_vot_experiment)
    finally:
        progress.close()
