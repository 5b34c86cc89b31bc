"""One call from a VOT folder and a tracker to results, summary and plot.

:func:`evaluate` is what ``tools/eval_vot2014.py`` runs; :func:`evaluate_goturn`
scores a trained GOTURN model on the baseline experiment for other tools
(the ablation study).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from goturn_caffe.datasets.base import SkipReport
from goturn_caffe.datasets.image_io import DatasetError
from goturn_caffe.datasets.vot import load_vot
from goturn_caffe.vot.experiment import DEFAULT_SEED, EXPERIMENTS, ground_truth, run_experiment
from goturn_caffe.vot.report import summarize, write_summary
from goturn_caffe.vot.trackers import create_tracker


def load_dataset(dataset: Path, sequences: Optional[list] = None, log=print) -> list:
    """The VOT sequences to score; skipped ones are reported through ``log``."""
    report = SkipReport()
    videos = load_vot(dataset, sequences, report)
    if len(report):
        log(f"{dataset}: {report.summary()}")
        for where, reason in report.entries:
            log(f"  {where}: {reason}")
    if not videos:
        raise DatasetError(dataset, "no usable VOT sequence")
    return videos


def evaluate(trackers: list, dataset: Path, output: Path, experiments: list = ("baseline",),
             sequences: Optional[list] = None, seed: int = DEFAULT_SEED,
             tracker_options: Optional[dict] = None, compare: tuple = (),
             efo_reference: Optional[float] = None, show_progress: bool = True,
             log=print) -> dict:
    """Run ``trackers`` (``[(results name, registry name)]``) through ``experiments``
    on ``dataset`` into ``output`` (VOT results layout, restartable), then score
    every tracker under ``output`` and ``compare`` roots and write the summary.
    Returns the summary dict (plus ``"files"``: the written summary paths).
    """
    output = Path(output)
    videos = load_dataset(Path(dataset), sequences, log)
    truths = [ground_truth(v) for v in videos]
    for results_name, registry_name in trackers:
        tracker = create_tracker(registry_name, **(tracker_options or {}))
        for experiment in experiments:
            run_experiment(tracker, results_name, videos, EXPERIMENTS[experiment], output, seed,
                           truths, show_progress=show_progress)
    summary = summarize([output, *map(Path, compare)], videos, truths, list(experiments),
                        efo_reference)
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
