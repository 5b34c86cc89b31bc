"""OPE metrics against values derived by hand, each scorer's rule, and the got10k toolkit."""

from types import SimpleNamespace

import numpy as np
import pytest

from goturn_caffe.ope.metrics import (
    SUCCESS_THRESHOLDS,
    center_errors,
    centers,
    clip_to_image,
    combine_sequences,
    got10k_scores,
    got10k_sequence_ious,
    normalized_center_errors,
    otb_sequence,
    overlaps,
    precision_curve,
    repair_results,
    success_curve,
    valid_truth,
)

NAN = (np.nan,) * 4


def test_overlap_centre_and_errors_by_hand():
    # 10x10 boxes shifted by 5 in x and y: intersection 5*5 = 25, union 100 + 100 - 25 = 175
    assert overlaps([[0, 0, 10, 10]], [[5, 5, 10, 10]]) == pytest.approx([25 / 175])
    assert overlaps([[0, 0, 10, 10]], [[0, 0, 10, 20]]) == pytest.approx([0.5])
    assert overlaps([[0, 0, 10, 10]], [[20, 0, 10, 10]]) == pytest.approx([0.0])
    assert overlaps([[3, 3, 0, 0]], [[3, 3, 0, 0]]) == pytest.approx([0.0])   # zero-size: no union
    # OTB centre: x + (w - 1) / 2
    assert centers([[0, 0, 10, 10]]).tolist() == [[4.5, 4.5]]
    assert centers([[1, 2, 1, 1]]).tolist() == [[1, 2]]
    assert center_errors([[3, 4, 10, 10]], [[0, 0, 10, 10]]) == pytest.approx([5.0])
    # offset (3, 4) over the ground truth's (w, h) = (10, 20): sqrt(0.3^2 + 0.2^2)
    assert normalized_center_errors([[3, 4, 10, 20]], [[0, 0, 10, 20]]) == pytest.approx([np.hypot(0.3, 0.2)])


def test_success_and_precision_curves_by_hand():
    # thresholds 0, 0.05, ..., 1: IoU 1 beats 20 of them, 0.5 beats 10 (not 0.5 itself),
    # 0.07 beats 2, 0 none: AUC = (20 + 10 + 2) / (4 * 21)
    curve = success_curve([1.0, 0.5, 0.07, 0.0])
    assert len(curve) == 21 and curve[0] == 0.75 and curve[10] == 0.25 and curve[20] == 0.0
    assert np.mean(curve) == pytest.approx(32 / 84)
    # precision counts error <= t: at 20 px, 0, 20 and -1 (invalid frame) count, 20.5 does not
    precision = precision_curve([0.0, 20.0, 20.5, -1.0])
    assert precision[20] == 0.75 and precision[0] == 0.5 and precision[21] == 1.0
    assert success_curve([]).tolist() == [0.0] * 21


def test_otb_rule_by_hand():
    truth = [(10, 10, 10, 10), (10, 10, 10, 10), NAN]
    results = [(50, 50, 5, 5), (15, 10, 10, 10), (0, 0, 1, 1)]
    curves = otb_sequence(results, truth)
    # frame 1: replaced by the ground truth (IoU 1, error 0); frame 2: IoU 50/150, error 5;
    # frame 3: NaN ground truth -> IoU -1 (misses every threshold), error -1 (meets every one)
    assert curves.frames == 3
    assert np.mean(curves.success) == pytest.approx((20 + 7) / 63)    # 1/3 beats 0 .. 0.30
    assert curves.precision[20] == 1.0 and curves.precision[0] == pytest.approx(2 / 3)
    assert curves.norm_precision[20] == pytest.approx(2 / 3)           # 5 / 10 = 0.5 > 0.2
    scores = combine_sequences([curves])
    assert scores["auc"] == pytest.approx(27 / 63) and scores["precision"] == 1.0


def test_lasot_rule_removes_absent_frames():
    truth = [(10, 10, 10, 10), (10, 10, 10, 10), (0, 0, 0, 0)]
    results = [(50, 50, 5, 5), (15, 10, 10, 10), (10, 10, 10, 10)]
    curves = otb_sequence(results, truth, absent=[False, False, True])
    # the absent frame is no success at any threshold, and the denominator stays 3 frames
    assert curves.frames == 2
    assert np.mean(curves.success) == pytest.approx((20 + 7) / 63)
    assert curves.precision[20] == pytest.approx(2 / 3)
    assert curves.norm_precision[20] == pytest.approx(1 / 3)     # errors 0 and 0.5
    # the mean over sequences leaves out an all-zero curve (frame 1 of an empty sequence absent)
    empty = otb_sequence([(1, 1, 5, 5)], [(1, 1, 5, 5)], absent=[True])
    assert empty.success.sum() == 0
    assert combine_sequences([curves, empty], drop_empty=True)["auc"] == pytest.approx(27 / 63)
    assert combine_sequences([curves, empty])["auc"] == pytest.approx(27 / 126)


def test_invalid_truth_and_result_repair():
    # the toolkits' validity: all four numbers > 0 (x = 0 is invalid: their quirk, kept)
    assert valid_truth([(1, 1, 5, 5), (0, 5, 5, 5), (1, 1, 0, 5), NAN]).tolist() == [True, False, False, False]
    repaired = repair_results([(1, 1, 5, 5), (2, 2, 0, 5), NAN, (4, 4, 5, 5)],
                              [(1, 1, 5, 5), (1, 1, 5, 5), (1, 1, 5, 5), (1, 1, 5, 5)])
    assert repaired.tolist() == [[1, 1, 5, 5]] * 3 + [[4, 4, 5, 5]]


def test_got10k_rule_by_hand():
    # clipping: x to [0, W], then w to [0, W - x] (a box left of the image keeps its width)
    assert clip_to_image([(95, 45, 10, 10), (-5, 0, 20, 10)], 100, 50).tolist() == \
        [[95, 45, 5, 5], [0, 0, 20, 10]]
    truth = [(0, 0, 10, 10), (90, 40, 20, 20), (10, 10, 10, 10), (10, 10, 10, 10)]
    results = [(50, 20, 5, 5), (95, 45, 10, 10), (40, 40, 5, 5), (10, 10, 10, 20)]
    ious = got10k_sequence_ious(results, truth, cover=[8, 8, 0, 3], image_size=(100, 50))
    # frame 1 excluded; frame 2: clipped truth 90,40,10,10 vs 95,45,5,5 -> 25/100;
    # frame 3 dropped (cover 0); frame 4: 100 / 200
    assert ious == pytest.approx([0.25, 0.5])
    scores = got10k_scores(np.concatenate([ious, [1.0, 0.8]]), times=[0.5, 0.25, 0, np.nan])
    assert scores["ao"] == pytest.approx((0.25 + 0.5 + 1.0 + 0.8) / 4)
    assert scores["sr50"] == 0.5 and scores["sr75"] == 0.5        # 0.5 is not > 0.5
    assert scores["fps"] == pytest.approx((2 + 4) / 2)            # times <= 0 or NaN left out
    with pytest.raises(ValueError, match="cover 0"):
        got10k_scores([])


def test_dataset_mean_is_over_sequences():
    a = otb_sequence([(1, 1, 10, 10)] * 2, [(1, 1, 10, 10)] * 2)            # AUC 20/21
    b = otb_sequence([(1, 1, 10, 10), (50, 50, 10, 10)], [(1, 1, 10, 10)] * 2)   # AUC 10/21
    assert combine_sequences([a, b])["auc"] == pytest.approx(15 / 21)
    # a ground truth at x = 0 is invalid for the toolkits: both frames miss every threshold
    assert combine_sequences([otb_sequence([(0, 1, 10, 10)] * 2, [(0, 1, 10, 10)] * 2)])["auc"] == 0.0
    with pytest.raises(ValueError):
        combine_sequences([])


@pytest.fixture
def got10k_toolkit():
    return pytest.importorskip("got10k.utils.metrics"), pytest.importorskip("got10k.experiments")


def test_matches_the_got10k_toolkit(got10k_toolkit):
    """The same numbers as the got10k package (0.1.3) on random valid boxes: its OTB
    curves (ExperimentOTB._calc_curves) and GOT-10k overlaps with clipping and AO/SR."""
    toolkit, experiments = got10k_toolkit
    rng = np.random.default_rng(7)
    truth = np.column_stack([rng.uniform(1, 80, 200), rng.uniform(1, 60, 200),
                             rng.uniform(2, 40, 200), rng.uniform(2, 40, 200)])
    results = truth + rng.normal(0, 6, truth.shape)
    results[:, 2:] = np.abs(results[:, 2:]) + 1
    ious = toolkit.rect_iou(results, truth)
    errors = toolkit.center_error(results, truth)
    assert overlaps(results, truth) == pytest.approx(ious, abs=1e-12)
    assert center_errors(results, truth) == pytest.approx(errors)
    theirs = experiments.otb.ExperimentOTB._calc_curves(
        SimpleNamespace(nbins_iou=21, nbins_ce=51), ious, errors)
    boxes = results.copy()
    boxes[0] = truth[0]
    ours = otb_sequence(results, truth)
    ref_success, ref_precision = experiments.otb.ExperimentOTB._calc_curves(
        SimpleNamespace(nbins_iou=21, nbins_ce=51), toolkit.rect_iou(boxes, truth),
        toolkit.center_error(boxes, truth))
    assert ours.success == pytest.approx(ref_success) and ours.precision == pytest.approx(ref_precision)
    assert len(theirs[0]) == len(SUCCESS_THRESHOLDS)
    bound = (100, 70)
    cover = np.ones(len(truth))
    pooled = got10k_sequence_ious(results, truth, cover, bound)
    reference = toolkit.rect_iou(results[1:].copy(), truth[1:].copy(), bound=bound)
    assert pooled == pytest.approx(reference, abs=1e-12)
    ao, sr, _, _ = experiments.got10k.ExperimentGOT10k._evaluate(None, reference, np.array([]))
    scores = got10k_scores(pooled)
    assert scores["ao"] == pytest.approx(ao) and scores["sr50"] == pytest.approx(sr)
