"""One net, three CPU engines, against the machine's floor.

The GOTURN deploy net with one set of random weights (Caffe's fillers, seeded)
runs through pycaffe, OpenCV's DNN module (``cv2.dnn.readNetFromCaffe`` on the
same prototxt and a ``.caffemodel`` saved from the same net) and onnxruntime
(the net's ONNX export, :mod:`goturn_caffe.model.onnx_export`), per batch size:

- the median forward pass of each engine, inputs handed in included (what a
  caller pays), and each engine's largest ``fc8`` difference from pycaffe.
  Each engine is timed on its own, after two warm-up passes: run in turns,
  one engine's worker threads (onnxruntime's spin after each run) slow the
  next one down;
- pycaffe per layer (``net.forward(start=l, end=l)``), with each layer's
  FLOPs, weight bytes and floor;
- the floor: a per-layer roofline from the measured memory bandwidth (the
  higher of numpy's GEMV over fc6's weights and a plain copy) and sgemm rate
  (numpy), each layer taking the longer of streaming its weights once and
  doing its multiply-adds; activations and the cheap layers (ReLU, pooling,
  LRN) are left out, so no engine can reach it;
- the tracker step end to end (crop + preprocess + forward + box) for each
  engine, through the same tracker code (:class:`~goturn_caffe.track.goturn.BatchedTracker`);
- the ratios between them; and ``cv2.TrackerGOTURN`` on OpenCV's own
  architecture, as the ``tracker`` benchmark runs it.

The OpenBLAS pycaffe runs on (its kernel family and threads) is reported
beside, as is the load average: other jobs on the machine slow every engine.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import tempfile
from pathlib import Path

import numpy as np

from goturn_caffe.benchmarks.common import ints_arg, median_ms, sequence_files, time_call

ENGINES = ("pycaffe", "cv2_dnn", "onnxruntime")
OUTPUT = "fc8"


def configure(parser: argparse.ArgumentParser) -> None:
    from goturn_caffe.paths import REPO_ROOT

    parser.add_argument("--batches", type=ints_arg, default=[1, 8],
                        help="batch sizes, comma-separated (default 1,8)")
    parser.add_argument("--forwards", type=int, default=20,
                        help="timed forward passes per engine and batch; medians are reported "
                             "(default 20)")
    parser.add_argument("--layer-repeats", type=int, default=5,
                        help="timed passes of each pycaffe layer (default 5)")
    parser.add_argument("--steps", type=int, default=20,
                        help="timed tracker steps per engine at N=1, fewer for larger N "
                             "(default 20; 0 skips the tracker step)")
    parser.add_argument("--sequence", default=str(REPO_ROOT / "data" / "sample" / "vot" / "car"),
                        help="frames for the tracker step (default: the bundled car excerpt)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random weights and inputs (default 0)")
    parser.add_argument("--no-opencv", action="store_true", help="skip cv2.TrackerGOTURN")


# ------------------------------------------------------------------ machine --
def machine_rates(repeats: int = 5) -> dict:
    """Memory bandwidth and sgemm rate numpy reaches on this machine (medians):
    a 256 MB copy (bytes read + written), a GEMV over a 4096 x 18432 float32
    matrix (fc6's weights: bytes read), a 2048^3 float32 GEMM."""
    rng = np.random.default_rng(0)

    def seconds(function, *arrays) -> float:
        return time_call(lambda: function(*arrays), repeats, warmup=1) / 1e6

    source = np.ones(64 << 20, np.float32)
    copy_s = seconds(np.copyto, np.empty_like(source), source)
    weights = rng.standard_normal((4096, 18432), dtype=np.float32)
    gemv_s = seconds(np.matmul, weights, rng.standard_normal(18432, dtype=np.float32))
    square = rng.standard_normal((2048, 2048), dtype=np.float32)
    gemm_s = seconds(np.matmul, square, square.copy())
    return {"copy_gb_per_s": round(2 * source.nbytes / copy_s / 1e9, 2),
            "gemv_gb_per_s": round(weights.nbytes / gemv_s / 1e9, 2),
            "sgemm_gflop_per_s": round(2 * 2048 ** 3 / gemm_s / 1e9, 1)}


def openblas_info() -> dict:
    """The OpenBLAS loaded in this process for pycaffe (``libopenblas.so.0``):
    kernel family, threads, build configuration; empty where it cannot be asked."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        for name in ("openblas_get_corename", "openblas_get_config"):
            getattr(lib, name).restype = ctypes.c_char_p
        return {"core": lib.openblas_get_corename().decode(),
                "threads": int(lib.openblas_get_num_threads()),
                "config": lib.openblas_get_config().decode().strip(),
                "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")}
    except (OSError, AttributeError):
        return {}


# ------------------------------------------------------------------- floors --
def layer_costs(net) -> list:
    """Per layer of a reshaped ``caffe.Net``: ``{"layer", "type", "flops",
    "weight_bytes"}`` (multiply-adds count 2 FLOPs; Convolution and
    InnerProduct only carry FLOPs and weights, the rest zeros)."""
    costs = []
    for name, layer in zip(net._layer_names, net.layers):
        flops = weight_bytes = 0
        if layer.type in ("Convolution", "InnerProduct"):
            weights = layer.blobs[0].data
            weight_bytes = sum(blob.data.nbytes for blob in layer.blobs)
            top = net.blobs[net.top_names[name][0]].data
            per_output = int(np.prod(weights.shape[1:]))   # (in / group) x kh x kw, or K
            flops = 2 * top.size * per_output
        costs.append({"layer": name, "type": layer.type, "flops": int(flops),
                      "weight_bytes": int(weight_bytes)})
    return costs


def layer_floor_ms(cost: dict, bandwidth_gb_per_s: float, gflop_per_s: float) -> float:
    """Roofline of one layer: the longer of streaming its weights once and its FLOPs."""
    return 1000 * max(cost["weight_bytes"] / (bandwidth_gb_per_s * 1e9),
                      cost["flops"] / (gflop_per_s * 1e9))


# ------------------------------------------------------------------ engines --
class PycaffeEngine:
    name = "pycaffe"

    def __init__(self, net):
        self.net = net

    def forward(self, inputs: dict) -> np.ndarray:
        for name, array in inputs.items():
            blob = self.net.blobs[name]
            if blob.data.shape != array.shape:
                blob.reshape(*array.shape)
            blob.data[...] = array
        return self.net.forward()[OUTPUT]


class OpenCVDnnEngine:
    name = "cv2_dnn"

    def __init__(self, prototxt, caffemodel):
        import cv2

        self.net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
        self.net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        self.net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)

    def forward(self, inputs: dict) -> np.ndarray:
        for name, array in inputs.items():
            self.net.setInput(array, name)
        return self.net.forward()   # the last layer's output: fc8 (cv2 names outputs by layer)


class OnnxruntimeEngine:
    name = "onnxruntime"

    def __init__(self, model_bytes: bytes):
        from goturn_caffe.model.onnx_backend import onnx_session

        self.session = onnx_session(model_bytes)

    def forward(self, inputs: dict) -> np.ndarray:
        return self.session.run([OUTPUT], inputs)[0]


def build_engines(net, prototxt, folder: Path) -> dict:
    """The three engines on ``net``'s weights: cv2 reads them from a .caffemodel
    saved into ``folder``, onnxruntime from the ONNX export held in memory."""
    from goturn_caffe.model.net import read_net_prototxt
    from goturn_caffe.model.onnx_export import net_to_onnx

    caffemodel = folder / "weights.caffemodel"
    net.save(str(caffemodel))
    engines = {"pycaffe": PycaffeEngine(net), "cv2_dnn": OpenCVDnnEngine(prototxt, caffemodel)}
    caffemodel.unlink()
    model = net_to_onnx(net, read_net_prototxt(prototxt))
    engines["onnxruntime"] = OnnxruntimeEngine(model.SerializeToString())
    return engines


# ---------------------------------------------------------------- measuring --
def per_layer_ms(net, repeats: int) -> dict:
    """``{layer: median ms of net.forward(start=layer, end=layer)}`` (inputs skipped)."""
    return {name: time_call(lambda n=name: net.forward(start=n, end=n), repeats, warmup=1) / 1000
            for name, layer in zip(net._layer_names, net.layers) if layer.type != "Input"}


def tracker_step(engine, net, frames, box, n: int, steps: int) -> dict:
    """Median tracker step (crop + preprocess + forward + box) and its network
    part, N = ``n`` copies of one target, on ``engine``."""
    from goturn_caffe.benchmarks.tracker import time_steps
    from goturn_caffe.model.onnx_backend import FeedNet
    from goturn_caffe.track.goturn import BatchedTracker

    if engine.name == "pycaffe":
        tracking_net = net
    else:   # the part of caffe.Net the tracker uses, over the engine (what --backend onnxruntime runs)
        tracking_net = FeedNet(lambda inputs: {OUTPUT: engine.forward(inputs)},
                               {name: net.blobs[name].data.shape for name in net.inputs}, [OUTPUT])
    tracker = BatchedTracker(tracking_net)
    tracker.init_batch([frames[0]] * n, [box] * n)
    samples = time_steps(tracker, frames, steps)
    return {"steps": steps, "step_ms": round(median_ms(samples["step"]), 3),
            "network_ms": round(median_ms(samples["network"]), 3),
            "preprocess_ms": round(median_ms(samples["preprocess"]), 3)}


def ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 3)


def inputs(args) -> list:
    """What the run reads: the deploy prototxt, and the sequence's files (with --steps)."""
    from goturn_caffe.model.net import DEPLOY_PROTOTXT

    return [DEPLOY_PROTOTXT] + (sequence_files(args.sequence) if args.steps else [])


def run(args) -> dict:
    import cv2

    from goturn_caffe.caffe_env import import_caffe, select_device
    from goturn_caffe.model.net import DEPLOY_PROTOTXT, load_net
    from goturn_caffe.model.onnx_export import random_inputs

    for option in ("forwards", "layer_repeats"):
        if getattr(args, option) < 1:
            raise ValueError(f"--{option.replace('_', '-')} must be >= 1")
    if args.steps < 0:
        raise ValueError("--steps must be >= 0")
    frames = box = None
    if args.steps:
        from goturn_caffe.track.sequences import open_sequence

        sequence = open_sequence(args.sequence)
        frames = [cv2.imread(str(path)) for path in sequence.frame_paths]
        box = sequence.ground_truth[0]
    caffe = import_caffe()
    select_device(None)
    results = {"device": f"CPU ({os.cpu_count()} cores)", "seed": args.seed,
               "forwards": args.forwards, "layer_repeats": args.layer_repeats,
               "load_average_1min_start": round(os.getloadavg()[0], 2)}
    machine = machine_rates(repeats=max(3, min(args.forwards, 7)))
    # the floor takes the best the machine showed: GEMV is what an fc layer at batch 1 does
    machine["bandwidth_gb_per_s"] = max(machine["gemv_gb_per_s"], machine["copy_gb_per_s"])
    results["machine"] = machine
    print(f"machine: copy {machine['copy_gb_per_s']:.1f} GB/s, GEMV {machine['gemv_gb_per_s']:.1f} "
          f"GB/s (the floor takes the higher), sgemm {machine['sgemm_gflop_per_s']:.0f} GFLOP/s (numpy)")

    caffe.set_random_seed(args.seed)
    net = load_net(DEPLOY_PROTOTXT)     # Caffe's fillers, seeded: the same weights for all
    results["openblas"] = openblas_info()
    with tempfile.TemporaryDirectory() as folder:
        engines = build_engines(net, DEPLOY_PROTOTXT, Path(folder))
    results["threads"] = {"openblas": results["openblas"].get("threads"),
                          "cv2": cv2.getNumThreads(),
                          "onnxruntime_intra_op": engines["onnxruntime"].session.get_session_options()
                          .intra_op_num_threads}
    ob = results["openblas"]
    print(f"pycaffe's OpenBLAS: {ob.get('core', '?')} kernels, {ob.get('threads', '?')} threads; "
          f"cv2 {cv2.__version__} {cv2.getNumThreads()} threads")

    results["cases"], results["layers"] = {}, {}
    for batch in args.batches:
        inputs = random_inputs(net, batch, seed=args.seed)
        reference = engines["pycaffe"].forward(inputs).copy()
        costs = layer_costs(net)
        floors = [layer_floor_ms(c, machine["bandwidth_gb_per_s"], machine["sgemm_gflop_per_s"])
                  for c in costs]
        case = {"batch": batch, "floor_ms": round(sum(floors), 3),
                "fc8_abs_max": float(np.abs(reference).max()),
                "conv_gflop": round(sum(c["flops"] for c in costs if c["type"] == "Convolution") / 1e9, 3),
                "fc_weight_mb": round(sum(c["weight_bytes"] for c in costs
                                          if c["type"] == "InnerProduct") / 1e6, 1),
                "engines": {}}
        for name, engine in engines.items():
            output = engine.forward(inputs)
            forward_ms = time_call(lambda e=engine, x=inputs: e.forward(x), args.forwards,
                                   warmup=2) / 1000
            case["engines"][name] = {
                "forward_ms": round(forward_ms, 3),
                "max_abs_diff_from_pycaffe": float(np.abs(output - reference).max()),
                "ms_per_image": round(forward_ms / batch, 3)}
        engines["pycaffe"].forward(inputs)      # the net at this batch for the per-layer pass
        layer_ms = per_layer_ms(net, args.layer_repeats)
        results["layers"][f"batch={batch}"] = [
            {**cost, "ms": round(layer_ms[cost["layer"]], 3), "floor_ms": round(floor, 4)}
            for cost, floor in zip(costs, floors) if cost["layer"] in layer_ms]
        if args.steps:
            steps = max(3, args.steps // batch)
            for name, engine in engines.items():
                step = tracker_step(engine, net, frames, box, batch, steps)
                step["step_over_forward"] = ratio(step["step_ms"], case["engines"][name]["forward_ms"])
                case["engines"][name]["tracker"] = step
        medians = {name: e["forward_ms"] for name, e in case["engines"].items()}
        fastest = min(medians, key=medians.get)
        case["fastest"] = fastest
        case["ratios"] = {"pycaffe_over_cv2_dnn": ratio(medians["pycaffe"], medians["cv2_dnn"]),
                          "pycaffe_over_onnxruntime": ratio(medians["pycaffe"], medians["onnxruntime"]),
                          "fastest_over_floor": ratio(medians[fastest], case["floor_ms"]),
                          **{f"{name}_over_floor": ratio(ms, case["floor_ms"])
                             for name, ms in medians.items()}}
        results["cases"][f"batch={batch}"] = case
        print_case(case, results["layers"][f"batch={batch}"])
    del engines, net
    if args.steps and not args.no_opencv:
        from goturn_caffe.benchmarks.tracker import opencv_goturn_speed

        results["opencv_tracker"] = opencv_goturn_speed(frames, box, steps=args.steps)
    results["load_average_1min_end"] = round(os.getloadavg()[0], 2)
    print(f"load average {results['load_average_1min_start']} at the start, "
          f"{results['load_average_1min_end']} at the end")
    return results


def print_case(case: dict, layers: list) -> None:
    batch = case["batch"]
    print(f"\nbatch {batch}: pycaffe per layer (median ms; floor = the longer of weight "
          f"bytes / bandwidth and FLOPs / sgemm rate)")
    print(f"  {'layer':<12s} {'type':<13s} {'ms':>8s} {'share':>6s} {'GFLOP':>7s} {'MB':>7s} "
          f"{'floor':>7s}")
    total = sum(layer["ms"] for layer in layers)
    for layer in layers:
        if layer["ms"] < 0.05 and not layer["flops"]:
            continue
        print(f"  {layer['layer']:<12s} {layer['type']:<13s} {layer['ms']:8.2f} "
              f"{100 * layer['ms'] / total:5.1f}% {layer['flops'] / 1e9:7.3f} "
              f"{layer['weight_bytes'] / 1e6:7.1f} {layer['floor_ms']:7.2f}")
    print(f"  {'sum':<26s} {total:8.2f}")
    print(f"batch {batch}: floor {case['floor_ms']:.2f} ms ({case['conv_gflop']:.2f} GFLOP of "
          f"convolutions, {case['fc_weight_mb']:.0f} MB of fc weights)")
    print(f"  {'engine':<12s} {'forward ms':>10s} {'/ floor':>8s} {'fc8 diff':>9s} "
          f"{'step ms':>8s} {'step/fwd':>8s}")
    for name, engine in case["engines"].items():
        tracker = engine.get("tracker", {})
        step = f"{tracker['step_ms']:8.2f} {tracker['step_over_forward']:8.3f}" if tracker else ""
        print(f"  {name:<12s} {engine['forward_ms']:10.2f} {case['ratios'][name + '_over_floor']:8.2f} "
              f"{engine['max_abs_diff_from_pycaffe']:9.1e} {step}")
    r = case["ratios"]
    print(f"  pycaffe / cv2.dnn {r['pycaffe_over_cv2_dnn']:.2f}, pycaffe / onnxruntime "
          f"{r['pycaffe_over_onnxruntime']:.2f}, fastest ({case['fastest']}) / floor "
          f"{r['fastest_over_floor']:.2f}")
