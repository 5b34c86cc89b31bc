"""The tracker loop with pycaffe, per Caffe engine and number of targets (and on
onnxruntime, ``--backend``), split into its network and preprocessing shares,
beside cv2.TrackerGOTURN."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from goturn_caffe.benchmarks.common import (
    add_engine_option,
    backends_arg,
    device_name,
    ints_arg,
    median_ms,
    sequence_files,
)

PAPER_FPS = "paper: 165 fps GTX Titan X (6.05 ms + ~1 ms loading), 100 fps GTX 680, 2.7 fps CPU"


def configure(parser: argparse.ArgumentParser) -> None:
    from goturn_caffe.track.app import DEFAULT_INPUT

    parser.add_argument("--sequence", default=str(DEFAULT_INPUT),
                        help="tracking input (default: the bundled car excerpt)")
    parser.add_argument("--weights", help="trained weights (default: random filler weights; "
                                          "speed does not depend on the values)")
    parser.add_argument("--gpu", type=int, help="GPU id (default: CPU)")
    add_engine_option(parser)
    parser.add_argument("--backend", type=backends_arg, default=["caffe"],
                        help="tracking backends, comma-separated: caffe (each --engine), "
                             "onnxruntime (CPU; an ONNX export of the weights) (default caffe)")
    parser.add_argument("--targets", type=ints_arg, default=[1, 8, 32],
                        help="batch sizes N (default 1,8,32)")
    parser.add_argument("--steps", type=int, default=20,
                        help="timed frames at N=1 (on the CPU fewer for larger N)")
    parser.add_argument("--no-opencv", action="store_true", help="skip cv2.TrackerGOTURN")


def inputs(args) -> list:
    """What the run reads: the sequence's files, the weights, the deploy prototxt."""
    from goturn_caffe.model.net import DEPLOY_PROTOTXT

    return sequence_files(args.sequence) + [args.weights, DEPLOY_PROTOTXT]


def time_steps(tracker, frames, steps: int, warmup: int = 2) -> dict:
    """Seconds per tracker step (crop + preprocess + forward + box) and its parts,
    over the decoded ``frames`` in turn."""
    samples = {"step": [], "network": [], "preprocess": []}
    for step in range(warmup + steps):
        frame = frames[(step + 1) % len(frames)]
        start = time.perf_counter()
        tracker.update_batch([frame] * tracker.size)
        if step >= warmup:
            samples["step"].append(time.perf_counter() - start)
            samples["network"].append(tracker.last_timing["network"])
            samples["preprocess"].append(tracker.last_timing["preprocess"])
    return samples


def jpeg_decode_ms(paths) -> float:
    """Median cv2.imread of the sequence's frames: what reading a video adds per frame."""
    import cv2

    samples = []
    for path in paths:
        start = time.perf_counter()
        cv2.imread(str(path))
        samples.append(time.perf_counter() - start)
    return median_ms(samples)


def run(args) -> dict:
    import cv2

    from goturn_caffe.model.net import check_engine
    from goturn_caffe.track.builder import build_batch_tracker
    from goturn_caffe.track.sequences import open_sequence

    sequence = open_sequence(args.sequence)
    runs = [("caffe", engine) for engine in args.engine] if "caffe" in args.backend else []
    if "onnxruntime" in args.backend:
        runs.append(("onnxruntime", "default"))
    for backend, engine in runs:
        if backend == "caffe":
            check_engine(engine, args.gpu)
        elif args.gpu is not None:
            raise ValueError("--backend onnxruntime runs on the CPU: drop --gpu")
    paths = sequence.frame_paths
    frames = [cv2.imread(str(path)) for path in paths]  # decoded once: the step is timed alone
    box = sequence.ground_truth[0]
    device = device_name(args.gpu)
    read_ms = jpeg_decode_ms(paths)
    results = {"device": device, "sequence": sequence.name, "jpeg_decode_ms": round(read_ms, 3),
               "cases": {}}
    print(f"tracker on {device}, {sequence.name} ({frames[0].shape[1]}x{frames[0].shape[0]}, "
          f"JPEG decode {read_ms:.2f} ms/frame, not in the step); {PAPER_FPS}")
    for backend, engine in runs:
        # no --weights: Caffe's filler values (the speed does not depend on them)
        tracker = build_batch_tracker(weights=args.weights, gpu=args.gpu, engine=engine,
                                      random_weights=args.weights is None, backend=backend)
        label = engine if backend == "caffe" else backend
        for n in args.targets:
            tracker.init_batch([frames[0]] * n, [box] * n)
            steps = max(3, args.steps // n) if args.gpu is None else args.steps
            samples = time_steps(tracker, frames, steps)
            step_ms, net_ms, prep_ms = (median_ms(samples[k])
                                        for k in ("step", "network", "preprocess"))
            case = {"backend": backend, "engine": engine, "targets": n, "steps": steps,
                    "end_to_end_ms": round(step_ms, 4), "network_ms": round(net_ms, 4),
                    "preprocess_ms": round(prep_ms, 4),
                    "end_to_end_fps": round(1000 / step_ms, 3), "network_fps": round(1000 / net_ms, 3),
                    "targets_x_frames_per_s": round(1000 * n / step_ms, 3),
                    "with_jpeg_decode_fps": round(1000 / (step_ms + n * read_ms), 3),
                    # shares of the time spent: totals, so that the parts add up
                    # (medians of the parts need not add up to the median step)
                    "network_share": round(sum(samples["network"]) / sum(samples["step"]), 3),
                    "preprocess_share": round(sum(samples["preprocess"]) / sum(samples["step"]), 3)}
            results["cases"][f"{label} N={n}"] = case
            print(f"tracker  {label:<7s} N={n:<3d} step {step_ms:8.3f} ms ({case['end_to_end_fps']:8.1f} "
                  f"fps, {case['targets_x_frames_per_s']:9.1f} targets x frames/s): network "
                  f"{net_ms:.3f} ms ({100 * case['network_share']:.1f} %), crop + preprocess "
                  f"{prep_ms:.3f} ms ({100 * case['preprocess_share']:.1f} %); "
                  f"{case['with_jpeg_decode_fps']:.1f} fps with JPEG decode")
        del tracker
    if not args.no_opencv:
        results["opencv"] = opencv_goturn_speed(frames, box, steps=args.steps)
        first_n1 = next((c for c in results["cases"].values() if c["targets"] == 1), None)
        if first_n1 is not None:
            ratio = first_n1["end_to_end_fps"] / results["opencv"]["fps"]
            results["ours_vs_opencv"] = round(ratio, 2)
            print(f"ours ({first_n1['backend']} {first_n1['engine']}) / cv2.TrackerGOTURN (N=1, tracker step, frames "
                  f"decoded beforehand for both): {ratio:.2f}x")
    return results


def opencv_goturn_speed(frames, box, steps: int) -> dict:
    """cv2.TrackerGOTURN (OpenCV's own network and loop) with random weights of its
    architecture, saved by pycaffe: the same work per frame as a user of OpenCV gets
    (``frames``: decoded images)."""
    import cv2

    from goturn_caffe.geometry.boxes import pixel_rect
    from goturn_caffe.model.net import OPENCV_DEPLOY, load_net
    from goturn_caffe.track.opencv import centre_box_bias

    with tempfile.TemporaryDirectory() as folder:
        weights = Path(folder) / "goturn.caffemodel"
        net = load_net(OPENCV_DEPLOY)
        centre_box_bias(net)
        net.save(str(weights))
        del net
        params = cv2.TrackerGOTURN_Params()
        params.modelTxt, params.modelBin = str(OPENCV_DEPLOY), str(weights)
        tracker = cv2.TrackerGOTURN_create(params)
    tracker.init(frames[0], pixel_rect(box, "truncate"))
    samples = []
    for step in range(2 + steps):
        frame = frames[(step + 1) % len(frames)]
        start = time.perf_counter()
        tracker.update(frame)
        if step >= 2:
            samples.append(time.perf_counter() - start)
    ms = median_ms(samples)
    print(f"cv2.TrackerGOTURN (OpenCV {cv2.__version__}, its own net, random weights, CPU): "
          f"{ms:.2f} ms/frame ({1000 / ms:.1f} fps) per update, {cv2.getNumThreads()} threads")
    return {"ms": round(ms, 3), "fps": round(1000 / ms, 2), "opencv": cv2.__version__}
