"""The paper's experiments as one-flag runs, each end to end at toy scale (issue 10)."""

import dataclasses
import json
import math
import shutil

import pytest
from conftest import REPO_ROOT

from goturn_caffe.ablation import overall_errors, parse_ablation, results_table, run_ablation
from goturn_caffe.model.netspec import NetOptions

SAMPLE_CAR = REPO_ROOT / "data" / "sample" / "vot" / "car"
EXPERIMENTS = ["full", "l2_loss", "uniform_crops", "images_only", "videos_only",
               "current_frame_only", "fc_layers=2", "fc_layers=3", "fc_layers=4",
               "train_videos=1", "augmented_per_batch=5"]
TABLE1 = ["full", "l2_loss", "uniform_crops", "images_only", "videos_only"]
# End to end (train, then track and score): the authors' net, and the one-stream net,
# whose tracker feeds no target crop.  Every name's options and every variant's nets
# are checked without training (above, and test_netspec.py).
END_TO_END = ["full", "current_frame_only"]


@pytest.fixture(scope="module")
def tiny_vot(tmp_path_factory):
    """A 12-frame VOT dataset cut from the bundled car sequence."""
    root = tmp_path_factory.mktemp("vot")
    sequence = root / "car"
    sequence.mkdir()
    for i in range(1, 13):
        shutil.copy(SAMPLE_CAR / f"{i:08d}.jpg", sequence)
    for name in ["groundtruth.txt"] + [p.name for p in SAMPLE_CAR.glob("*.label")]:
        lines = (SAMPLE_CAR / name).read_text().splitlines()[:12]
        (sequence / name).write_text("\n".join(lines) + "\n")
    (root / "list.txt").write_text("car\n")
    return root


def test_experiment_names_map_to_net_and_data_options():
    assert parse_ablation("l2_loss").net.loss == "l2"
    assert parse_ablation("uniform_crops").data == {"smooth_motion": False}
    assert parse_ablation("images_only").data == {"mix": "images"}
    assert parse_ablation("current_frame_only").net.current_frame_only
    assert parse_ablation("fc_layers=4").net.fc_layers == 4
    assert parse_ablation("train_videos=7").data == {"max_videos": 7}
    assert parse_ablation("augmented_per_batch=20").data == {"augmented_per_pair": 20}
    with pytest.raises(ValueError, match="unknown experiment 'l3_loss'; choose one of"):
        parse_ablation("l3_loss")
    with pytest.raises(ValueError, match="not a whole number"):
        parse_ablation("fc_layers=two")


def test_overall_error_formula():
    # 1 - (A + R) / 2 with R = exp(-30 F / N): A = 0.6, 2 failures in 300 frames
    overall, accuracy_error, robustness_error = overall_errors(0.6, 2, 300)
    reliability = math.exp(-30 * 2 / 300)
    assert overall == pytest.approx(1 - (0.6 + reliability) / 2)
    assert accuracy_error == pytest.approx(0.4)
    assert robustness_error == pytest.approx(1 - reliability)
    assert overall_errors(1.0, 0, 100) == (0.0, 0.0, 0.0)


def test_every_experiment_run_changes_exactly_its_options():
    """What each of the 11 runs trains: the authors' net and data, but for its own change."""
    changes = {"full": ({}, {}), "l2_loss": ({"loss": "l2"}, {}),
               "uniform_crops": ({}, {"smooth_motion": False}), "images_only": ({}, {"mix": "images"}),
               "videos_only": ({}, {"mix": "videos"}),
               "current_frame_only": ({"current_frame_only": True}, {}),
               "fc_layers=2": ({"fc_layers": 2}, {}), "fc_layers=3": ({"fc_layers": 3}, {}),
               "fc_layers=4": ({"fc_layers": 4}, {}), "train_videos=1": ({}, {"max_videos": 1}),
               "augmented_per_batch=5": ({}, {"augmented_per_pair": 5})}
    assert list(changes) == EXPERIMENTS
    for name, (net, data) in changes.items():
        experiment = parse_ablation(name, batch_size=11)
        assert experiment.name == name and experiment.slug == name.replace("=", "")
        assert experiment.net == dataclasses.replace(NetOptions(batch_size=11), **net), name
        assert experiment.data == data, name


def test_results_table_cites_table_1_where_the_paper_has_the_row():
    rows = [{"experiment": name, "overall_error": 0.5, "accuracy_error": 0.25,
             "robustness_error": 0.125, "failures": 3.0} for name in EXPERIMENTS]
    lines = results_table(rows).splitlines()
    assert len(lines) == 2 + len(EXPERIMENTS)
    for name, line in zip(EXPERIMENTS, lines[2:]):
        assert line.startswith(f"| {name} | 0.500 | 0.250 | 0.125 | 3 | ")
        assert ("(figure only)" in line) == (name not in TABLE1), line
    assert lines[2].endswith("| 0.24 / 0.39 / 0.10 |")   # full: the paper's Table 1 row


@pytest.mark.parametrize("name", END_TO_END)
def test_each_experiment_runs_end_to_end(name, tiny_vot, tmp_path):
    experiment = parse_ablation(name, batch_size=11)
    row = run_ablation(experiment, tmp_path, {"max_iter": 1, "snapshot": 0,
                                              "data": {"workers": 1, "seed": 3}},
                       str(tiny_vot), log=lambda message: None)
    saved = json.loads((tmp_path / experiment.slug / "result.json").read_text())
    assert saved["experiment"] == name and saved["seed"] == 3
    assert saved["config"]["net"]["batch_size"] == 11
    assert saved["frames"] == 12
    assert 0 <= saved["overall_error"] <= 1 and 0 <= saved["accuracy"] <= 1
    table = results_table([row])
    assert f"| {name} |" in table
    assert ("(figure only)" in table) == (name not in TABLE1)
