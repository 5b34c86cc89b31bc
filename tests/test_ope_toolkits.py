"""Our OPE files and scores read by the got10k toolkit (PyPI ``got10k`` 0.1.3, a test-time
check only, skipped where it is not installed): the same OTB-100 and GOT-10k val numbers."""

import os
from pathlib import Path

import pytest
from new_dataset_fixtures import make_got10k_split
from ope_fixtures import make_otb_benchmark

from goturn_caffe.ope.evaluate import evaluate

experiments = pytest.importorskip("got10k.experiments")


def run_static(dataset: Path, output: Path) -> dict:
    summary = evaluate([("static", "static")], dataset, output, show_progress=False, log=lambda m: None)
    return summary["trackers"]["static"]


def test_otb100_scores_match_experiment_otb(tmp_path):
    data = make_otb_benchmark(tmp_path / "OTB100", ranges=True)     # David 300-770 etc. included
    ours = run_static(data, tmp_path / "out")
    (tmp_path / "toolkit").mkdir()
    os.symlink(tmp_path / "out" / "results" / "OTB100", tmp_path / "toolkit" / "OTB2015")
    experiment = experiments.ExperimentOTB(str(data), version=2015, result_dir=str(tmp_path / "toolkit"),
                                           report_dir=str(tmp_path / "reports"))
    theirs = experiment.report(["static"])["static"]["overall"]
    assert 0.5 < ours["auc"] < 1
    assert ours["auc"] == pytest.approx(theirs["success_score"], abs=1e-12)
    assert ours["precision"] == pytest.approx(theirs["precision_score"], abs=1e-12)
    assert ours["success_curve"] == pytest.approx(theirs["success_curve"], abs=1e-12)


def test_got10k_val_scores_match_experiment_got10k(tmp_path):
    sequences = {
        "GOT-10k_Val_000001": {"boxes": [(10, 10, 20, 20), (12, 11, 20, 20), (50, 35, 20, 20),
                                         (-4, 2, 20, 20)], "cover": [8, 8, 4, 2]},
        "GOT-10k_Val_000002": {"boxes": [(5, 5, 10, 10), (5, 5, 10, 20), (8, 5, 10, 10)],
                               "cover": [8, 0, 8], "absence": [0, 1, 0]}}
    split = make_got10k_split(tmp_path / "GOT-10k", "val", sequences)
    for name in sequences:      # the toolkit clips to meta_info's resolution (the frames' size)
        with open(split / name / "meta_info.ini", "a") as meta:
            meta.write("resolution: (64, 48)\n")
    ours = run_static(split, tmp_path / "out")
    (tmp_path / "toolkit").mkdir()
    os.symlink(tmp_path / "out" / "results" / "GOT-10k_val", tmp_path / "toolkit" / "GOT-10k")
    experiment = experiments.ExperimentGOT10k(str(tmp_path / "GOT-10k"), subset="val",
                                              result_dir=str(tmp_path / "toolkit"),
                                              report_dir=str(tmp_path / "reports"))
    theirs = experiment.report(["static"])["static"]["overall"]
    assert ours["ao"] == pytest.approx(theirs["ao"], abs=1e-12) and 0 < ours["ao"] < 1
    assert ours["sr50"] == pytest.approx(theirs["sr"], abs=1e-12)
