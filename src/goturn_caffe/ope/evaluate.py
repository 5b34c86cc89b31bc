"""One call from a dataset folder and trackers to OPE results, scores, summary,
plots and server zips: what ``tools/eval_ope.py`` runs."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable, Optional

from goturn_caffe.datasets.base import SkipReport
from goturn_caffe.datasets.image_io import DatasetError
from goturn_caffe.fileio import check_not_inputs, remove_stale_partials
from goturn_caffe.ope.report import ranked, write_summary
from goturn_caffe.ope.results import boxes_path, submission_members, times_path, write_submission
from goturn_caffe.ope.runner import (
    IDENTITY_FILE,
    check_identity,
    groundtruth_digest,
    holds_results,
    plan_units,
    record_identity,
    run_identity,
    run_units,
)
from goturn_caffe.ope.scoring import score_dataset
from goturn_caffe.ope.sources import load_dataset
from goturn_caffe.track.builder import build_tracker

RESULTS_FOLDER = "results"


def select_videos(videos: list, sequences: Optional[list], report: SkipReport) -> list:
    """``videos`` limited to ``sequences`` (ValueError naming unknown ones), without the
    ones OPE cannot start (no ground truth on frame 1: recorded in ``report``)."""
    if sequences:
        known = {v.name for v in videos}
        unknown = [s for s in sequences if s not in known]
        if unknown:
            raise ValueError(f"--sequences: not in the dataset: {', '.join(unknown)}")
        videos = [v for v in videos if v.name in set(sequences)]
    usable = []
    for video in videos:
        if video.frames and video.frames[0].box is not None:
            usable.append(video)
        else:
            report.skip(video.name, "no ground truth on the first frame: OPE cannot start")
    return usable


def frame_folders(videos: list) -> list:
    """The folders the frames of ``videos`` are read from (a dataset may link to them)."""
    return list(dict.fromkeys(Path(frame.path).parent for video in videos for frame in video.frames))


def written_files(output: Path, root: Path, dataset, trackers: list, videos: list) -> list:
    """Every file a run of ``trackers`` on ``videos`` may write (plots aside)."""
    files = [output / "summary.md", output / "scores" / f"{dataset.name}.json"]
    for results_name, _ in trackers:
        files.append(root / dataset.name / results_name / IDENTITY_FILE)
        for video in videos:
            files += [boxes_path(root, dataset, results_name, video.name),
                      times_path(root, dataset, results_name, video.name)]
        if dataset.submission:
            files.append(output / "submissions" / f"{dataset.name}_{results_name}.zip")
    return files


def evaluate(trackers: list, dataset_dir: Path, output: Path, kind: Optional[str] = None,
             sequences: Optional[list] = None, tracker_options: Optional[dict] = None,
             jobs: int = 1, show_progress: bool = True, log: Callable = print,
             tracker_factory: Optional[Callable] = None) -> dict:
    """Run ``trackers`` (``[(results name, registry name)]``) one pass over the dataset
    in ``dataset_dir`` into ``output/results/<Dataset>/`` (restartable), then score
    every tracker there by the dataset's scorer of record, write the summary and
    plots, and the server zips of a test split.  Returns the dataset's summary
    (plus ``"files"``)."""
    output = Path(output)
    report = SkipReport()
    dataset, videos = load_dataset(dataset_dir, kind, report)
    videos = select_videos(videos, sequences, report)
    if len(report):
        log(f"{dataset_dir}: {report.summary()}")
        log(report.details())
    if not videos:
        raise DatasetError(dataset_dir, f"no usable {dataset.name} sequence")
    log(f"{dataset_dir}: read as {dataset.name} ({len(videos)} sequences, "
        f"{sum(len(v) for v in videos)} frames)")
    root = output / RESULTS_FOLDER
    digests = {v.name: groundtruth_digest(v) for v in videos}
    identities = {results_name: run_identity(registry_name, tracker_options, dataset)
                  for results_name, registry_name in trackers}
    check_not_inputs({"--output": written_files(output, root, dataset, trackers, videos)},
                     [dataset_dir, *frame_folders(videos),
                      *(path for _, files in identities.values() for path in files.values())])
    for results_name, (identity, _) in identities.items():
        check_identity(root / dataset.name / results_name, identity, digests)
    for results_name in identities:
        folder = root / dataset.name / results_name
        for sub in [folder, folder / "times", *(folder / v.name for v in videos)]:
            remove_stale_partials(sub)      # what a crashed run left half-written
    fresh = [name for name in identities if not holds_results(root / dataset.name / name)]
    for name, (identity, files) in identities.items():
        record_identity(root / dataset.name / name, identity, files, digests)
    units, done = plan_units(trackers, dataset, videos, root)
    frames = sum(u.frames for u in units)
    log(f"planned: {len(trackers)} tracker(s) x {len(videos)} sequence(s): {len(units)} to run "
        f"({frames} frames), {done} already done"
        + (f"; {min(jobs, len(units))} worker processes" if jobs > 1 and units else ""))
    factory = tracker_factory or partial(build_tracker, **(tracker_options or {}))
    try:
        run_units(units, factory, videos, dataset, root, jobs, show_progress, log)
    except BaseException:
        for name in fresh:      # nothing ran there (a bad model file): leave no trace behind
            folder = root / dataset.name / name
            if not holds_results(folder):
                (folder / IDENTITY_FILE).unlink(missing_ok=True)
                for empty in (folder / "times", folder, folder.parent):
                    if empty.is_dir() and not any(empty.iterdir()):
                        empty.rmdir()
        raise
    summary = score_dataset(root, dataset, videos)
    summary["anchored"] = dataset.anchored and not sequences     # the published row is for all of it
    summary["submission"] = dataset.submission
    summary["source"] = str(dataset_dir)
    summary["submissions"] = {}
    if dataset.submission:
        for results_name, _ in trackers:
            zip_file = output / "submissions" / f"{dataset.name}_{results_name}.zip"
            write_submission(zip_file, submission_members(root, dataset, results_name,
                                                          [v.name for v in videos]))
            summary["submissions"][results_name] = str(zip_file)
    summary["files"] = write_summary(output, summary)
    return summary


def describe_scores(summary: dict) -> list:
    """One line per scored tracker, for the terminal."""
    lines = [f"{summary['dataset']}: {summary['rule']}"]
    for name, scores in ranked(summary):
        if summary["scorer"] == "got10k":
            lines.append(f"  {name}: AO {scores['ao']:.3f}, SR0.50 {scores['sr50']:.3f}, "
                         f"SR0.75 {scores['sr75']:.3f}")
        else:
            lines.append(f"  {name}: success AUC {scores['auc']:.3f}, precision {scores['precision']:.3f}, "
                         f"normalized precision {scores['norm_precision']:.3f}")
    for name, path in summary.get("submissions", {}).items():
        lines.append(f"  {name}: submission zip {path}")
    return lines

