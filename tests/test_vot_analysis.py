"""Per-tag scores, A-R ranking and the paper's Table 2."""

import numpy as np
import pytest

from goturn_caffe.boxes import Box
from goturn_caffe.datasets.base import Frame, Video
from goturn_caffe.vot.analysis import (SequenceResult, adapted_ranks, overall_scores, rank_trackers,
                                       tag_samples, tag_scores)
from goturn_caffe.vot.report import summary_markdown
from goturn_caffe.vot.table2 import GOTURN_METHOD, TABLE2, published_ranks, published_row

NAN = np.nan


def tagged_video(tags):
    frames = [Frame(f"{i}.jpg", Box(0, 0, 1, 1), (0, 0, 1, 1), frozenset(t)) for i, t in enumerate(tags)]
    return Video("tagged", frames)


def result(overlaps, failed, name="tagged"):
    overlaps, failed = np.array(overlaps, dtype=float), np.array(failed, dtype=bool)
    return SequenceResult(name, overlaps.shape[1], accuracy=0.5,
                          failures=float(failed.sum(axis=1).mean()), overlaps=overlaps,
                          failed=failed, seconds=0.0, timed_frames=0)


def test_tag_scores_by_hand():
    video = tagged_video([{"occlusion"}, {"occlusion"}, set(), {"camera_motion", "keyframe"}])
    scored = result([[0.5, NAN, 1.0, 0.2], [0.7, 0.4, NAN, 0.2]],
                    [[False, True, False, False], [False, False, True, False]])
    scores = tag_scores([scored], [video])
    # occlusion: frame means 0.6 and 0.4; failures 1 then 0 on its frames
    assert scores["occlusion"] == {"accuracy": pytest.approx(0.5), "failures": 0.5, "frames": 2,
                                   "sequences": 1}
    # empty = no VOT2014 tag (keyframe is not one): frame 2 only
    assert scores["empty"]["accuracy"] == 1.0 and scores["empty"]["failures"] == 0.5
    assert scores["camera_motion"]["accuracy"] == pytest.approx(0.2)
    assert "size_change" not in scores
    overlaps, failures = tag_samples([scored], [video], "occlusion")
    assert overlaps == pytest.approx([0.6, 0.4]) and failures.tolist() == [0.5]


def test_overall_scores_are_length_weighted():
    short = SequenceResult("a", 100, 0.8, 2.0, np.zeros((1, 100)), np.zeros((1, 100), bool), 1.0, 100)
    long = SequenceResult("b", 300, 0.4, 1.0, np.zeros((1, 300)), np.zeros((1, 300), bool), 2.0, 200)
    scores = overall_scores([short, long])
    assert scores["accuracy"] == pytest.approx((0.8 * 100 + 0.4 * 300) / 400)
    assert scores["failures"] == 3.0
    assert scores["failures_per_sequence"] == pytest.approx((2 * 100 + 1 * 300) / 400)
    assert scores["reliability"] == pytest.approx(np.exp(-30 * (500 / 400) / 200))
    assert scores["fps"] == pytest.approx(300 / 3.0)


def test_adapted_ranks_share_ranks_of_equivalent_trackers():
    values = np.array([0.6, 0.5, 0.4])
    all_differ = ~np.eye(3, dtype=bool)
    assert adapted_ranks(values, True, all_differ).tolist() == [1, 2, 3]
    assert adapted_ranks(values, False, all_differ).tolist() == [3, 2, 1]
    first_two_same = all_differ.copy()
    first_two_same[0, 1] = first_two_same[1, 0] = False
    assert adapted_ranks(values, True, first_two_same).tolist() == [1.5, 1.5, 3]


def test_rank_trackers_with_significance():
    rng = np.random.default_rng(0)
    good = rng.uniform(0.7, 0.9, 60)
    bad = rng.uniform(0.3, 0.5, 60)
    samples = {
        "good": {"occlusion": (good, np.array([0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]))},
        "twin": {"occlusion": (good.copy(), np.array([0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]))},
        "bad": {"occlusion": (bad, np.array([6.0, 5.0, 7.0, 4.0, 6.0, 8.0, 5.0, 6.0]))},
    }
    ranks = rank_trackers(samples)
    assert ranks["good"]["accuracy"] == ranks["twin"]["accuracy"] == 1.5
    assert ranks["bad"]["accuracy"] == 3 and ranks["bad"]["robustness"] == 3
    assert ranks["good"]["robustness"] == 1.5
    assert ranks["good"]["overall"] == 1.5 and list(ranks["bad"]["tags"]) == ["occlusion"]


def test_table2_transcription():
    assert len(TABLE2) == 39 and len({row.method for row in TABLE2}) == 39
    for row in TABLE2:   # the paper's overall rank is the mean of accuracy and robustness ranks
        assert row.overall_exact == pytest.approx((row.accuracy_exact + row.robustness_exact) / 2, abs=1e-6)
        assert row.overall_noisy == pytest.approx((row.accuracy_noisy + row.robustness_noisy) / 2, abs=1e-6)
    goturn = published_row()
    assert goturn == TABLE2[0] and goturn.method == GOTURN_METHOD
    # the values REFERENCE.md quotes
    assert [round(v, 2) for v in goturn[1:7]] == [8.21, 8.59, 5.54, 7.23, 10.87, 9.95]
    assert round(goturn.speed_efo, 1) == 29.9
    assert published_ranks(goturn, "region_noise") == {"accuracy": 7.227564, "robustness": 9.949074,
                                                      "overall": 8.588319}
    with pytest.raises(KeyError):
        published_row("nonexistent")


def test_markdown_prints_our_row_beside_the_published_one():
    summary = {"sequences": ["a"], "frames": 10,
               "protocol": {"burnin": 10, "skip_initialize": 5, "failure_overlap": 0.0, "repetitions": 15},
               "efo_reference_seconds": None, "published": {GOTURN_METHOD: published_row()._asdict()},
               "experiments": {"baseline": {
                   "trackers": {"static": {"accuracy": 0.3, "failures": 4.0, "failures_per_sequence": 4.0,
                                           "fps": None, "per_sequence": {"a": {"accuracy": 0.3, "failures": 4.0,
                                                                              "repetitions": 3, "frames": 10}},
                                           "tags": {}}},
                   "incomplete": [], "ranks": {"static": {"accuracy": 1.0, "robustness": 1.0, "overall": 1.0,
                                                          "tags": {}}},
                   "published_goturn_ranks": published_ranks(published_row(), "baseline")}}}
    text = summary_markdown(summary)
    assert "| static | 1.00 | 1.00 | 1.00 | - |" in text
    assert "| GOTURN (Ours) (paper, Table 2) | 5.54 | 10.87 | 8.21 | 29.93 |" in text
    assert "| a | 0.300 / 4.00 (3) |" in text
