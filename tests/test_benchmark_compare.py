"""tools/benchmark.py compare at toy size: the JSON agrees with itself (ratios are
the quotients of the reported medians, floors follow from the measured rates and
the layers' hand-counted FLOPs and weights) and the three engines compute the
same fc8.  Speeds are not asserted: they belong to the benchmark's output."""

import json
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

TOOL = [sys.executable, str(REPO_ROOT / "tools" / "benchmark.py")]
ENGINES = {"pycaffe", "cv2_dnn", "onnxruntime"}
# the GOTURN deploy net, per stream: (out channels, in channels / group x kh x kw, out h x w)
CONVS = {"conv1": (96, 3 * 11 * 11, 55 * 55), "conv2": (256, 48 * 5 * 5, 27 * 27),
         "conv3": (384, 256 * 3 * 3, 13 * 13), "conv4": (384, 192 * 3 * 3, 13 * 13),
         "conv5": (256, 192 * 3 * 3, 13 * 13)}
FC = {"fc6-new": (4096, 256 * 6 * 6 * 2), "fc7-new": (4096, 4096), "fc7-newb": (4096, 4096),
      "fc8-shapes": (4, 4096)}


@pytest.fixture(scope="module")
def compare(caffe, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare") / "bench.json"
    proc = subprocess.run(TOOL + ["compare", "--batches", "1,2", "--forwards", "2",
                                  "--layer-repeats", "1", "--steps", "3", "--no-opencv",
                                  "--json", str(out)],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text())["compare"], proc.stdout


def test_layers_carry_hand_counted_flops_weights_and_floors(compare):
    result, _ = compare
    machine = result["machine"]
    assert machine["gemv_gb_per_s"] > 0 and machine["copy_gb_per_s"] > 0
    assert machine["bandwidth_gb_per_s"] == max(machine["gemv_gb_per_s"], machine["copy_gb_per_s"])
    assert machine["sgemm_gflop_per_s"] > 0
    for batch in (1, 2):
        layers = {layer["layer"]: layer for layer in result["layers"][f"batch={batch}"]}
        for name, (out, per_output, pixels) in CONVS.items():
            for stream in (name, name + "_p"):
                assert layers[stream]["flops"] == 2 * batch * out * per_output * pixels
                assert layers[stream]["weight_bytes"] == 4 * (out * per_output + out)
        for name, (out, inputs) in FC.items():
            assert layers[name]["flops"] == 2 * batch * out * inputs
            assert layers[name]["weight_bytes"] == 4 * (out * inputs + out)
        for layer in layers.values():
            assert layer["ms"] > 0
            if layer["type"] not in ("Convolution", "InnerProduct"):
                assert layer["flops"] == layer["weight_bytes"] == layer["floor_ms"] == 0
            expected = 1000 * max(layer["weight_bytes"] / (machine["bandwidth_gb_per_s"] * 1e9),
                                  layer["flops"] / (machine["sgemm_gflop_per_s"] * 1e9))
            assert layer["floor_ms"] == pytest.approx(expected, rel=1e-3, abs=1e-4)
        case = result["cases"][f"batch={batch}"]
        assert case["floor_ms"] == pytest.approx(sum(layer["floor_ms"] for layer in layers.values()),
                                                 abs=1e-3 * len(layers))
        assert case["conv_gflop"] == pytest.approx(
            sum(layer["flops"] for layer in layers.values() if layer["type"] == "Convolution") / 1e9,
            abs=1e-3)
        assert case["fc_weight_mb"] == pytest.approx(sum(4 * (o * i + o) for o, i in FC.values()) / 1e6,
                                                     abs=0.1)


def test_ratios_are_quotients_of_the_reported_medians(compare):
    result, stdout = compare
    assert sorted(result["cases"]) == ["batch=1", "batch=2"]
    for case in result["cases"].values():
        engines = case["engines"]
        assert set(engines) == ENGINES
        medians = {name: engine["forward_ms"] for name, engine in engines.items()}
        ratios = case["ratios"]
        assert ratios["pycaffe_over_cv2_dnn"] == pytest.approx(
            medians["pycaffe"] / medians["cv2_dnn"], abs=1e-3)
        assert ratios["pycaffe_over_onnxruntime"] == pytest.approx(
            medians["pycaffe"] / medians["onnxruntime"], abs=1e-3)
        for name, ms in medians.items():
            assert ratios[f"{name}_over_floor"] == pytest.approx(ms / case["floor_ms"], abs=1e-3)
            assert engines[name]["ms_per_image"] == pytest.approx(ms / case["batch"], abs=1e-3)
        assert case["fastest"] == min(medians, key=medians.get)
        assert ratios["fastest_over_floor"] == ratios[f"{case['fastest']}_over_floor"]
        for engine in engines.values():
            step = engine["tracker"]
            assert step["steps"] == max(3, 3 // case["batch"])
            assert 0 < step["network_ms"] <= step["step_ms"]
            assert 0 < step["preprocess_ms"] <= step["step_ms"]
            assert step["step_over_forward"] == pytest.approx(
                step["step_ms"] / engine["forward_ms"], abs=1e-3)
    assert "pycaffe / cv2.dnn" in stdout and "fc6-new" in stdout


def test_engines_compute_the_same_fc8(compare):
    result, _ = compare
    for case in result["cases"].values():
        assert case["fc8_abs_max"] > 0
        assert case["engines"]["pycaffe"]["max_abs_diff_from_pycaffe"] == 0
        for name in ("cv2_dnn", "onnxruntime"):
            assert case["engines"][name]["max_abs_diff_from_pycaffe"] <= 1e-5 * case["fc8_abs_max"]


@pytest.mark.parametrize("args, message", [
    (["--forwards", "0"], "--forwards must be >= 1"),
    (["--batches", "1,x"], "expected positive integers"),
])
def test_bad_compare_options_are_one_line_errors(args, message):
    proc = subprocess.run(TOOL + ["compare", *args], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=300)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
