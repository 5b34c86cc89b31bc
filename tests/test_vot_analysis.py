"""Per-tag scores, A-R ranking and the paper's Table 2."""

import numpy as np
import pytest

from goturn_caffe.ablation import overall_errors
from goturn_caffe.datasets.base import Frame, Video
from goturn_caffe.geometry.boxes import Box
from goturn_caffe.vot import report
from goturn_caffe.vot.analysis import (
    SequenceResult,
    adapted_ranks,
    overall_scores,
    rank_trackers,
    reliability,
    tag_samples,
    tag_scores,
)
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
    # failures per repetition (1 then 0), the 13 repetitions not run count as their mean
    assert overlaps == pytest.approx([0.6, 0.4]) and failures.tolist() == [[1.0, 0.0] + [0.5] * 13]


def test_overall_scores_are_length_weighted():
    short = SequenceResult("a", 100, 0.8, 2.0, np.zeros((1, 100)), np.zeros((1, 100), bool), 1.0, 100)
    long = SequenceResult("b", 300, 0.4, 1.0, np.zeros((1, 300)), np.zeros((1, 300), bool), 2.0, 200)
    scores = overall_scores([short, long])
    assert scores["accuracy"] == pytest.approx((0.8 * 100 + 0.4 * 300) / 400)
    assert scores["failures"] == 3.0
    assert scores["failures_per_sequence"] == pytest.approx((2 * 100 + 1 * 300) / 400)
    assert scores["reliability"] == pytest.approx(np.exp(-30 * (500 / 400) / 200))
    assert scores["fps"] == pytest.approx(300 / 3.0)


def test_one_reliability_two_normalisations_and_the_plot_says_which(tmp_path, monkeypatch):
    short = SequenceResult("a", 100, 0.8, 2.0, np.zeros((1, 100)), np.zeros((1, 100), bool), 1.0, 100)
    long = SequenceResult("b", 300, 0.4, 1.0, np.zeros((1, 300)), np.zeros((1, 300), bool), 2.0, 200)
    scores = overall_scores([short, long])
    # the VOT summary: length-weighted failures per sequence (1.25) over the mean length (200)
    assert reliability(1.25, 200) == scores["reliability"] == pytest.approx(np.exp(-30 * 1.25 / 200))
    # the ablation table: all failures over all frames, i.e. unweighted (3 / 400 = 1.5 / 200)
    _, _, robustness_error = overall_errors(0.5, scores["failures"], scores["frames"])
    assert robustness_error == pytest.approx(1 - np.exp(-30 * 3 / 400))
    assert reliability(0, 0) == 1.0
    figures = []
    monkeypatch.setattr(report, "save_figure", lambda figure, path, dpi: figures.append(figure) or path)
    summary = {"experiments": {"baseline": {"trackers": {"x": scores}, "ranks": {}}}}
    if report.plot_ar(summary, tmp_path / "ar.png") is None:
        pytest.skip("matplotlib is not installed")
    label = figures[0].axes[0].get_xlabel()
    assert label == ("robustness: exp(-30 F / N)\n"
                     "F: length-weighted failures per sequence, N: mean sequence length")


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


def two_sequence_results(failures: tuple, overlap: float, valid_frames: int, frames: int = 100) -> list:
    """A deterministic tracker's 3 identical repetitions on each of two untagged
    sequences: ``failures[i]`` failures on sequence i, ``valid_frames`` frames with
    ``overlap`` (the rest fall in burn-in after the failures)."""
    results = []
    for index, count in enumerate(failures):
        overlaps = np.full((3, frames), np.nan)
        overlaps[:, :valid_frames] = overlap
        failed = np.zeros((3, frames), dtype=bool)
        failed[:, frames - count:] = True
        results.append(SequenceResult(f"s{index}", frames, overlap, float(count), overlaps, failed, 0.0, 0))
    return results


def test_very_different_trackers_share_accuracy_rank_only_where_the_toolkit_would():
    """The case of issue 17: accuracy 0.010 / 38 failures against 0.215 / 5 on two
    sequences. The toolkit's rank-sum test runs on the failures of every (sequence,
    repetition) -- 15 per sequence -- which separates 19 + 19 from 2 + 3 failures; the
    accuracies share their rank because fewer than 5 frames pair up."""
    videos = [tagged_video([set()] * 100), tagged_video([set()] * 100)]
    poor = two_sequence_results((19, 19), 0.010, valid_frames=2)
    fair = two_sequence_results((2, 3), 0.215, valid_frames=60)
    samples = {name: {tag: tag_samples(results, videos, tag) for tag in ("empty",)}
               for name, results in (("poor", poor), ("fair", fair))}
    assert samples["poor"]["empty"][1].shape == (2, 15)
    ranks = rank_trackers(samples)
    assert ranks["poor"]["accuracy"] == ranks["fair"]["accuracy"] == 1.5
    assert (ranks["fair"]["robustness"], ranks["poor"]["robustness"]) == (1.0, 2.0)
    assert (ranks["fair"]["overall"], ranks["poor"]["overall"]) == (1.25, 1.75)
    # the mean failures per sequence alone (2 samples against 2) are never significant
    from goturn_caffe.vot.analysis import robustness_differs

    assert not robustness_differs(np.array([19.0, 19.0]), np.array([2.0, 3.0]))
    assert robustness_differs(samples["poor"]["empty"][1], samples["fair"]["empty"][1])


def test_rank_sum_is_matlabs_normal_approximation_with_ties_and_continuity():
    """Hand-computed: x = (0, 0, 1), y = (1, 2, 2). Ranks (ties averaged) 1.5, 1.5, 3.5 |
    3.5, 5.5, 5.5; W = 6.5, E[W] = 10.5, tie-corrected variance (3*3/12)(7 - 18/30) = 4.8,
    z = (|6.5 - 10.5| - 0.5) / sqrt(4.8) = 1.5975, two-sided p = 0.1101 > 0.05, while
    at alpha 0.12 the difference counts."""
    from goturn_caffe.vot.analysis import robustness_differs

    x, y = np.array([0.0, 0.0, 1.0]), np.array([1.0, 2.0, 2.0])
    assert not robustness_differs(x, y, alpha=0.05)
    assert robustness_differs(x, y, alpha=0.111) and not robustness_differs(x, y, alpha=0.110)
    assert not robustness_differs(np.zeros(4), np.zeros(6))     # all tied: no difference


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
    assert "| tracker | accuracy | failures | failures / sequence (length-weighted) | fps " in text
    assert "the plain mean over the sequences with the tag" in text
    assert report.RANK_RULE in text and "share the mean of their ranks" in report.RANK_RULE
    assert text.index("| GOTURN (Ours) (paper, Table 2)") < text.index(report.RANK_RULE)
    assert "| static | 1.00 | 1.00 | 1.00 | - |" in text
    assert "| GOTURN (Ours) (paper, Table 2) | 5.54 | 10.87 | 8.21 | 29.93 |" in text
    assert "| a | 0.300 / 4.00 (3) |" in text


def test_labels_of_trackers_with_equal_scores_do_not_overlap(tmp_path, monkeypatch):
    figures = []
    monkeypatch.setattr(report, "save_figure", lambda figure, path, dpi: figures.append(figure) or path)
    same = {"reliability": 0.4, "accuracy": 0.5}
    trackers = {"static": same, "kcf": dict(same), "goturn_iter450k": dict(same),
                "csrt": {"reliability": 0.41, "accuracy": 0.5}, "far": {"reliability": 0.9, "accuracy": 0.9}}
    ranks = {name: {"accuracy": 1.5, "robustness": 2.0, "overall": 1.75} for name in trackers}
    summary = {"experiments": {"baseline": {"trackers": trackers, "ranks": ranks}}}
    if report.plot_ar(summary, tmp_path / "ar.png") is None:
        pytest.skip("matplotlib is not installed")
    figure = figures[0]
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    for axis in figure.axes:
        boxes = {text.get_text(): text.get_window_extent(renderer) for text in axis.texts}
        assert set(boxes) == set(trackers)
        names = sorted(boxes)
        clashes = [(a, b) for i, a in enumerate(names) for b in names[i + 1:] if boxes[a].overlaps(boxes[b])]
        assert not clashes
    # a lone tracker keeps the plain offset
    far = next(t for t in figure.axes[0].texts if t.get_text() == "far")
    assert tuple(far.get_position()) == report.LABEL_OFFSET
