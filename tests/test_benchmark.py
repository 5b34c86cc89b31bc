"""tools/benchmark.py on the CPU at toy sizes: the JSON it writes is consistent
with itself (rates from times, shares within the step), and bad options are
one-line errors.  Speeds are not asserted: they belong to the benchmark's output."""

import json
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

TOOL = [sys.executable, str(REPO_ROOT / "tools" / "benchmark.py")]


def run_benchmark(args, tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(TOOL + args + ["--json", str(out)], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text())[args[0]], proc.stdout


def test_net_cases_per_engine_and_batch(caffe, tmp_path):
    result, stdout = run_benchmark(["net", "--engine", "default,caffe", "--batches", "1,2",
                                    "--forwards", "2"], tmp_path)
    assert result["parameters"] == 113_748_740
    assert sorted(result["cases"]) == ["caffe batch=1", "caffe batch=2",
                                       "default batch=1", "default batch=2"]
    for case in result["cases"].values():
        assert case["forward_ms"] > 0 and case["forward_with_input_copy_ms"] > 0
    assert stdout.count("forward") == 4


def test_tracker_step_splits_into_network_and_preprocessing(caffe, tmp_path):
    result, _ = run_benchmark(["tracker", "--engine", "caffe", "--targets", "1,2", "--steps", "3",
                               "--no-opencv"], tmp_path)
    assert result["jpeg_decode_ms"] > 0
    assert sorted(result["cases"]) == ["caffe N=1", "caffe N=2"]
    for case in result["cases"].values():
        # each part is timed inside its step: its median cannot exceed the step's
        assert case["network_ms"] <= case["end_to_end_ms"] and case["preprocess_ms"] <= case["end_to_end_ms"]
        assert case["network_share"] + case["preprocess_share"] <= 1.001
        # the JSON keeps 3 decimals of rates and 4 of milliseconds
        assert case["targets_x_frames_per_s"] == pytest.approx(
            1000 * case["targets"] / case["end_to_end_ms"], rel=1e-3, abs=2e-3)
        assert case["with_jpeg_decode_fps"] < case["end_to_end_fps"]


def test_train_compares_the_data_layer_with_the_bare_solver(caffe, tmp_path):
    result, stdout = run_benchmark(["train", "--batch-size", "11", "--iterations", "1",
                                    "--workers", "1"], tmp_path)
    assert result["batch_size"] == 11 and result["workers"] == 1
    assert result["bare_examples_per_s"] == pytest.approx(11 / result["bare_s_per_iter"], rel=1e-3)
    # frozen convolutions: the bare net training uses is the deduplicated one
    assert result["dedup_targets"] and result["bare_s_per_iter"] == result["bare_dedup_s_per_iter"]
    assert result["dedup_speedup"] == pytest.approx(
        result["bare_plain_s_per_iter"] / result["bare_dedup_s_per_iter"], rel=1e-2)
    assert result["with_data_layer_examples_per_s"] == pytest.approx(
        11 / result["with_data_layer_s_per_iter"], rel=1e-3)
    assert 0 <= result["solver_waiting_for_data_share"] <= 1
    assert result["data_keeps_up"] == (result["data_layer_examples_per_s"]
                                       >= result["bare_examples_per_s"])
    assert "examples/s produced" in stdout


@pytest.mark.parametrize("args, message", [
    (["net", "--engine", "gemm"], "engines must be from default, caffe, cudnn"),
    (["tracker", "--targets", "0"], "expected positive integers"),
    (["tracker", "--backend", "caffe,tensorrt"], "backends must be from caffe, onnxruntime"),
    (["train", "--engine", "caffe,default"], "train takes one --engine"),
])
def test_bad_options_are_one_line_errors(args, message):
    proc = subprocess.run(TOOL + args, capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
