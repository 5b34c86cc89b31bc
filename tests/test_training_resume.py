"""`tools/train.py` when runs are interrupted, resumed, refused or diverge (issue 17)."""

import json
import re
import subprocess
import sys

import pytest
from conftest import REPO_ROOT
from test_training import assert_snapshot_whole, loss_rows

from goturn_caffe.fileio import file_digest, partial_path
from goturn_caffe.model.netspec import NetOptions
from goturn_caffe.train.training import (
    TrainConfig,
    checkpoint_index,
    read_checkpoint,
    resume_point,
    snapshot_paths,
    train,
)

TRAIN = [sys.executable, str(REPO_ROOT / "tools" / "train.py")]
BATCH = 11
SEED = 3


def config(output, workers=1, **kwargs):
    return TrainConfig(output=str(output), net=NetOptions(batch_size=BATCH),
                       data={"seed": SEED, "workers": workers}, **kwargs)


def run_cli(*args):
    return subprocess.run(TRAIN + [str(a) for a in args], capture_output=True, text=True,
                          cwd=REPO_ROOT)


def one_line_error(out, pattern):
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("train.py: "), out.stderr[-2000:]
    assert re.search(pattern, lines[0]), lines[0]


def digests(folder):
    return {p.relative_to(folder): file_digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def uninterrupted(caffe, tmp_path_factory):
    """Three iterations in one go, two data workers, a log line every iteration."""
    output = tmp_path_factory.mktemp("whole") / "run"
    lines = []
    summary = train(config(output, workers=2, max_iter=3, snapshot=0, display=1),
                    log=lines.append, progress=False)
    return output, summary, lines


def test_without_a_progress_bar_the_loss_is_logged_every_display_iterations(uninterrupted):
    output, _, lines = uninterrupted
    logged = [line for line in lines if line.startswith("iteration ")]
    assert [line.split(":")[0] for line in logged] == ["iteration 1/3", "iteration 2/3",
                                                     "iteration 3/3"]
    for line, (_, loss) in zip(logged, loss_rows(output)):
        assert float(re.search(r"loss ([0-9.e+-]+)", line).group(1)) == pytest.approx(loss, rel=1e-3)


def test_a_resumed_run_continues_the_same_losses(caffe, uninterrupted, tmp_path):
    whole, _, _ = uninterrupted
    output = tmp_path / "run"
    train(config(output, max_iter=2, snapshot=0), progress=False, log=lambda m: None)
    snapshots = output / "snapshots"
    assert read_checkpoint(snapshots)["data"]["2"]["batches"] == 2
    # what a kill while the snapshot at iteration 3 was written, and a crashed write, leave
    (snapshots / ".staging" / "goturn_iter_3.caffemodel").write_bytes(b"half a model")
    (snapshots / "goturn_iter_3.caffemodel").write_bytes(b"moved, never listed")
    partial_path(output / "loss.csv").write_text("iteration,loss\n")
    lines = []
    summary = train(config(output, max_iter=3, snapshot=0, resume=True), log=lines.append,
                    progress=False)
    assert summary["iterations"] == 1 and summary["final_iter"] == 3
    resumed, expected = loss_rows(output), loss_rows(whole)
    assert [i for i, _ in resumed] == [i for i, _ in expected] == [1, 2, 3]
    # same data stream (with one worker instead of two) and same dropout masks
    assert [loss for _, loss in resumed] == pytest.approx([loss for _, loss in expected], rel=1e-5)
    assert any(re.search(r"resumed from .*goturn_iter_2\.solverstate at iteration 2 \(data stream "
                         r"at batch 2\)", line) for line in lines), lines
    assert any("incomplete snapshot files" in line and "goturn_iter_3.caffemodel" in line
               and "complete snapshots are [2]" in line for line in lines), lines
    assert any("removed 1 partial file" in line for line in lines), lines
    assert not any((snapshots / ".staging").iterdir())
    assert not partial_path(output / "loss.csv").exists()
    assert checkpoint_index(snapshots) == [2, 3]
    assert_snapshot_whole(caffe, output, 3)
    with pytest.raises(ValueError, match="already trained to iteration 3, not below max_iter 3"):
        train(config(output, max_iter=3, resume=True), progress=False, log=lambda m: None)


def test_resume_passes_over_listed_snapshots_whose_files_are_gone(tmp_path):
    snapshots = tmp_path / "snapshots"
    snapshots.mkdir()
    lines = []
    assert resume_point(tmp_path, 10, lines.append) is None
    assert lines == [f"--resume: no complete snapshot in {snapshots}: starting from iteration 0"]
    (snapshots / "checkpoint.json").write_text(json.dumps(
        {"iterations": [2, 4], "data": {"2": {"batches": 2}}}))
    for path in snapshot_paths(snapshots, 2):
        path.write_bytes(b"x")
    lines = []
    resume = resume_point(tmp_path, 10, lines.append)
    assert (resume.iteration, resume.batches) == (2, 2)
    assert resume.state == snapshot_paths(snapshots, 2)[1]
    assert lines == ["--resume: the files of the snapshot(s) at iteration(s) [4] are gone: "
                     "continuing from the one before, at iteration 2"]
    (snapshots / "checkpoint.json").write_text("{not json")
    with pytest.raises(ValueError, match="checkpoint.json: not a snapshot index"):
        resume_point(tmp_path, 10, print)


def test_an_existing_run_is_not_overwritten_without_resume(tmp_path):
    output = tmp_path / "run"
    (output / "snapshots").mkdir(parents=True)
    (output / "run.json").write_text("{}")
    (output / "loss.csv").write_text("iteration,loss,seconds\n1,400,1.0\n2,390,1.0\n")
    (output / "snapshots" / "checkpoint.json").write_text(json.dumps({"iterations": [2]}))
    for path in snapshot_paths(output / "snapshots", 2):
        path.write_bytes(b"weights")
    before = digests(output)
    out = run_cli("--max-iter", 4, "--batch-size", BATCH, "--workers", 1, "--output", output)
    one_line_error(out, rf"{re.escape(str(output))}: holds a training run already \(snapshots "
                        r"at iterations \[2\]\): continue it with --resume, or train into "
                        r"another --output")
    assert digests(output) == before


@pytest.mark.parametrize("args, option", [
    (["--max-iter", "0"], "--max-iter"), (["--max-iter", "-3"], "--max-iter"),
    (["--snapshot", "-1"], "--snapshot"), (["--base-lr", "nan"], "--base-lr"),
    (["--batch-size", "0"], "--batch-size"), (["--seed", "-1"], "--seed"),
])
def test_numeric_options_are_checked(tmp_path, args, option):
    out = run_cli(*args, "--output", tmp_path / "o")
    assert out.returncode == 2 and f"argument {option}: expected a" in out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "o").exists()


@pytest.mark.parametrize("change, message", [
    (dict(max_iter=0), "max_iter must be a whole number >= 1"),
    (dict(snapshot=-1), "snapshot must be a whole number >= 0"),
    (dict(base_lr=float("nan")), "base_lr must be a finite number > 0"),
])
def test_the_library_checks_the_numbers_too(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        train(config(tmp_path / "o", **change), progress=False)
    assert not (tmp_path / "o").exists()


def test_a_diverging_run_stops_and_keeps_the_last_good_snapshot(caffe, tmp_path):
    output = tmp_path / "run"
    train(config(output, max_iter=1, snapshot=1), progress=False, log=lambda m: None)
    kept = {path: file_digest(path) for path in snapshot_paths(output / "snapshots", 1)}
    out = run_cli("--resume", "--max-iter", 4, "--snapshot", 1, "--base-lr", "1e30",
                  "--batch-size", BATCH, "--workers", 1, "--seed", SEED, "--no-progress",
                  "--output", output)
    model = snapshot_paths(output / "snapshots", 1)[0]
    # the update of iteration 2 blows the weights up: they are infinite at once, or
    # finite but give a NaN loss at iteration 3 (their snapshot is then dropped)
    one_line_error(out, r"(the weights of .* are NaN or infinite at iteration 2|the loss is "
                        r"(nan|inf) at iteration 3): training diverged .*; stopped without "
                        r"saving; (the snapshot at iteration 2, whose weights gave it, is "
                        rf"removed; )?the last good snapshot is {re.escape(str(model))}$")
    assert checkpoint_index(output / "snapshots") == [1]
    assert {path: file_digest(path) for path in kept} == kept
    assert not any((output / "snapshots" / ".staging").iterdir())


def test_the_stock_binary_command_of_the_help_trains_the_same_net(caffe, uninterrupted, tmp_path):
    import os

    from goturn_caffe.model.netspec import build_net
    from goturn_caffe.model.solver import stock_caffe_command, write_solver

    assert stock_caffe_command() in run_cli("--help").stdout
    net = build_net(NetOptions(batch_size=BATCH, data_params={
        "batch_size": BATCH, "seed": SEED, "workers": 1}), train=True)
    solver = write_solver(net, tmp_path / "net.prototxt", tmp_path / "solver.prototxt",
                          tmp_path / "snap", gpu=False, max_iter=1, snapshot=0, display=1)
    out = subprocess.run(["bash", "-c", stock_caffe_command(str(solver), "")], cwd=REPO_ROOT,
                         capture_output=True, text=True, env=dict(os.environ, GLOG_minloglevel="0"))
    assert out.returncode == 0, out.stderr[-3000:]
    first = re.search(r"Iteration 0 .*loss = ([0-9.e+-]+)", out.stderr)
    assert first, out.stderr[-3000:]
    assert float(first.group(1)) == pytest.approx(uninterrupted[1]["loss_first"], rel=1e-5)


def test_skipped_dataset_entries_are_summed_up_with_the_full_list(tmp_path):
    from goturn_caffe.train.training import prepare_run

    lines = []
    prepare_run(config(tmp_path / "run", max_iter=1), log=lines.append)
    listed = tmp_path / "run" / "skipped.txt"
    summary = [line for line in lines if line.startswith("training set: ")]
    assert len(summary) == 1
    assert re.search(r"skipped \d+: \d+ x box too large.*\(the full list: "
                     + re.escape(str(listed)) + r"\)$", summary[0]), summary
    assert "raccoon_raccoon-31.xml object 1: box too large" in listed.read_text()


def test_opencv_weights_cannot_start_training(caffe, tmp_path):
    model = caffe.proto.caffe_pb2.NetParameter()
    layer = model.layer.add(name="conv11", type="Convolution")
    blob = layer.blobs.add()
    blob.shape.dim.extend([1, 1, 1, 1])
    blob.data.append(0.5)
    weights = tmp_path / "goturn.caffemodel"
    weights.write_bytes(model.SerializeToString())
    before = file_digest(weights)
    out = run_cli("--init", weights, "--max-iter", 1, "--output", tmp_path / "o")
    one_line_error(out, rf"{re.escape(str(weights))}: this is OpenCV's GOTURN model .* only "
                        r"tracks \(track.py --model-format opencv\); training starts from")
    assert file_digest(weights) == before and not (tmp_path / "o").exists()


def test_a_resume_starts_the_data_layer_at_the_snapshots_batch(tmp_path):
    from goturn_caffe.model.net import read_net_prototxt
    from goturn_caffe.train.data_layer import parse_params
    from goturn_caffe.train.training import prepare_run

    output = tmp_path / "run"
    (output / "snapshots").mkdir(parents=True)
    (output / "snapshots" / "checkpoint.json").write_text(json.dumps(
        {"iterations": [4], "data": {"4": {"batches": 4, "stream": {"seed": 999}}}}))
    for path in snapshot_paths(output / "snapshots", 4):
        path.write_bytes(b"x")
    lines = []
    *_, resume = prepare_run(config(output, max_iter=6, resume=True), log=lines.append)
    assert (resume.iteration, resume.batches) == (4, 4)
    layer = read_net_prototxt(output / "train_net.prototxt").layer[0]
    params = parse_params(layer.python_param.param_str)
    assert params.start_batch == 4 and params.seed == SEED
    assert any(line.startswith("note: the data options differ from those of the snapshot at "
                               "iteration 4") for line in lines), lines


def test_the_batch_stream_restarts_exactly_at_any_batch():
    import numpy as np

    from goturn_caffe.datasets.training_set import TrainingSet
    from goturn_caffe.train.batches import BatchConfig, batches
    from goturn_caffe.train.data_layer import SAMPLE_DATA

    sample = TrainingSet.from_roots(alov=SAMPLE_DATA / "alov", det=SAMPLE_DATA / "det")
    settings = BatchConfig(batch_size=7, augmented_per_pair=4)  # pairs of 5 straddle batches
    stream = batches(sample, settings, seed=SEED)
    whole = [next(stream) for _ in range(4)]
    for start in (1, 3):
        restarted = next(batches(sample, settings, seed=SEED, start=start))
        assert all(np.array_equal(a, b) for a, b in zip(restarted, whole[start]))
    other_rank = next(batches(sample, settings, seed=SEED, rank=1))
    assert not np.array_equal(other_rank[2], whole[0][2])
