"""Scores from VOT results files: accuracy and failures per sequence, per tag,
and the VOT2014 A-R ranking of several trackers.

Per sequence the numbers are the Python toolkit's (``AccuracyRobustness``):
accuracy is the mean over repetitions of each repetition's accuracy, failures
the mean failure count. Over a dataset, accuracy and failures are averaged
weighted by sequence length (``AverageAccuracyRobustness``) and the failures
are also given as a total.

Per tag (VOT2014's legacy toolkit, ``create_label_selectors``): the frames
carrying the tag are pooled over sequences; a frame's overlap is its mean over
repetitions, the tag's accuracy the mean over its valid frames; the tag's
failures are counted on its frames, averaged over repetitions, then over the
sequences that have the tag. One deviation: burn-in frames are taken from the
whole trajectory (the legacy toolkit applied burn-in to the tag's frames only,
as if they were contiguous).

Ranking (legacy ``analyze_ranks``): per tag, trackers are ranked by accuracy
(descending) and by failures (ascending); trackers whose difference is not
significant share the mean of their ranks; the ranks are averaged over tags
and the overall rank is the mean of the accuracy and robustness ranks (the
paper's Table 2).  Significance, alpha 0.05, as the legacy toolkit tests it:
accuracy by a Wilcoxon signed-rank test on the paired per-frame overlaps
(fewer than 5 pairs: equal); robustness by a Wilcoxon rank-sum test on the
failure counts of every (sequence, repetition), the experiment's 15
repetitions per sequence, where repetitions not run (a deterministic tracker
stops after 3) count as the sequence's mean (``aggregate_for_label``), with
the tie-corrected normal approximation and continuity correction of Matlab's
``ranksum`` (its exact method is never reached with 15 repetitions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from goturn_caffe.datasets.base import Video
from goturn_caffe.vot.protocol import (
    BURNIN,
    REPETITIONS,
    GroundTruth,
    failure_frames,
    frame_overlaps,
    trajectory_accuracy,
    valid_frames,
)
from goturn_caffe.vot.results import ResultsError, read_times, read_trajectory, repetition_paths

VOT2014_TAGS = ("camera_motion", "illum_change", "occlusion", "size_change", "motion_change")
EMPTY_TAG = "empty"
RANKING_TAGS = VOT2014_TAGS + (EMPTY_TAG,)
SIGNIFICANCE_ALPHA = 0.05
MIN_PAIRED_FRAMES = 5              # fewer paired overlaps: accuracies count as equal
RELIABILITY_SENSITIVITY = 30       # the toolkit's A-R plot: exp(-30 failures / sequence length)
# The F and N of overall_scores' reliability exp(-30 F / N) (the A-R plot's label says it).
RELIABILITY_NORMALISATION = "F: length-weighted failures per sequence, N: mean sequence length"


@dataclass
class SequenceResult:
    """One tracker's repetitions of one sequence in one experiment."""

    name: str
    frames: int
    accuracy: float              # mean over repetitions of the per-repetition accuracy
    failures: float              # mean failure count over repetitions
    overlaps: np.ndarray         # (R, N) float64, NaN where a frame does not count for accuracy
    failed: np.ndarray           # (R, N) bool, failure frames
    seconds: float               # tracker time over all repetitions (0 when not recorded)
    timed_frames: int            # frames that time covers

    @property
    def repetitions(self) -> int:
        return len(self.overlaps)


def score_sequence(root: Path, tracker: str, experiment: str, video: Video,
                   truth: GroundTruth) -> Optional[SequenceResult]:
    """Score every repetition file of one sequence (``truth``: its
    :class:`~goturn_caffe.vot.protocol.GroundTruth`); None when there is none."""
    paths = repetition_paths(root, tracker, experiment, video.name)
    if not paths:
        return None
    overlaps, failed, accuracies = [], [], []
    seconds, timed = 0.0, 0
    for path in paths:
        trajectory = read_trajectory(path)
        if len(trajectory) != len(video):
            raise ResultsError(f"{path}: {len(trajectory)} frames in the results, "
                               f"{len(video)} in sequence {video.name}")
        frame_overlap = frame_overlaps(trajectory, truth)
        valid = valid_frames(trajectory, BURNIN)
        accuracies.append(trajectory_accuracy(frame_overlap, valid))
        overlaps.append(np.where(valid, frame_overlap, np.nan))
        failures = np.zeros(len(video), dtype=bool)
        failures[failure_frames(trajectory)] = True
        failed.append(failures)
        times = read_times(path)
        if times is not None:
            seconds += sum(times)
            timed += sum(1 for t in times if t > 0)
    failed_array = np.array(failed)
    return SequenceResult(video.name, len(video), float(np.mean(accuracies)),
                          float(failed_array.sum(axis=1).mean()), np.array(overlaps),
                          failed_array, seconds, timed)


def tag_mask(video: Video, tag: str) -> np.ndarray:
    """(N,) bool: frames carrying ``tag``; ``empty`` = none of the VOT2014 tags."""
    if tag == EMPTY_TAG:
        return np.array([not (f.tags & set(VOT2014_TAGS)) for f in video.frames], dtype=bool)
    return np.array([tag in f.tags for f in video.frames], dtype=bool)


def _frame_means(overlaps: np.ndarray) -> np.ndarray:
    """Per-frame mean over repetitions of the valid overlaps, NaN where none is valid."""
    counts = (~np.isnan(overlaps)).sum(axis=0)
    sums = np.nansum(overlaps, axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def repetition_failures(counts: np.ndarray, repetitions: int = REPETITIONS) -> np.ndarray:
    """Failure counts of the repetitions run, padded to ``repetitions`` with their
    mean (the legacy toolkit's stand-in for repetitions a deterministic tracker skips)."""
    counts = np.asarray(counts, dtype=np.float64)
    padding = np.full(max(repetitions - len(counts), 0), counts.mean() if len(counts) else 0.0)
    return np.concatenate([counts, padding])


def tag_samples(results: list, videos: list, tag: str, repetitions: int = REPETITIONS) -> tuple:
    """The samples a tag is ranked on, over the S sequences with at least one tagged
    frame: (frame overlaps (M,) with NaN, failures (S, ``repetitions``): the count on
    the tag's frames per sequence and repetition, see :func:`repetition_failures`)."""
    overlaps, failures = [], []
    for result, video in zip(results, videos):
        mask = tag_mask(video, tag)
        if not mask.any():
            continue
        overlaps.append(_frame_means(result.overlaps)[mask])
        failures.append(repetition_failures(result.failed[:, mask].sum(axis=1), repetitions))
    if not overlaps:
        return np.zeros(0), np.zeros((0, repetitions))
    return np.concatenate(overlaps), np.array(failures)


def tag_scores(results: list, videos: list) -> dict:
    """``{tag: {"accuracy", "failures", "frames", "sequences"}}`` for the tags present
    (failures: the mean over the tag's sequences of the mean over repetitions)."""
    scores = {}
    for tag in RANKING_TAGS:
        overlaps, failures = tag_samples(results, videos, tag)
        if not len(failures):
            continue
        valid = overlaps[~np.isnan(overlaps)]
        scores[tag] = {"accuracy": float(valid.mean()) if len(valid) else 0.0,
                       "failures": float(failures.mean()), "frames": int(len(overlaps)),
                       "sequences": int(len(failures))}
    return scores


def reliability(failures: float, frames: float, sensitivity: float = RELIABILITY_SENSITIVITY) -> float:
    """VOT's reliability exp(-S F / N) of F failures over N frames, S = 30 frames (the
    toolkit's A-R plot).

    The normalisation is the caller's: :func:`overall_scores` passes the
    length-weighted failures per sequence and the mean sequence length
    (:data:`RELIABILITY_NORMALISATION`); the ablation table passes all failures and
    all frames, i.e. failures per sequence unweighted (``sum F / sum N`` =
    mean F / mean N).
    """
    return math.exp(-sensitivity * failures / max(frames, 1))


def overall_scores(results: list) -> dict:
    """Dataset-level numbers: length-weighted accuracy and failures per sequence
    (the toolkit's ``AverageAccuracyRobustness``), total failures, frames, the
    toolkit's A-R plot robustness exp(-30 F / mean sequence length) with F the
    length-weighted failures per sequence, and fps."""
    frames = np.array([r.frames for r in results], dtype=np.float64)
    accuracy = float(np.dot([r.accuracy for r in results], frames) / frames.sum())
    failures_weighted = float(np.dot([r.failures for r in results], frames) / frames.sum())
    failures_total = float(sum(r.failures for r in results))
    seconds, timed = sum(r.seconds for r in results), sum(r.timed_frames for r in results)
    return {"accuracy": accuracy, "failures": failures_total,
            "failures_per_sequence": failures_weighted, "frames": int(frames.sum()),
            "sequences": len(results),
            "reliability": reliability(failures_weighted, frames.mean()),
            "fps": timed / seconds if seconds > 0 else None}


def significance_tests_available() -> bool:
    """Whether scipy (its Wilcoxon tests rank the trackers) can be imported.  The
    packed GPU runtime leaves it out; its results are ranked where scipy is."""
    try:
        import scipy.stats  # noqa: F401
    except ImportError:
        return False
    return True


def accuracy_differs(first: np.ndarray, second: np.ndarray, alpha: float = SIGNIFICANCE_ALPHA) -> bool:
    """Wilcoxon signed-rank test on the paired frame overlaps (NaN pairs dropped;
    zero differences dropped too, as Matlab's ``signrank`` does)."""
    from scipy.stats import wilcoxon

    difference = first - second
    difference = difference[~np.isnan(difference)]
    if len(difference) < MIN_PAIRED_FRAMES or not np.any(difference):
        return False
    return bool(wilcoxon(difference, zero_method="wilcox").pvalue <= alpha)


def robustness_differs(first: np.ndarray, second: np.ndarray, alpha: float = SIGNIFICANCE_ALPHA) -> bool:
    """Wilcoxon rank-sum test on the failure counts (all values of the two arrays,
    e.g. sequences x repetitions), as Matlab's ``ranksum`` approximates it: normal,
    tie-corrected, with continuity correction."""
    from scipy.stats import mannwhitneyu

    first, second = np.ravel(first), np.ravel(second)
    if not len(first) or not len(second) or np.ptp(np.concatenate([first, second])) == 0:
        return False
    test = mannwhitneyu(first, second, alternative="two-sided", use_continuity=True,
                        method="asymptotic")
    return bool(test.pvalue <= alpha)


def adapted_ranks(values: np.ndarray, descending: bool, differs: np.ndarray) -> np.ndarray:
    """Ranks 1..T by value (ties in input order), then each tracker takes the mean
    rank of the trackers it does not differ from significantly (itself included).
    ``differs``: (T, T) bool."""
    order = np.argsort(-values if descending else values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    same = ~differs | np.eye(len(values), dtype=bool)
    return np.array([ranks[same[i]].mean() for i in range(len(values))])


def rank_trackers(samples: dict, alpha: float = SIGNIFICANCE_ALPHA) -> dict:
    """A-R ranks of several trackers on the same sequences.

    ``samples``: ``{tracker: {tag: (frame overlaps, failures per sequence and
    repetition)}}`` as :func:`tag_samples` gives. Returns ``{tracker: {"accuracy", "robustness",
    "overall", "tags": {tag: {"accuracy", "robustness"}}}}``.
    """
    names = list(samples)
    tags = [t for t in RANKING_TAGS if all(np.size(samples[n].get(t, ((), ()))[1]) for n in names)]
    per_tag = {}
    for tag in tags:
        overlaps = [samples[n][tag][0] for n in names]
        failures = [samples[n][tag][1] for n in names]
        count = len(names)
        accuracy_diff = np.zeros((count, count), dtype=bool)
        robustness_diff = np.zeros((count, count), dtype=bool)
        for i in range(count):
            for j in range(i + 1, count):
                accuracy_diff[i, j] = accuracy_diff[j, i] = accuracy_differs(overlaps[i], overlaps[j], alpha)
                robustness_diff[i, j] = robustness_diff[j, i] = robustness_differs(failures[i], failures[j], alpha)
        mean_accuracy = np.array([np.nanmean(o) if np.any(~np.isnan(o)) else 0.0 for o in overlaps])
        mean_failures = np.array([f.mean() for f in failures])
        per_tag[tag] = (adapted_ranks(mean_accuracy, True, accuracy_diff),
                        adapted_ranks(mean_failures, False, robustness_diff))
    ranks = {}
    for index, name in enumerate(names):
        accuracy = float(np.mean([per_tag[t][0][index] for t in tags])) if tags else None
        robustness = float(np.mean([per_tag[t][1][index] for t in tags])) if tags else None
        ranks[name] = {"accuracy": accuracy, "robustness": robustness,
                       "overall": (accuracy + robustness) / 2 if tags else None,
                       "tags": {t: {"accuracy": float(per_tag[t][0][index]),
                                    "robustness": float(per_tag[t][1][index])} for t in tags}}
    return ranks
