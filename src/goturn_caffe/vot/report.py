"""The evaluation summary: JSON, Markdown (ours beside the paper's Table 2 row)
and the A-R plot, built from the VOT results folder.

Every tracker with results under the results root (and under any extra
roots given) is scored on the same sequences, so running several trackers into
one output folder ranks them against each other.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

from goturn_caffe.fileio import write_json_atomic, write_text_atomic
from goturn_caffe.plotting import agg_pyplot, save_figure
from goturn_caffe.vot.analysis import (
    MIN_PAIRED_FRAMES,
    RANKING_TAGS,
    RELIABILITY_NORMALISATION,
    RELIABILITY_SENSITIVITY,
    SIGNIFICANCE_ALPHA,
    overall_scores,
    rank_trackers,
    score_sequence,
    significance_tests_available,
    tag_samples,
    tag_scores,
)
from goturn_caffe.vot.protocol import BURNIN, FAILURE_OVERLAP, REPETITIONS, SKIP_INITIALIZE
from goturn_caffe.vot.speed import efo_speed
from goturn_caffe.vot.table2 import GOTURN_METHOD, published_ranks, published_row

# Beside the rank table: why two trackers may share a rank (the toolkit's rule).
RANK_RULE = (
    f"How ranks are shared (the VOT2014 toolkit's rule): per tag, trackers are ranked by accuracy "
    f"and by failures, and two trackers whose difference is not statistically significant "
    f"(alpha {SIGNIFICANCE_ALPHA:g}; accuracy: Wilcoxon signed-rank test on the frame overlaps both "
    f"have, equal when fewer than {MIN_PAIRED_FRAMES} frames pair up; failures: Wilcoxon rank-sum "
    f"test on the counts per sequence and repetition) share the mean of their ranks; the tag ranks "
    f"are then averaged. On few sequences or short ones few differences are significant, so "
    f"trackers with very different scores can share a rank.")


def find_trackers(root: Path, experiment: str) -> list:
    """Tracker folders under a results root that hold ``experiment`` (sorted)."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / experiment).is_dir())


def summarize(roots: list, videos: list, truths: list, experiments: list,
              efo_reference: Optional[float] = None) -> dict:
    """Score every tracker found under ``roots`` (results roots; the first wins on a
    name clash) on ``videos`` (with their :class:`~goturn_caffe.vot.protocol.GroundTruth`
    ``truths``) for each experiment name -> the summary dict.

    A tracker is scored only when it has results for every sequence; the others
    are listed under ``incomplete``.
    """
    summary = {"sequences": [v.name for v in videos],
               "frames": sum(len(v) for v in videos),
               "protocol": {"burnin": BURNIN, "skip_initialize": SKIP_INITIALIZE,
                            "failure_overlap": FAILURE_OVERLAP, "repetitions": REPETITIONS},
               "efo_reference_seconds": efo_reference,
               "published": {GOTURN_METHOD: published_row()._asdict()},
               "experiments": {}}
    for experiment in experiments:
        trackers, samples, incomplete = {}, {}, []
        for root in roots:
            for name in find_trackers(root, experiment):
                if name in trackers or name in incomplete:
                    continue
                results = [score_sequence(root, name, experiment, video, truth)
                           for video, truth in zip(videos, truths)]
                if any(r is None for r in results):
                    incomplete.append(name)
                    continue
                scores = overall_scores(results)
                if efo_reference and scores["fps"]:
                    scores["efo"] = efo_speed(scores["fps"], efo_reference)
                scores["per_sequence"] = {r.name: {"accuracy": r.accuracy, "failures": r.failures,
                                                   "repetitions": r.repetitions, "frames": r.frames}
                                          for r in results}
                scores["tags"] = tag_scores(results, videos)
                trackers[name] = scores
                samples[name] = {tag: tag_samples(results, videos, tag) for tag in RANKING_TAGS}
        can_rank = significance_tests_available()
        summary["experiments"][experiment] = {
            "trackers": trackers, "incomplete": incomplete,
            "ranks": rank_trackers(samples) if samples and can_rank else {},
            "published_goturn_ranks": published_ranks(published_row(), experiment)}
        if samples and not can_rank:
            summary["experiments"][experiment]["ranks_skipped"] = (
                "scipy is not installed, so the ranks (Wilcoxon tests) were not computed; "
                "rerun tools/eval_vot2014.py on these results where scipy is")
    return summary


def _number(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def _rank_table(data: dict, row: dict) -> list:
    """Markdown lines: our trackers' ranks beside GOTURN's published Table 2 row."""
    ranks, trackers, published = data["ranks"], data["trackers"], data["published_goturn_ranks"]
    lines = ["", f"Ranks (averaged over tags; among the {len(ranks)} tracker(s) scored here, "
                 "beside GOTURN's published row, ranked among 39 VOT2014 trackers):", "",
             "| tracker | accuracy rank | robustness rank | overall rank | speed (EFO) |",
             "|---|---|---|---|---|"]
    for name, rank in ranks.items():
        lines.append(f"| {name} | {_number(rank['accuracy'], 2)} | {_number(rank['robustness'], 2)} | "
                     f"{_number(rank['overall'], 2)} | {_number(trackers[name].get('efo'), 2)} |")
    lines.append(f"| {GOTURN_METHOD} (paper, Table 2) | {published['accuracy']:.2f} | "
                 f"{published['robustness']:.2f} | {published['overall']:.2f} | "
                 f"{row['speed_efo']:.2f} |")
    return lines


def summary_markdown(summary: dict) -> str:
    """The summary as Markdown tables, one section per experiment."""
    lines = ["# VOT2014 protocol results", "",
             f"Sequences ({len(summary['sequences'])}, {summary['frames']} frames): "
             f"{', '.join(summary['sequences'])}.", "",
             "Accuracy: mean overlap (VOT toolkit rasterisation), burn-in "
             f"{summary['protocol']['burnin']} frames; failures: overlap <= "
             f"{summary['protocol']['failure_overlap']:g}, re-initialised "
             f"{summary['protocol']['skip_initialize']} frames later. Accuracy and failures "
             "per sequence are means over repetitions; over the dataset, accuracy is "
             "length-weighted and failures are summed.", ""]
    for experiment, data in summary["experiments"].items():
        trackers = data["trackers"]
        lines += [f"## {experiment}", ""]
        if not trackers:
            lines += ["No complete results.", ""]
            continue
        lines += ["| tracker | accuracy | failures | failures / sequence (length-weighted) | fps "
                  "| EFO (estimate) |",
                  "|---|---|---|---|---|---|"]
        for name, scores in trackers.items():
            lines.append(f"| {name} | {_number(scores['accuracy'])} | {_number(scores['failures'], 2)} | "
                         f"{_number(scores['failures_per_sequence'], 2)} | "
                         f"{_number(scores['fps'], 1)} | {_number(scores.get('efo'), 2)} |")
        lines += ["", "Per sequence (accuracy / failures, repetitions):", "",
                  "| sequence | " + " | ".join(trackers) + " |",
                  "|---|" + "---|" * len(trackers)]
        for sequence in summary["sequences"]:
            cells = [f"{_number(t['per_sequence'][sequence]['accuracy'])} / "
                     f"{_number(t['per_sequence'][sequence]['failures'], 2)} "
                     f"({t['per_sequence'][sequence]['repetitions']})" for t in trackers.values()]
            lines.append(f"| {sequence} | " + " | ".join(cells) + " |")
        lines += ["", "Per tag (accuracy / failures per sequence, the plain mean over the "
                      "sequences with the tag):", "",
                  "| tag | " + " | ".join(trackers) + " |", "|---|" + "---|" * len(trackers)]
        for tag in RANKING_TAGS:
            cells = [f"{_number(t['tags'][tag]['accuracy'])} / {_number(t['tags'][tag]['failures'], 2)}"
                     if tag in t["tags"] else "-" for t in trackers.values()]
            lines.append(f"| {tag} | " + " | ".join(cells) + " |")
        if data.get("ranks_skipped"):
            lines += ["", f"Ranks: not computed ({data['ranks_skipped']})."]
        else:
            lines += _rank_table(data, summary["published"][GOTURN_METHOD]) + ["", RANK_RULE]
        if data["incomplete"]:
            lines += ["", f"Not scored (results missing for some sequences): "
                          f"{', '.join(data['incomplete'])}."]
        lines.append("")
    if summary.get("efo_reference_seconds"):
        lines += [f"EFO estimate: fps x {summary['efo_reference_seconds']:.3f} s, this machine's "
                  "time for a 30x30 max filter over 600x600 (see goturn_caffe.vot.speed).", ""]
    return "\n".join(lines)


LABEL_OFFSET = (5, 5)      # points from the marker to its label
LABEL_GAP = 2              # points between labels stacked to keep them apart


def annotate_points(axis, points: list) -> list:
    """Mark and label ``points`` (``[(name, x, y)]``) on ``axis`` (its limits already
    set). A label that would cover one placed before (trackers with equal or
    close scores) is moved up until it is clear. Returns the annotations."""
    renderer = axis.figure.canvas.get_renderer()
    placed, annotations = [], []
    for name, x, y in points:
        axis.scatter(x, y, s=50)
        dx, dy = LABEL_OFFSET
        label = axis.annotate(name, (x, y), textcoords="offset points", xytext=(dx, dy))
        box = label.get_window_extent(renderer)
        while any(box.overlaps(other) for other in placed):
            dy += box.height * 72 / axis.figure.dpi + LABEL_GAP
            label.set_position((dx, dy))
            box = label.get_window_extent(renderer)
        placed.append(box)
        annotations.append(label)
    return annotations


def plot_ar(summary: dict, path: Path) -> Path | None:
    """A-R plots, one row per experiment: raw (robustness exp(-30 F / mean sequence
    length), F the length-weighted failures per sequence, vs accuracy, as the toolkit
    plots them) and ranks (best at the top right)."""
    plt = agg_pyplot()
    if plt is None:
        return None
    experiments = summary["experiments"]
    figure, axes = plt.subplots(len(experiments), 2, figsize=(10, 4.5 * len(experiments)),
                                squeeze=False)
    for (experiment, data), (raw, ranked) in zip(experiments.items(), axes):
        raw.set(xlim=(0, 1.02), ylim=(0, 1.02),
                xlabel=f"robustness: exp(-{RELIABILITY_SENSITIVITY} F / N)\n{RELIABILITY_NORMALISATION}",
                ylabel="accuracy", title=f"{experiment}: A-R raw")
        annotate_points(raw, [(name, scores["reliability"], scores["accuracy"])
                              for name, scores in data["trackers"].items()])
        worst = max([len(data["ranks"]), 1]) + 0.5
        ranked.set(xlim=(worst, 0.5), ylim=(worst, 0.5), xlabel="robustness rank",
                   ylabel="accuracy rank", title=f"{experiment}: A-R ranks")
        annotate_points(ranked, [(name, rank["robustness"], rank["accuracy"])
                                 for name, rank in data["ranks"].items() if rank["overall"] is not None])
        for axis in (raw, ranked):
            axis.grid(True, alpha=0.3)
    figure.tight_layout()
    return save_figure(figure, path, dpi=100)


def write_summary(summary: dict, output: Path) -> dict:
    """Write ``summary.json``, ``summary.md`` and ``ar_plot.png`` into ``output``
    (each atomically); returns the paths written (no ``plot`` without matplotlib)."""
    output = Path(output)
    paths = {"json": output / "summary.json", "markdown": output / "summary.md"}
    write_json_atomic(paths["json"], summary)
    write_text_atomic(paths["markdown"], summary_markdown(summary))
    plot = plot_ar(summary, output / "ar_plot.png")
    if plot is not None:
        paths["plot"] = plot
    return paths
