"""Plots are optional: without matplotlib the CSV/JSON is still written and the PNG skipped."""

import sys

import pytest

from goturn_caffe import plotting
from goturn_caffe.train.training import LossLog
from goturn_caffe.vot.report import plot_ar

SUMMARY = {"experiments": {"baseline": {
    "trackers": {"static": {"reliability": 0.3, "accuracy": 0.32}},
    "ranks": {"static": {"overall": 1.0, "robustness": 1.0, "accuracy": 1.0}}}}}


def write_losses(tmp_path):
    loss_log = LossLog(tmp_path, start_iter=0)
    for iteration in range(1, 6):
        loss_log.add(iteration, 100.0 / iteration, 0.5)
    loss_log.close()
    return loss_log


def test_loss_and_ar_plots_are_png_files(tmp_path):
    png = write_losses(tmp_path).plot()
    assert png == tmp_path / "loss.png" and png.read_bytes()[:4] == b"\x89PNG"
    ar = plot_ar(SUMMARY, tmp_path / "ar_plot.png")
    assert ar.read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ar_plot.png", "loss.csv", "loss.png"]


def test_without_matplotlib_plots_are_skipped_not_fatal(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    monkeypatch.setattr(plotting.agg_pyplot, "warned", False, raising=False)
    with pytest.raises(ImportError):
        import matplotlib  # noqa: F401
    loss_log = write_losses(tmp_path)
    assert loss_log.plot() is None
    assert plot_ar(SUMMARY, tmp_path / "ar_plot.png") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loss.csv"]
    assert "matplotlib is not installed" in caplog.text


def test_vot_summary_without_matplotlib_lists_only_written_files(tmp_path, monkeypatch):
    from goturn_caffe.vot.report import write_summary

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    summary = {"experiments": {}}
    monkeypatch.setattr("goturn_caffe.vot.report.summary_markdown", lambda s: "# summary\n")
    paths = write_summary(summary, tmp_path)
    assert sorted(paths) == ["json", "markdown"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json", "summary.md"]
