"""The OPE report: ``scores/<Dataset>.json`` per dataset, one ``summary.md`` with a
table per dataset (trackers sorted by score, the published GOTURN row where it
applies), and the success / precision plots (AUC in the legend, sorted by score)
and per-attribute plots, through :mod:`goturn_caffe.plotting` (skipped with a
warning without matplotlib).
"""

from __future__ import annotations

import json
from pathlib import Path

from goturn_caffe.fileio import write_json_atomic, write_text_atomic
from goturn_caffe.ope.metrics import NORM_PRECISION_THRESHOLDS, PRECISION_THRESHOLDS, SUCCESS_THRESHOLDS
from goturn_caffe.plotting import agg_pyplot, save_figure

# The released C++ GOTURN (the authors' model) run on OTB by a third party:
# github.com/foolwood/benchmark_results (OPE success AUC, precision at 20 px).
PUBLISHED = {
    "OTB2013": {"auc": 0.444, "precision": 0.620},
    "OTB100": {"auc": 0.427, "precision": 0.572},
}
PUBLISHED_SOURCE = "released C++ GOTURN, run by foolwood/benchmark_results"
OVERLAP_NOTE = ("The released model's training set (ALOV300++) shares about a dozen videos with "
                "OTB (davheld/GOTURN issue 48), so its OTB scores are not on unseen videos.")
SERVER_NOTE = {
    "got10k": "upload the zip to the GOT-10k evaluation server (test split: no local ground truth)",
    "trackingnet": "upload the zip to the TrackingNet evaluation server (test split: no local "
                   "ground truth)",
}


def ranking_key(scorer: str) -> str:
    return "ao" if scorer == "got10k" else "auc"


def ranked(summary: dict) -> list:
    """``[(tracker, scores)]`` best first."""
    key = ranking_key(summary["scorer"])
    return sorted(summary["trackers"].items(), key=lambda item: (-item[1][key], item[0]))


def _number(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def _fps(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def dataset_section(summary: dict) -> list:
    lines = [f"## {summary['dataset']}", "",
             f"{len(summary['sequences'])} sequences, {summary['frames']} frames. "
             f"Rule: {summary['rule']}.", ""]
    if summary["scorer"] == "got10k":
        lines += ["| tracker | AO | SR0.50 | SR0.75 | frames/s |", "| --- | --- | --- | --- | --- |"]
        lines += [f"| {name} | {_number(s['ao'])} | {_number(s['sr50'])} | {_number(s['sr75'])} | "
                  f"{_fps(s.get('fps'))} |" for name, s in ranked(summary)]
    elif summary["scorer"]:
        lines += ["| tracker | success AUC | precision (20 px) | norm. precision (0.20) | frames/s |",
                  "| --- | --- | --- | --- | --- |"]
        rows = [(name, s["auc"], s["precision"], s["norm_precision"], _fps(s.get("fps")))
                for name, s in ranked(summary)]
        published = PUBLISHED.get(summary["dataset"]) if summary.get("anchored") else None
        if published:
            rows.append((f"GOTURN (published: {PUBLISHED_SOURCE})", published["auc"],
                         published["precision"], None, "-"))
            rows.sort(key=lambda row: -row[1])
        lines += [f"| {name} | {_number(auc)} | {_number(precision)} | {_number(norm)} | {fps} |"
                  for name, auc, precision, norm, fps in rows]
        if published:
            lines += ["", OVERLAP_NOTE]
        attributes = sorted({a for s in summary["trackers"].values() for a in s.get("attributes", {})})
        if attributes:
            lines += ["", "Success AUC per attribute (sequences):", "",
                      "| tracker | " + " | ".join(
                          f"{a} ({next(iter(summary['trackers'].values()))['attributes'][a]['sequences']})"
                          for a in attributes) + " |",
                      "| --- |" + " --- |" * len(attributes)]
            lines += [f"| {name} | " + " | ".join(_number(s["attributes"][a]["auc"]) for a in attributes)
                      + " |" for name, s in ranked(summary)]
    for name, path in summary.get("submissions", {}).items():
        lines += ["", f"Submission of {name}: `{path}` ({SERVER_NOTE.get(summary['submission'], '')})."]
    if summary["incomplete"]:
        lines += ["", f"Not scored (results missing for some sequences): {', '.join(summary['incomplete'])}."]
    return lines + [""]


def write_summary(output: Path, summary: dict) -> dict:
    """Write ``scores/<Dataset>.json``, rebuild ``summary.md`` from every dataset's
    scores under ``output``, and draw this dataset's plots -> ``{what: path}``."""
    output = Path(output)
    files = {"json": write_json_atomic(output / "scores" / f"{summary['dataset']}.json", summary)}
    sections = []
    for path in sorted((output / "scores").glob("*.json")):
        try:
            sections += dataset_section(json.loads(path.read_text()))
        except (ValueError, KeyError, OSError):
            continue    # a file from another version of this tool: left out of the summary
    files["markdown"] = write_text_atomic(
        output / "summary.md", "# One-pass evaluation (OPE)\n\n" + "\n".join(sections))
    files.update(write_plots(output / "plots", summary))
    return {k: str(v) for k, v in files.items()}


def _curve_figure(plt, title: str, xs, curves: list, xlabel: str, ylabel: str):
    figure, axes = plt.subplots(figsize=(5.5, 4.2))
    for label, ys in curves:
        axes.plot(xs, ys, label=label)
    axes.set(title=title, xlabel=xlabel, ylabel=ylabel, ylim=(0, 1.02), xlim=(xs[0], xs[-1]))
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="lower left" if "Success" in title else "lower right")
    return figure


def write_plots(folder: Path, summary: dict) -> dict:
    """Success and precision plots (and one success plot per attribute) -> ``{what: path}``."""
    if not summary["trackers"] or (plt := agg_pyplot()) is None:
        return {}
    name, files = summary["dataset"], {}
    order = ranked(summary)
    success = [(f"{tracker} [{s[ranking_key(summary['scorer'])]:.3f}]", s["success_curve"])
               for tracker, s in order]
    files["success_plot"] = save_figure(_curve_figure(
        plt, f"Success plots of OPE on {name}", SUCCESS_THRESHOLDS, success, "overlap threshold",
        "success rate"), folder / f"{name}_success.png", dpi=120)
    if summary["scorer"] == "got10k":
        return files
    by_precision = sorted(order, key=lambda item: -item[1]["precision"])
    precision = [(f"{tracker} [{s['precision']:.3f}]", s["precision_curve"]) for tracker, s in by_precision]
    files["precision_plot"] = save_figure(_curve_figure(
        plt, f"Precision plots of OPE on {name}", PRECISION_THRESHOLDS, precision,
        "location error threshold (px)", "precision"), folder / f"{name}_precision.png", dpi=120)
    if summary["scorer"] == "lasot":
        by_norm = sorted(order, key=lambda item: -item[1]["norm_precision"])
        norm = [(f"{tracker} [{s['norm_precision']:.3f}]", s["norm_precision_curve"]) for tracker, s in by_norm]
        files["norm_precision_plot"] = save_figure(_curve_figure(
            plt, f"Normalized precision plots of OPE on {name}", NORM_PRECISION_THRESHOLDS, norm,
            "normalized location error threshold", "precision"), folder / f"{name}_norm_precision.png",
            dpi=120)
    attributes = sorted({a for _, s in order for a in s.get("attributes", {})})
    if attributes:
        columns = 4
        rows = (len(attributes) + columns - 1) // columns
        figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3.2 * rows), squeeze=False)
        for axis, attribute in zip(axes.flat, attributes):
            entries = sorted(((t, s["attributes"][attribute]) for t, s in order),
                             key=lambda item: -item[1]["auc"])
            for tracker, scores in entries:
                axis.plot(SUCCESS_THRESHOLDS, scores["success_curve"],
                          label=f"{tracker} [{scores['auc']:.3f}]")
            axis.set(title=f"{attribute} ({entries[0][1]['sequences']} sequences)", ylim=(0, 1.02))
            axis.grid(alpha=0.3)
            axis.legend(fontsize=7, loc="lower left")
        for axis in list(axes.flat)[len(attributes):]:
            axis.axis("off")
        figure.suptitle(f"Success plots of OPE on {name} per attribute")
        figure.tight_layout()
        files["attribute_plot"] = save_figure(figure, folder / f"{name}_attributes.png", dpi=100)
    return files
