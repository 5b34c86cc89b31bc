"""One call from a VOT folder and a tracker to results, summary and plot.

:func:`evaluate` is what ``tools/eval_vot2014.py`` runs; :func:`evaluate_goturn`
scores a trained GOTURN model on the baseline experiment for other tools
(the ablation study).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable, Optional

from goturn_caffe.datasets.base import SkipReport
from goturn_caffe.datasets.image_io import DatasetError
from goturn_caffe.datasets.vot import load_vot
from goturn_caffe.fileio import check_not_inputs, remove_stale_partials
from goturn_caffe.track.builder import TRACKER_NAMES, build_tracker
from goturn_caffe.vot.experiment import DEFAULT_SEED, ground_truth, run_vot_experiment
from goturn_caffe.vot.identity import (
    check_identity,
    forget_identity,
    holds_results,
    identity_path,
    merged_identity,
    read_identity,
    record_identity,
    results_identity,
)
from goturn_caffe.vot.report import find_trackers, summarize, write_summary
from goturn_caffe.vot.results import check_results_name, trajectory_path
from goturn_caffe.vot.runner import describe_plan, plan_units, run_units

SUMMARY_FILES = ("summary.json", "summary.md", "ar_plot.png")   # what write_summary writes


def load_dataset(dataset: Path, sequences: Optional[list] = None, log=print) -> list:
    """The VOT sequences to score; lines left without ground truth are reported
    through ``log``.  An unusable sequence (a bad first region, a missing frame)
    stops the evaluation with its DatasetError: scores over fewer sequences than
    asked for would not compare with anyone's."""
    report = SkipReport()
    videos = load_vot(dataset, sequences, report, strict=True)
    if len(report):
        log(f"{dataset}: {report.summary()}")
        for where, reason in report.entries:
            log(f"  {where}: {reason}")
    if not videos:
        raise DatasetError(dataset, "no usable VOT sequence")
    return videos


def tracker_runs(trackers: str, name: Optional[str] = None) -> list:
    """``[(results name, registry name)]`` from a ``--tracker`` list (comma-separated
    registry names) and a ``--name`` for a single tracker; ValueError (one line
    naming the option) for an unknown tracker or a name that is not a plain folder name."""
    names = [n.strip() for n in trackers.split(",") if n.strip()]
    unknown = [n for n in names if n not in TRACKER_NAMES]
    if unknown or not names:
        raise ValueError(f"--tracker: unknown {', '.join(unknown) or '(none)'}; "
                         f"choose from {', '.join(TRACKER_NAMES)}")
    if name is None:
        return [(n, n) for n in names]
    if len(names) != 1:
        raise ValueError("--name needs exactly one --tracker")
    try:
        return [(check_results_name(name), names[0])]
    except ValueError as exc:
        raise ValueError(f"--name: {exc}") from None


def check_compare_roots(roots, experiments: list) -> list:
    """The ``--compare`` results roots as paths; FileNotFoundError / ValueError (one
    line naming the folder) for one that is missing or holds no results of
    ``experiments`` (``<root>/<tracker>/<experiment>/``)."""
    checked = []
    for root in map(Path, roots):
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: no such results folder to compare with")
        if not any(find_trackers(root, experiment) for experiment in experiments):
            raise ValueError(f"{root}: holds no VOT results to compare with (expected "
                             f"<folder>/<tracker>/<experiment>/<sequence>/ for "
                             f"{' or '.join(experiments)})")
        checked.append(root)
    return checked


def evaluate(trackers: list, dataset: Path, output: Path, experiments: list = ("baseline",),
             sequences: Optional[list] = None, seed: int = DEFAULT_SEED,
             tracker_options: Optional[dict] = None, compare: tuple = (),
             efo_reference: Optional[float] = None, show_progress: bool = True,
             log=print, jobs: int = 1, tracker_factory: Optional[Callable] = None) -> dict:
    """Run ``trackers`` (``[(results name, registry name)]``) through ``experiments``
    on ``dataset`` into ``output`` (VOT results layout, restartable), then score
    every tracker under ``output`` and ``compare`` roots and write the summary.
    Returns the summary dict (plus ``"files"``: the written summary paths).

    Each results folder records what produced it (:mod:`goturn_caffe.vot.identity`);
    a folder holding another run's results is refused before anything runs.
    ``jobs`` > 1 runs sequences in that many worker processes
    (:mod:`goturn_caffe.vot.runner`; same results files). ``tracker_factory(registry
    name) -> Tracker`` (picklable for ``jobs`` > 1) defaults to
    :func:`~goturn_caffe.track.builder.build_tracker` with ``tracker_options``.
    """
    output = Path(output)
    experiments = list(experiments)
    compare = check_compare_roots(compare, experiments)
    videos = load_dataset(Path(dataset), sequences, log)
    for results_name, _ in trackers:
        check_results_name(results_name)
    identities, extended = {}, []
    for results_name, registry_name in trackers:
        identity, files = results_identity(registry_name, seed, tracker_options, videos=videos)
        folder = output / results_name
        check_identity(folder, identity)
        if holds_results(folder):
            recorded = read_identity(folder)
            identity = merged_identity(recorded, identity)
            if identity != recorded:      # new sequences join the folder's record
                extended.append(folder)
        identities[results_name] = (identity, files)
    written = [output / name for name in SUMMARY_FILES] + [
        identity_path(output / name) for name in identities]
    check_not_inputs({"--output": written}, [dataset, *compare, *(
        path for _, files in identities.values() for path in files.values())])
    truths = [ground_truth(v) for v in videos]
    for folder in [output, *(output / name for name, _ in trackers)] + [
            trajectory_path(output, name, experiment, video.name, 1).parent
            for name, _ in trackers for experiment in experiments for video in videos]:
        remove_stale_partials(folder)       # what a crashed run left half-written
    recorded = [output / name for name in identities if not holds_results(output / name)]
    for folder in recorded + extended:
        record_identity(folder, *identities[folder.name])
    units, done = plan_units(trackers, experiments, videos, output)
    log(describe_plan(units, trackers, experiments, videos, done)
        + (f"; {min(jobs, len(units))} worker processes" if jobs > 1 and units else ""))
    factory = tracker_factory or partial(build_tracker, **(tracker_options or {}))
    try:
        run_units(units, factory, videos, truths, output, seed, jobs, show_progress, log,
                  run_experiment=run_vot_experiment)
    except BaseException:
        for folder in recorded:     # nothing ran there (a bad model file): leave no trace
            if not holds_results(folder):
                forget_identity(folder)
        raise
    summary = summarize([output, *compare], videos, truths, experiments, efo_reference)
    summary["dataset"] = str(dataset)
    summary["seed"] = seed
    summary["files"] = {k: str(v) for k, v in write_summary(summary, output).items()}
    return summary


def evaluate_goturn(deploy_prototxt, weights, dataset, output, sequences: Optional[list] = None,
                    gpu: Optional[int] = None, name: str = "goturn") -> dict:
    """Score a GOTURN model on the baseline experiment -> ``{"accuracy", "failures",
    "frames", ...}`` (dataset-level numbers of :func:`goturn_caffe.vot.analysis.overall_scores`:
    length-weighted accuracy, total failures, total frames)."""
    summary = evaluate([(name, "goturn")], Path(dataset), Path(output), ("baseline",), sequences,
                       tracker_options={"deploy": str(deploy_prototxt), "weights": str(weights),
                                        "gpu": gpu},
                       show_progress=False, log=lambda message: None)
    scores = dict(summary["experiments"]["baseline"]["trackers"][name])
    scores["summary"] = summary["files"]["json"]
    return scores
