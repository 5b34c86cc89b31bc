"""`make demo` tells the truth (issue 15): which model it used -- your own, OpenCV's,
or the demonstration model, in that order -- the tracker's mean IoU beside a static
box's on the same frames, and with the demonstration model how to get a real one;
and it keeps only what it uses (issue 17)."""

import importlib.util

import numpy as np
import pytest
from conftest import REPO_ROOT
from vot_fixtures import write_car_excerpts, write_tiny_goturn

from goturn_caffe import demo
from goturn_caffe.geometry.boxes import Box, parse_region
from goturn_caffe.track import builder
from goturn_caffe.track.api import choose_model, resolve_model

SAMPLE_CAR = REPO_ROOT / "data" / "sample" / "vot" / "car"
TRAINED = "goturn.caffemodel"
OPENCV = "opencv/goturn.caffemodel"
DEMONSTRATION = "demo/goturn_DEMONSTRATION_ONLY.caffemodel"


@pytest.fixture(scope="module")
def car4(tmp_path_factory):
    return write_car_excerpts(tmp_path_factory.mktemp("vot"), SAMPLE_CAR, starts=(1,), frames=4) / "car_1"


@pytest.fixture
def built(caffe, monkeypatch, tmp_path):
    """Record what the demo asks the factory for, and track with a small net whose
    boxes move with the pixels (the full model would only make the test slow)."""
    from goturn_caffe.model.net import load_net
    from goturn_caffe.track.goturn import GoturnTracker

    tiny = write_tiny_goturn(tmp_path / "tiny")
    calls = []

    def fake_build(name="goturn", **options):
        calls.append(dict(options, name=name))
        return GoturnTracker(load_net(*tiny))

    monkeypatch.setattr(builder, "build_tracker", fake_build)
    return calls


def models_folder(root, *present):
    for relative in present:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(b"weights")
    return root


def ground_truth(sequence) -> list:
    lines = (sequence / "groundtruth.txt").read_text().splitlines()
    return [Box.from_polygon(parse_region(line)) for line in lines]


@pytest.mark.parametrize("present, kind, model_format, label", [
    ((TRAINED, OPENCV, DEMONSTRATION), "trained", "goturn", "your trained model"),
    ((OPENCV, DEMONSTRATION), "opencv", "opencv", "OpenCV's trained GOTURN network"),
    ((DEMONSTRATION,), "demonstration", "goturn", "the DEMONSTRATION model"),
])
def test_the_demo_says_which_model_it_used_and_beside_a_static_box(present, kind, model_format,
                                                                    label, car4, built, tmp_path):
    models = models_folder(tmp_path / "models", *present)
    out = tmp_path / "out"
    summary = demo.run_demo(car4, models_dir=models, output_dir=out, log=lambda _: None)
    lines = summary.splitlines()

    expected = models / present[0]
    assert [(c["weights"], c["model_format"]) for c in built] == [(expected, model_format)]
    assert lines[0].startswith(f"model: {label} {expected} (")
    assert choose_model(models).kind == kind

    truth = ground_truth(car4)
    boxes = [Box.from_xywh(*map(float, line.split(",")))
             for line in (out / "car_1.txt").read_text().splitlines()]
    tracked = np.mean([box.iou(t) for box, t in zip(boxes, truth)])
    static = np.mean([truth[0].iou(t) for t in truth])
    assert len(boxes) == 4 and abs(tracked - static) > 1e-3   # the tracker did move the box
    shown = lines[1].split("mean IoU ")[1]
    tracker_iou = float(shown.split(" ")[0])
    assert tracker_iou == pytest.approx(tracked, abs=2e-3)
    assert f"(a static box: {static:.3f})" in lines[1]
    assert (out / "car_1.mp4").is_file()

    how = [line for line in lines if "`make model`" in line]
    if kind == "demonstration":
        assert len(lines) == 3 and how == [lines[-1]] and "is untrained" in lines[-1]
    else:
        assert len(lines) == 2 and not how and "untrained" not in summary


def test_demo_py_takes_the_models_folder(car4, built, tmp_path, capsys):
    models = models_folder(tmp_path / "models", OPENCV)
    spec = importlib.util.spec_from_file_location("tool_demo", REPO_ROOT / "tools" / "demo.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.main([str(car4), "--models", str(models), "--output", str(tmp_path / "out")]) == 0
    assert f"model: OpenCV's trained GOTURN network {models / OPENCV}" in capsys.readouterr().out
    assert built[0]["model_format"] == "opencv"


def test_with_no_model_the_demonstration_model_is_trained_and_only_it_is_kept(car4, built,
                                                                              monkeypatch, tmp_path):
    import goturn_caffe.train.training as training

    def fake_train(config, log=print, progress=True):
        snapshots = tmp_path / "out" / "train" / "snapshots"
        snapshots.mkdir(parents=True)
        (snapshots / "goturn_iter_2.caffemodel").write_bytes(b"trained weights")
        (snapshots / "goturn_iter_2.solverstate").write_bytes(b"x" * 1000)
        (snapshots.parent / "loss.csv").write_text("iteration,loss\n1,9\n2,8\n")
        return {"model": str(snapshots / "goturn_iter_2.caffemodel"), "loss_first": 9.0,
                "loss_last": 8.0, "loss_png": None, "loss_csv": str(snapshots.parent / "loss.csv")}

    monkeypatch.setattr(training, "train", fake_train)
    models = tmp_path / "models"
    summary = demo.run_demo(car4, models_dir=models, output_dir=tmp_path / "out",
                            log=lambda _: None, train_iters=2)
    assert (models / DEMONSTRATION).read_bytes() == b"trained weights"
    assert built[0]["weights"] == models / DEMONSTRATION
    assert not (tmp_path / "out" / "train" / "snapshots").exists()   # ~0.9 GB never used again
    assert (tmp_path / "out" / "train" / "loss.csv").is_file()
    assert "untrained" in summary.splitlines()[-1]
    assert not [p for p in models.rglob(".*partial*")]


def test_with_no_model_at_all_the_api_says_how_to_get_one(tmp_path):
    with pytest.raises(ValueError, match="no model to track with; `make model`"):
        resolve_model(models_dir=tmp_path)
    assert choose_model(tmp_path) is None
    given = resolve_model(weights=tmp_path / "w.caffemodel", model_format="opencv")
    assert (given.kind, given.model_format) == ("given", "opencv")
