"""Scores of every tracker under ``results/<Dataset>/`` by the dataset's scorer of record.

A tracker is scored only when it has a boxes file for every sequence; the
others are listed as incomplete.  Per-attribute scores average the curves of
the sequences carrying that attribute (the OTB toolkit's and LaSOT's way).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from goturn_caffe.ope.metrics import (
    SCORERS,
    combine_sequences,
    got10k_scores,
    got10k_sequence_ious,
    otb_sequence,
)
from goturn_caffe.ope.results import boxes_path, read_results, read_times, times_path
from goturn_caffe.vot.experiment import image_size


def truth_array(video) -> np.ndarray:
    """The ground truth as ``(N, 4)`` x,y,w,h rows; NaN where a frame has no box."""
    return np.array([f.box.to_xywh() if f.box is not None else (np.nan,) * 4 for f in video.frames],
                    dtype=np.float64).reshape(-1, 4)


def find_trackers(root: Path, dataset) -> list:
    """Tracker folders under ``root/<Dataset>/`` (sorted)."""
    folder = Path(root) / dataset.name
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def _attribute_scores(videos: list, curves: list, drop_empty: bool) -> dict:
    groups: dict = {}
    for video, curve in zip(videos, curves):
        for attribute in video.attributes:
            groups.setdefault(attribute, []).append(curve)
    scores = {}
    for attribute in sorted(groups):
        combined = combine_sequences(groups[attribute], drop_empty)
        scores[attribute] = {k: combined[k] for k in ("auc", "precision", "norm_precision",
                                                       "sequences", "success_curve",
                                                       "precision_curve")}
    return scores


def score_tracker(root: Path, dataset, videos: list, tracker: str, truths: list,
                  sizes: list | None = None):
    """The scores of ``tracker`` (a dict), or None when a sequence has no results."""
    paths = [boxes_path(root, dataset, tracker, v.name) for v in videos]
    if not all(p.is_file() for p in paths):
        return None
    times = []
    for video in videos:
        times += read_times(times_path(root, dataset, tracker, video.name)) or []
    if dataset.scorer == "got10k":
        pooled = [got10k_sequence_ious(read_results(path, len(video)), truth,
                                       [f.cover if f.cover is not None else 1 for f in video.frames],
                                       size)
                  for path, video, truth, size in zip(paths, videos, truths, sizes)]
        scores = got10k_scores(np.concatenate(pooled), times)
        scores["sequences"] = len(videos)
        return scores
    curves = [otb_sequence(read_results(path, len(video)), truth,
                           [f.absent for f in video.frames] if dataset.scorer == "lasot" else None)
              for path, video, truth in zip(paths, videos, truths)]
    scores = combine_sequences(curves, drop_empty=dataset.scorer == "lasot")
    timed = np.asarray([t for t in times if t > 0])
    scores["fps"] = float(np.mean(1.0 / timed)) if timed.size else None
    scores["attributes"] = _attribute_scores(videos, curves, dataset.scorer == "lasot")
    return scores


def score_dataset(root: Path, dataset, videos: list) -> dict:
    """``{"dataset", "scorer", "rule", "sequences", "frames", "trackers": {name: scores},
    "incomplete": [...]}`` for every tracker under ``root/<Dataset>/``; a dataset
    scored by a server gets no scores here."""
    summary = {"dataset": dataset.name, "kind": dataset.key, "scorer": dataset.scorer,
               "rule": SCORERS[dataset.scorer].describe() if dataset.scorer else
               f"scored by the {dataset.name} evaluation server (submission zip)",
               "sequences": [v.name for v in videos], "frames": sum(len(v) for v in videos),
               "trackers": {}, "incomplete": []}
    if dataset.scorer is None:
        return summary
    truths = [truth_array(v) for v in videos]
    sizes = [image_size(v) for v in videos] if dataset.scorer == "got10k" else None
    for tracker in find_trackers(root, dataset):
        scores = score_tracker(root, dataset, videos, tracker, truths, sizes)
        if scores is None:
            summary["incomplete"].append(tracker)
        else:
            summary["trackers"][tracker] = scores
    return summary
