"""One-pass evaluation (OPE) metrics, pure numpy, with the rule of each scorer of record.

Boxes are ``(N, 4)`` arrays of ``x, y, w, h`` rows in the dataset's own pixel
coordinates (the form of every OTB / LaSOT / GOT-10k ground-truth and results
file).  Three scorers of record differ in small ways; each is one
:class:`Scorer` here, and ``docs/ope.md`` states every rule and its source:

- ``otb`` -- the OTB toolkit (Wu et al., ``calcSeqErrRobust.m`` /
  ``genPerfMat.m``), also the rule of UAV123's toolkit and of pysot for OTB,
  UAV123, NfS and TColor128: the result of frame 1 is replaced by the ground
  truth; a ground-truth row that is not all four numbers > 0 (a NaN line
  included) stays in the denominator as a frame with overlap -1 and centre
  error -1, so it misses every success threshold and meets every precision
  threshold; a result row that is NaN or has w <= 0 or h <= 0 is replaced by
  the previous one; curves are per sequence, then averaged over sequences.
- ``lasot`` -- the LaSOT toolkit (``calc_seq_err_robust.m``, ``eval_tracker.m``,
  ``plot_draw_save.m``): the ``otb`` rule, except that the frames marked absent
  (full occlusion or out of view) are removed from the count of successes while
  the denominator stays the sequence's full length (so a sequence with absent
  frames never reaches 1; pysot does the same), and a sequence whose curve is
  all zeros is left out of the mean over sequences.
- ``got10k`` -- the GOT-10k toolkit (``ExperimentGOT10k``): frame 1 excluded;
  both boxes clipped to the image the way its ``rect_iou(bound=...)`` does (x
  to [0, W], then w to [0, W - x]; y and h alike); frames whose ``cover`` is 0
  dropped; the overlaps of all frames of all sequences pooled: AO is their
  mean, SR0.5 / SR0.75 the fraction above 0.5 / 0.75.

Success is ``IoU > t`` at the 21 thresholds 0, 0.05, ..., 1 and its AUC the
mean of that curve; precision is ``centre error <= t`` at 0..50 px, reported at
20 px, with the centre ``x + (w - 1) / 2`` (OTB's 1-based pixel centre, used
for both boxes, so the -1 cancels except through the NaN/invalid rules);
normalized precision divides the centre offset by the ground truth's w and h,
curve at 0, 0.01, ..., 0.5, reported as its value at 0.20 (pytracking's and
pysot's convention) beside the area under it (the mean of the curve), which
some papers rank by instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)
PRECISION_THRESHOLDS = np.arange(0, 51, dtype=np.float64)          # pixels
NORM_PRECISION_THRESHOLDS = np.linspace(0.0, 0.5, 51)
PRECISION_AT = 20                   # px: index 20 of PRECISION_THRESHOLDS
NORM_PRECISION_AT = 20              # index of 0.20 in NORM_PRECISION_THRESHOLDS
GOT10K_SUCCESS_RATES = (0.5, 0.75)


@dataclass(frozen=True)
class Scorer:
    """A scorer of record: which frames count and how sequences are combined."""

    name: str
    title: str
    source: str
    first_frame: str
    invalid_truth: str
    absent: str
    pooling: str

    def describe(self) -> str:
        return (f"{self.title} rule ({self.source}): first frame: {self.first_frame}; "
                f"invalid ground truth: {self.invalid_truth}; absent frames: {self.absent}; "
                f"{self.pooling}")


SCORERS = {
    "otb": Scorer(
        "otb", "OTB", "OTB toolkit calcSeqErrRobust.m / genPerfMat.m; pysot agrees",
        "the result is replaced by the ground truth (overlap 1, error 0)",
        "a row not all > 0 counts as a miss for success and a hit for precision",
        "none marked", "curves per sequence, averaged over sequences"),
    "lasot": Scorer(
        "lasot", "LaSOT", "LaSOT toolkit calc_seq_err_robust.m / eval_tracker.m; pysot agrees",
        "the result is replaced by the ground truth (overlap 1, error 0)",
        "as OTB", "not counted as successes, but kept in the denominator (the sequence's length)",
        "curves per sequence, averaged over sequences (all-zero curves left out)"),
    "got10k": Scorer(
        "got10k", "GOT-10k", "GOT-10k toolkit ExperimentGOT10k / rect_iou(bound)",
        "excluded", "frames with cover 0 dropped; boxes clipped to the image",
        "dropped (cover 0)", "overlaps of all frames of all sequences pooled"),
}


# ---- per-frame measures -------------------------------------------------------------
def as_boxes(boxes) -> np.ndarray:
    """``boxes`` as a float64 ``(N, 4)`` array (ValueError for another shape)."""
    array = np.asarray(boxes, dtype=np.float64)
    if array.ndim == 1 and array.size == 4:
        array = array.reshape(1, 4)
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"expected x,y,w,h rows, got an array of shape {array.shape}")
    return array


def overlaps(results, truth) -> np.ndarray:
    """Intersection over union of each row pair (continuous coordinates: the OTB
    toolkit's 1-based inclusive ``calcRectInt`` gives the same numbers); a pair
    whose union is empty (two zero-size boxes) has overlap 0."""
    a, b = as_boxes(results), as_boxes(truth)
    width = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    height = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    intersection = np.clip(width, 0, None) * np.clip(height, 0, None)
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - intersection
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, intersection / np.where(union > 0, union, 1.0), 0.0)
    return np.clip(iou, 0.0, 1.0)


def centers(boxes) -> np.ndarray:
    """OTB's box centre, ``(x + (w - 1) / 2, y + (h - 1) / 2)``."""
    boxes = as_boxes(boxes)
    return boxes[:, :2] + (boxes[:, 2:] - 1.0) / 2.0


def center_errors(results, truth) -> np.ndarray:
    """Euclidean distance between the OTB centres, in pixels."""
    return np.sqrt(np.sum((centers(results) - centers(truth)) ** 2, axis=1))


def normalized_center_errors(results, truth) -> np.ndarray:
    """The centre offset divided by the ground truth's width and height (LaSOT's rule)."""
    truth = as_boxes(truth)
    with np.errstate(invalid="ignore", divide="ignore"):
        offset = (centers(results) - centers(truth)) / truth[:, 2:]
    return np.sqrt(np.sum(offset ** 2, axis=1))


def valid_truth(truth) -> np.ndarray:
    """The OTB / LaSOT toolkits' valid ground-truth rows: all four numbers > 0
    (a NaN row, a zero-size box and -- a quirk kept on purpose -- a box touching
    x = 0 or y = 0 are invalid)."""
    truth = as_boxes(truth)
    with np.errstate(invalid="ignore"):
        return np.all(truth > 0, axis=1)


def repair_results(results, truth) -> np.ndarray:
    """The OTB toolkit's repair of a results file: from frame 2 on, a row that is
    NaN or has w <= 0 or h <= 0 (where the ground truth is not NaN) takes the
    previous row."""
    fixed = as_boxes(results).copy()
    truth = as_boxes(truth)
    for i in range(1, len(fixed)):
        row = fixed[i]
        bad = bool(np.any(np.isnan(row))) or row[2] <= 0 or row[3] <= 0
        if bad and not np.any(np.isnan(truth[i])):
            fixed[i] = fixed[i - 1]
    return fixed


def success_curve(ious, thresholds=SUCCESS_THRESHOLDS) -> np.ndarray:
    """Fraction of frames with overlap > t for each threshold (0 frames: zeros)."""
    ious = np.asarray(ious, dtype=np.float64).reshape(-1, 1)
    if ious.size == 0:
        return np.zeros(len(thresholds))
    return np.mean(ious > np.asarray(thresholds)[None, :], axis=0)


def precision_curve(errors, thresholds=PRECISION_THRESHOLDS) -> np.ndarray:
    """Fraction of frames with centre error <= t for each threshold."""
    errors = np.asarray(errors, dtype=np.float64).reshape(-1, 1)
    if errors.size == 0:
        return np.zeros(len(thresholds))
    return np.mean(errors <= np.asarray(thresholds)[None, :], axis=0)


# ---- one sequence -------------------------------------------------------------------
@dataclass
class SequenceCurves:
    """A sequence's curves under the ``otb`` / ``lasot`` rule, and how many frames counted."""

    success: np.ndarray
    precision: np.ndarray
    norm_precision: np.ndarray
    frames: int


def otb_sequence(results, truth, absent=None) -> SequenceCurves:
    """Curves of one sequence under the OTB rule, or the LaSOT rule when ``absent``
    (a boolean per frame) is given.  ``results`` and ``truth`` have one row per
    frame (ValueError naming both lengths otherwise)."""
    results, truth = as_boxes(results), as_boxes(truth)
    if len(results) != len(truth):
        raise ValueError(f"{len(results)} result rows for {len(truth)} ground-truth rows")
    boxes = repair_results(results, truth)
    boxes[0] = truth[0]
    valid = valid_truth(truth)
    ious = np.full(len(truth), -1.0)
    errors = np.full(len(truth), -1.0)
    norm_errors = np.full(len(truth), -1.0)
    if valid.any():
        ious[valid] = overlaps(boxes[valid], truth[valid])
        errors[valid] = center_errors(boxes[valid], truth[valid])
        norm_errors[valid] = normalized_center_errors(boxes[valid], truth[valid])
    keep = np.ones(len(truth), bool) if absent is None else ~np.asarray(absent, bool)
    # absent frames leave the count of successes, not the denominator (LaSOT's eval_tracker.m)
    share = keep.sum() / len(truth)
    return SequenceCurves(success_curve(ious[keep]) * share, precision_curve(errors[keep]) * share,
                          precision_curve(norm_errors[keep], NORM_PRECISION_THRESHOLDS) * share,
                          int(keep.sum()))


def clip_to_image(boxes, width: float, height: float) -> np.ndarray:
    """GOT-10k's clipping: x to [0, W], then w to [0, W - x]; y and h alike (a box
    starting left of the image keeps its width: the toolkit's rule, kept)."""
    clipped = as_boxes(boxes).copy()
    clipped[:, 0] = np.clip(clipped[:, 0], 0, width)
    clipped[:, 1] = np.clip(clipped[:, 1], 0, height)
    clipped[:, 2] = np.clip(clipped[:, 2], 0, width - clipped[:, 0])
    clipped[:, 3] = np.clip(clipped[:, 3], 0, height - clipped[:, 1])
    return clipped


def got10k_sequence_ious(results, truth, cover, image_size: tuple) -> np.ndarray:
    """The overlaps one GOT-10k sequence adds to the pool: frames 2.. whose cover
    is > 0, both boxes clipped to ``image_size`` (width, height)."""
    results, truth = as_boxes(results), as_boxes(truth)
    if len(results) != len(truth):
        raise ValueError(f"{len(results)} result rows for {len(truth)} ground-truth rows")
    width, height = image_size
    ious = overlaps(clip_to_image(results[1:], width, height), clip_to_image(truth[1:], width, height))
    return ious[np.asarray(cover)[1:] > 0]


# ---- a dataset ----------------------------------------------------------------------
def _mean_curve(curves: list, drop_empty: bool) -> np.ndarray:
    if drop_empty:      # LaSOT's plot_draw_save.m: only curves summing to more than eps
        kept = [c for c in curves if np.sum(c) > np.finfo(float).eps]
        curves = kept or curves
    return np.mean(curves, axis=0)


def combine_sequences(curves: list, drop_empty: bool = False) -> dict:
    """Dataset scores from per-sequence :class:`SequenceCurves` (the mean of the
    curves over sequences; ``drop_empty``: the LaSOT toolkit's mean, which leaves
    out a sequence whose curve is all zeros): ``auc``, ``precision``,
    ``norm_precision``, ``norm_precision_auc`` and the curves themselves."""
    if not curves:
        raise ValueError("no sequence to score")
    success = _mean_curve([c.success for c in curves], drop_empty)
    precision = _mean_curve([c.precision for c in curves], drop_empty)
    norm = _mean_curve([c.norm_precision for c in curves], drop_empty)
    return {"auc": float(np.mean(success)), "precision": float(precision[PRECISION_AT]),
            "norm_precision": float(norm[NORM_PRECISION_AT]),
            "norm_precision_auc": float(np.mean(norm)),
            "success_rate_50": float(success[10]),
            "sequences": len(curves), "frames": int(sum(c.frames for c in curves)),
            "success_curve": success.tolist(), "precision_curve": precision.tolist(),
            "norm_precision_curve": norm.tolist()}


def got10k_scores(pooled_ious, times: Optional[list] = None) -> dict:
    """AO, SR0.5, SR0.75 of the pooled overlaps (and frames/s as the toolkit
    computes it, the mean of 1 / time over frames timed > 0, when ``times``)."""
    ious = np.asarray(pooled_ious, dtype=np.float64)
    if ious.size == 0:
        raise ValueError("no frame to score (every frame has cover 0)")
    scores = {"ao": float(np.mean(ious)), "frames": int(ious.size)}
    for rate in GOT10K_SUCCESS_RATES:
        scores[f"sr{int(round(rate * 100))}"] = float(np.mean(ious > rate))
    curve = success_curve(ious)
    scores["success_curve"] = curve.tolist()
    scores["auc"] = float(np.mean(curve))
    if times is not None:
        timed = np.asarray(times, dtype=np.float64)
        timed = timed[np.isfinite(timed) & (timed > 0)]
        scores["fps"] = float(np.mean(1.0 / timed)) if timed.size else None
    return scores
