"""`tools/train.py`: real CPU training runs with snapshots, resume, kill, and learning."""

import csv
import json
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import REPO_ROOT

from goturn_caffe.model.netspec import NetOptions
from goturn_caffe.train.training import TrainConfig, checkpoint_index, snapshot_paths, train

SAMPLE_DET = REPO_ROOT / "data" / "sample" / "det"
TRAIN = [sys.executable, str(REPO_ROOT / "tools" / "train.py")]


def loss_rows(output):
    with open(output / "loss.csv") as f:
        return [(int(r["iteration"]), float(r["loss"])) for r in csv.DictReader(f)]


def assert_snapshot_whole(caffe, output, iteration):
    from goturn_caffe.model.net import read_caffemodel

    model, state = snapshot_paths(output / "snapshots", iteration)
    assert read_caffemodel(model).layer  # parses completely
    solver_state = caffe.proto.caffe_pb2.SolverState()
    solver_state.ParseFromString(state.read_bytes())
    assert solver_state.iter == iteration
    assert solver_state.learned_net == str(model)


def test_two_plus_two_iterations_with_snapshots_and_resume(caffe, tmp_path):
    output = tmp_path / "run"
    common = dict(output=str(output), snapshot=2, net=NetOptions(batch_size=11),
                  data={"workers": 1, "seed": 1})
    first = train(TrainConfig(max_iter=2, **common), progress=False)
    assert first["final_iter"] == 2 and first["iterations"] == 2
    assert checkpoint_index(output / "snapshots") == [2]
    assert_snapshot_whole(caffe, output, 2)
    second = train(TrainConfig(max_iter=4, resume=True, **common), progress=False)
    assert second["iterations"] == 2 and second["final_iter"] == 4
    assert checkpoint_index(output / "snapshots") == [2, 4]
    assert_snapshot_whole(caffe, output, 4)
    assert [i for i, _ in loss_rows(output)] == list(range(1, 5))
    assert (output / "loss.png").stat().st_size > 1000
    run = json.loads((output / "run.json").read_text())
    assert run["batch"]["batch_size"] == 11 and run["seed"] == 1


def test_sigkill_leaves_no_corrupt_snapshot(caffe, tmp_path):
    output = tmp_path / "killed"
    proc = subprocess.Popen(TRAIN + ["--max-iter", "40", "--snapshot", "1", "--batch-size", "11",
                                     "--workers", "1", "--no-progress", "--output", str(output)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and len(checkpoint_index(output / "snapshots")
                                             if (output / "snapshots").exists() else []) < 2:
            time.sleep(0.2)
        time.sleep(0.7)  # most of an iteration is the snapshot write: kill inside one
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    listed = checkpoint_index(output / "snapshots")
    assert len(listed) >= 2
    for iteration in listed:
        assert_snapshot_whole(caffe, output, iteration)
    # a resumed run picks up from the newest whole snapshot
    summary = train(TrainConfig(output=str(output), max_iter=listed[-1] + 1, snapshot=0,
                                resume=True, net=NetOptions(batch_size=11), data={"workers": 1}),
                    progress=False)
    assert summary["final_iter"] == listed[-1] + 1 and summary["iterations"] == 1


def test_loss_goes_down_when_overfitting_one_still_image(caffe, deploy_net, tmp_path):
    from goturn_caffe.datasets.training_set import TrainingSet
    from goturn_caffe.geometry.examples import ExampleGenerator
    from goturn_caffe.geometry.preprocess import preprocess_batch
    from goturn_caffe.model.net import DEPLOY_PROTOTXT, load_net

    det = tmp_path / "det"
    for kind, suffix in (("Annotations", "xml"), ("Data", "JPEG")):
        folder = det / "ILSVRC" / kind / "DET" / "train" / "raccoon"
        folder.mkdir(parents=True)
        shutil.copy(SAMPLE_DET / "ILSVRC" / kind / "DET" / "train" / "raccoon" /
                    f"raccoon_raccoon-19.{suffix}", folder)
    output = tmp_path / "overfit"
    train(TrainConfig(output=str(output), max_iter=100, snapshot=0, base_lr=1e-5,
                      net=NetOptions(batch_size=2),
                      data={"det": str(det), "mix": "images", "augmented_per_pair": 0,
                            "workers": 1}), progress=False)
    losses = np.array([loss for _, loss in loss_rows(output)])
    assert len(losses) == 100 and losses[-20:].mean() < 0.75 * losses[:3].mean()
    # The real check, without dropout's noise: the deploy net's L1 error on the
    # training example with the trained weights vs with the fillers' weights.
    training_set = TrainingSet.from_roots(det=det)
    image, boxes = training_set.load_still(training_set.images[0])
    targets, searches, labels = ExampleGenerator(num_shifted=0).make_examples(
        image, boxes[0], image, boxes[0], rng=np.random.default_rng(0))

    def l1_error(net):
        preprocess_batch(targets, out=net.blobs["target"].data)
        preprocess_batch(searches, out=net.blobs["image"].data)
        return float(np.abs(net.forward()["fc8"][0] - labels[0]).sum())

    untrained = l1_error(deploy_net)   # the fillers' weights
    trained = l1_error(load_net(DEPLOY_PROTOTXT, snapshot_paths(output / "snapshots", 100)[0]))
    assert trained < 0.7 * untrained, (untrained, trained)


@pytest.mark.parametrize("args, message", [
    (["--alov", "/nonexistent/alov"], "does not exist"),
    (["--batch-size", "5"], "below 1 \\+ k3"),
    (["--init", "README.md"], "README.md: not a Caffe model|README.md: holds no weights"),
])
def test_bad_input_fails_before_the_solver_starts(tmp_path, args, message):
    out = subprocess.run(TRAIN + args + ["--max-iter", "1", "--output", str(tmp_path / "bad")],
                         capture_output=True, text=True, cwd=REPO_ROOT)
    assert out.returncode == 2
    assert out.stderr.startswith("train.py: ")
    assert len(out.stderr.strip().splitlines()) == 1
    import re

    assert re.search(message, out.stderr), out.stderr
    assert not (tmp_path / "bad" / "snapshots").exists() or \
        not checkpoint_index(tmp_path / "bad" / "snapshots")


def test_empty_dataset_is_refused(tmp_path):
    empty = tmp_path / "empty_det"
    (empty / "ILSVRC" / "Annotations" / "DET" / "train").mkdir(parents=True)
    (empty / "ILSVRC" / "Data" / "DET" / "train").mkdir(parents=True)
    out = subprocess.run(TRAIN + ["--det", str(empty), "--max-iter", "1", "--output",
                                  str(tmp_path / "o")], capture_output=True, text=True)
    assert out.returncode == 2 and "empty training set" in out.stderr


def test_max_seconds_stops_the_loop_early_with_a_final_snapshot(caffe, tmp_path):
    # a CPU step takes far longer than 1 ms, so the limit ends the run after its first step
    output = tmp_path / "capped"
    out = subprocess.run(TRAIN + ["--max-iter", "50", "--max-seconds", "0.001", "--snapshot", "0",
                                  "--batch-size", "11", "--workers", "1", "--no-progress",
                                  "--output", str(output)],
                         capture_output=True, text=True, cwd=REPO_ROOT)
    assert out.returncode == 0, out.stderr
    summary = json.loads((output / "summary.json").read_text())
    assert summary["stop_reason"] == "max_seconds" and summary["max_seconds"] == 0.001
    assert 1 <= summary["iterations"] < 50 and summary["final_iter"] == summary["iterations"]
    assert checkpoint_index(output / "snapshots") == [summary["final_iter"]]
    assert_snapshot_whole(caffe, output, summary["final_iter"])
    assert [i for i, _ in loss_rows(output)] == list(range(1, summary["final_iter"] + 1))
    assert "stopped by --max-seconds 0.001" in out.stdout


def test_a_run_that_reaches_max_iter_says_so(caffe, tmp_path):
    summary = train(TrainConfig(output=str(tmp_path / "r"), max_iter=2, snapshot=0, max_seconds=3600,
                                net=NetOptions(batch_size=11), data={"workers": 1}), progress=False)
    assert summary["stop_reason"] == "max_iter" and summary["final_iter"] == 2


@pytest.mark.parametrize("value", ["0", "-3", "abc", "nan"])
def test_max_seconds_must_be_positive(tmp_path, value):
    out = subprocess.run(TRAIN + ["--max-seconds", value, "--output", str(tmp_path / "o")],
                         capture_output=True, text=True, cwd=REPO_ROOT)
    assert out.returncode == 2 and "--max-seconds: expected a number of seconds > 0" in out.stderr
    assert not (tmp_path / "o").exists()


def test_max_seconds_in_the_config_is_checked_too(tmp_path):
    with pytest.raises(ValueError, match="max_seconds must be > 0"):
        train(TrainConfig(output=str(tmp_path / "o"), max_seconds=0), progress=False)
    with pytest.raises(ValueError, match="one GPU only"):
        train(TrainConfig(output=str(tmp_path / "o"), gpus=[0, 1], max_seconds=5), progress=False)
    assert not (tmp_path / "o").exists()
