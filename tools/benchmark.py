#!/usr/bin/env python
"""Speed benchmarks of goturn-caffe, one subcommand per stage.

  preprocess  crop + resize + preprocess of one target/search pair from a
              synthetic 1280x720 frame (what the tracker does per frame
              before the forward pass); microseconds per pair, median of
              repeats, writing into preallocated arrays as the tracker
              should, and allocating fresh arrays for comparison.
  tracker     the tracker loop with pycaffe on --gpu N or the CPU: network
              only and end to end (decode + crop + preprocess + forward +
              box), median per frame after warm-up, N = 1, 8, 32 targets,
              beside cv2.TrackerGOTURN and the paper's figures.
  data        random-access reads of training pairs (files vs LMDB cache)
              and examples/s of the data layer with 1 and 2 workers.
  net         the GOTURN deploy net alone (prototxt/goturn_deploy.prototxt,
              random weights): parameter count, and the median time of one
              pycaffe forward pass at batch 1 on the CPU (or --gpu N).
  all         every benchmark above with its defaults (`make bench`).

Each subcommand prints one line per case and can write the results as JSON
(--json PATH).  New stages add a (configure, run) entry to COMMANDS.

Examples:
  python tools/benchmark.py preprocess
  python tools/benchmark.py preprocess --repeats 2000 --json output/bench_preprocess.json
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path


def time_call(function, repeats: int, warmup: int = 20) -> float:
    """Median wall time of ``function()`` in microseconds."""
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def write_json(path: str, results: dict) -> None:
    """Write ``results`` atomically (a temp file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(results, indent=2) + "\n")
    os.replace(partial, path)


# ---- preprocess ------------------------------------------------------------

# (name, box x, y, w, h) in a 1280x720 frame: the common case, a box whose
# search region needs black padding, and a large box (a big canvas to resize).
PREPROCESS_CASES = (
    ("centre 160x120", 560, 300, 160, 120),
    ("corner 160x120 (padded)", 10, 10, 160, 120),
    ("large 640x360", 320, 180, 640, 360),
)


def configure_preprocess(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--width", type=int, default=1280, help="frame width (default 1280)")
    parser.add_argument("--height", type=int, default=720, help="frame height (default 720)")


def run_preprocess(args) -> dict:
    import cv2
    import numpy as np

    from goturn_caffe.boxes import Box
    from goturn_caffe.cropping import crop_and_resize
    from goturn_caffe.preprocess import INPUT_SIZE, preprocess_batch

    rng = np.random.default_rng(0)
    previous = rng.integers(0, 256, (args.height, args.width, 3), dtype=np.uint8)
    current = rng.integers(0, 256, (args.height, args.width, 3), dtype=np.uint8)
    crops = np.empty((2, INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)
    blobs = np.empty((2, 1, 3, INPUT_SIZE, INPUT_SIZE), dtype=np.float32)  # target, image inputs

    results = {"frame": f"{args.width}x{args.height}", "opencv_threads": cv2.getNumThreads(),
               "cases": {}}
    for name, x, y, w, h in PREPROCESS_CASES:
        box = Box.from_xywh(x, y, w, h)

        def into_buffers():
            # The tracker's path: crops and net inputs written into preallocated arrays.
            crop_and_resize(previous, box, out=crops[0])
            crop_and_resize(current, box, out=crops[1])
            preprocess_batch(crops[:1], out=blobs[0])
            preprocess_batch(crops[1:], out=blobs[1])

        def fresh_arrays():
            target, _ = crop_and_resize(previous, box)
            search, _ = crop_and_resize(current, box)
            preprocess_batch(np.stack([target, search]))

        timings = {"us_per_pair": round(time_call(into_buffers, args.repeats), 1),
                   "us_per_pair_fresh_arrays": round(time_call(fresh_arrays, args.repeats), 1)}
        results["cases"][name] = timings
        print(f"preprocess  {name:<26s} {timings['us_per_pair']:8.1f} us per pair "
              f"({timings['us_per_pair_fresh_arrays']:.1f} us allocating fresh arrays)")
    return results


# ---- tracker -----------------------------------------------------------------

PAPER_FPS = "paper: 165 fps GTX Titan X (6.05 ms + ~1 ms loading), 100 fps GTX 680, 2.7 fps CPU"


def configure_tracker(parser: argparse.ArgumentParser) -> None:
    from goturn_caffe.paths import REPO_ROOT

    parser.add_argument("--sequence", default=str(REPO_ROOT / "data" / "sample" / "vot" / "car"),
                        help="tracking input (default: the bundled car excerpt)")
    parser.add_argument("--weights", help="trained weights (default: random filler weights; "
                                          "speed does not depend on the values)")
    parser.add_argument("--gpu", type=int, help="GPU id (default: CPU)")
    parser.add_argument("--targets", default="1,8,32", help="batch sizes N (default 1,8,32)")
    parser.add_argument("--steps", type=int, default=20, help="timed frames at N=1 (fewer for larger N)")
    parser.add_argument("--no-opencv", action="store_true", help="skip cv2.TrackerGOTURN")


def _median_ms(samples) -> float:
    return 1000 * statistics.median(samples)


def _time_steps(tracker, frames, steps: int, warmup: int = 2):
    """Per-step (decode + crop + preprocess + forward + decode) and network-only seconds."""
    import cv2

    end_to_end, network = [], []
    for step in range(warmup + steps):
        path = frames[(step + 1) % len(frames)]
        start = time.perf_counter()
        frame = cv2.imread(str(path))
        tracker.update([frame] * tracker.size)
        if step >= warmup:
            end_to_end.append(time.perf_counter() - start)
            network.append(tracker.last_timing["network"])
    return end_to_end, network


def run_tracker(args) -> dict:
    import cv2

    from goturn_caffe.caffe_env import select_device
    from goturn_caffe.net import DEPLOY_PROTOTXT, load_net
    from goturn_caffe.sequences import open_sequence
    from goturn_caffe.tracker import BatchedTracker

    select_device(args.gpu)
    sequence = open_sequence(args.sequence)
    frames = sequence.frame_paths
    first = cv2.imread(str(frames[0]))
    box = sequence.ground_truth[0]
    net = load_net(DEPLOY_PROTOTXT, args.weights)
    device = f"GPU {args.gpu}" if args.gpu is not None else f"CPU ({os.cpu_count()} cores)"
    results = {"device": device, "sequence": sequence.name, "cases": {}}
    print(f"tracker on {device}, {sequence.name}; {PAPER_FPS}")
    for n in (int(v) for v in args.targets.split(",")):
        tracker = BatchedTracker(net)
        tracker.init([first] * n, [box] * n)
        steps = max(3, args.steps // n) if args.gpu is None else args.steps
        end_to_end, network = _time_steps(tracker, frames, steps)
        e2e_ms, net_ms = _median_ms(end_to_end), _median_ms(network)
        case = {"targets": n, "steps": steps, "end_to_end_ms": round(e2e_ms, 3),
                "network_ms": round(net_ms, 3), "end_to_end_fps": round(1000 / e2e_ms, 2),
                "network_fps": round(1000 / net_ms, 2),
                "targets_x_frames_per_s": round(1000 * n / e2e_ms, 2),
                "network_share": round(net_ms / e2e_ms, 3)}
        results["cases"][f"N={n}"] = case
        print(f"tracker  N={n:<3d} end to end {e2e_ms:8.2f} ms/frame ({case['end_to_end_fps']:7.1f} fps, "
              f"{case['targets_x_frames_per_s']:8.1f} targets x frames/s); network {net_ms:8.2f} ms "
              f"({100 * case['network_share']:.0f} % of the step)")
    if not args.no_opencv:
        results["opencv"] = _opencv_goturn_speed(frames, box, steps=args.steps)
        if "N=1" in results["cases"]:
            ratio = results["cases"]["N=1"]["end_to_end_fps"] / results["opencv"]["fps"]
            results["ours_vs_opencv"] = round(ratio, 2)
            print(f"ours / cv2.TrackerGOTURN (N=1, end to end): {ratio:.2f}x")
    return results


def _opencv_goturn_speed(frames, box, steps: int) -> dict:
    """cv2.TrackerGOTURN (OpenCV's own network and loop) with random weights of its
    architecture, saved by pycaffe: the same work per frame as a user of OpenCV gets."""
    import tempfile

    import cv2

    from goturn_caffe.net import load_net
    from goturn_caffe.opencv_goturn import OPENCV_DEPLOY, centre_box_bias

    with tempfile.TemporaryDirectory() as folder:
        weights = Path(folder) / "goturn.caffemodel"
        net = load_net(OPENCV_DEPLOY)
        centre_box_bias(net)
        net.save(str(weights))
        del net
        params = cv2.TrackerGOTURN_Params()
        params.modelTxt, params.modelBin = str(OPENCV_DEPLOY), str(weights)
        tracker = cv2.TrackerGOTURN_create(params)
    first = cv2.imread(str(frames[0]))
    tracker.init(first, tuple(int(v) for v in box.to_xywh()))
    samples = []
    for step in range(2 + steps):
        start = time.perf_counter()
        tracker.update(cv2.imread(str(frames[(step + 1) % len(frames)])))
        if step >= 2:
            samples.append(time.perf_counter() - start)
    ms = _median_ms(samples)
    print(f"cv2.TrackerGOTURN (OpenCV {cv2.__version__}, its own net, random weights): "
          f"{ms:.2f} ms/frame ({1000 / ms:.1f} fps) end to end, {cv2.getNumThreads()} threads")
    return {"ms": round(ms, 3), "fps": round(1000 / ms, 2), "opencv": cv2.__version__}


# ---- data ----------------------------------------------------------------------

def configure_data(parser: argparse.ArgumentParser) -> None:
    from goturn_caffe.paths import REPO_ROOT, shared_data_dir

    shared = shared_data_dir()
    default_alov = shared / "alov" if (shared / "alov").is_dir() else REPO_ROOT / "data" / "sample" / "alov"
    default_det = shared / "det" if (shared / "det").is_dir() else REPO_ROOT / "data" / "sample" / "det"
    parser.add_argument("--alov", default=str(default_alov), help="ALOV root")
    parser.add_argument("--det", default=str(default_det), help="ImageNet DET root")
    parser.add_argument("--pairs", type=int, default=300, help="random pairs read per case")
    parser.add_argument("--batches", type=int, default=6, help="data-layer batches of 50 timed")


def run_data(args) -> dict:
    import tempfile

    import numpy as np

    from goturn_caffe.batches import BatchConfig
    from goturn_caffe.data_layer import BatchMaker
    from goturn_caffe.datasets.lmdb_cache import build_cache
    from goturn_caffe.datasets.read_benchmark import EXAMPLES_PER_PAIR, compare_sources
    from goturn_caffe.datasets.training_set import TrainingSet
    from goturn_caffe.prefetch import Prefetcher

    disk = TrainingSet.from_roots(alov=args.alov, det=args.det)
    results = {"training_set": disk.summary(), "reads": [], "data_layer": {}}
    with tempfile.TemporaryDirectory() as folder:
        build_cache(disk, Path(folder) / "cache.lmdb", progress=False)
        cached = TrainingSet.from_lmdb(Path(folder) / "cache.lmdb")
        for row in compare_sources(disk, cached, num_pairs=args.pairs):
            results["reads"].append(row)
            print(f"data  read {row['kind']:<5s} pairs, {row['workers']} worker(s): files "
                  f"{row['files']:7.1f} pairs/s, LMDB {row['lmdb']:7.1f} pairs/s "
                  f"({row['lmdb_examples']:.0f} examples/s at {EXAMPLES_PER_PAIR} per pair)")
        config = BatchConfig(batch_size=50)
        for workers in (1, 2):
            prefetcher = Prefetcher(BatchMaker(cached, config), 50, (227, 227, 3),
                                    seed=0, workers=workers, depth=2)
            try:
                next(prefetcher)  # workers started and warm
                start = time.perf_counter()
                for _ in range(args.batches):
                    next(prefetcher)
                rate = args.batches * 50 / (time.perf_counter() - start)
            finally:
                prefetcher.close()
            results["data_layer"][f"workers={workers}"] = round(rate, 1)
            print(f"data  layer (LMDB, Laplace crops, batch 50), {workers} worker(s): "
                  f"{rate:7.1f} examples/s")
    return results


# ---- net -------------------------------------------------------------------------

def configure_net(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--forwards", type=int, default=50,
                        help="timed forward passes, batch 1; the median is reported "
                             "(default 50; --repeats is for the microbenchmarks)")
    parser.add_argument("--gpu", type=int, help="GPU id (default: the CPU)")


def run_net(args) -> dict:
    import numpy as np

    from goturn_caffe.caffe_env import select_device
    from goturn_caffe.net import DEPLOY_PROTOTXT, load_net, parameter_count

    select_device(args.gpu)
    net = load_net(DEPLOY_PROTOTXT)  # filler weights: the time does not depend on the values
    rng = np.random.default_rng(0)
    for name in net.inputs:  # crops like the tracker's: mean-subtracted pixels
        net.blobs[name].data[...] = rng.normal(0, 50, net.blobs[name].data.shape)
    forward_ms = time_call(net.forward, max(1, args.forwards), warmup=5) / 1000
    device = f"GPU {args.gpu}" if args.gpu is not None else f"CPU ({os.cpu_count()} cores)"
    results = {"device": device, "batch": 1, "parameters": parameter_count(net),
               "forward_ms": round(forward_ms, 2), "forwards": args.forwards,
               # other jobs on the machine slow the CPU figure down: keep the load beside it
               "load_average_1min": round(os.getloadavg()[0], 2)}
    print(f"net  GOTURN deploy net, {results['parameters']:,} parameters; one forward at batch 1 "
          f"on {device}: {forward_ms:.1f} ms (median of {args.forwards}; load average "
          f"{results['load_average_1min']})")
    return results


# ---- command line ------------------------------------------------------------

COMMANDS = {
    "preprocess": (configure_preprocess, run_preprocess),
    "tracker": (configure_tracker, run_tracker),
    "data": (configure_data, run_data),
    "net": (configure_net, run_net),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    configurers = {name: configure for name, (configure, _) in COMMANDS.items()}
    configurers["all"] = None   # every command, with its defaults
    for name, configure in configurers.items():
        sub = commands.add_parser(name, help=f"see the {name!r} entry above",
                                  description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.add_argument("--repeats", type=int, default=1000,
                         help="timed repetitions per case; the median is reported (default 1000)")
        sub.add_argument("--json", metavar="PATH", help="also write the results as JSON")
        if configure is not None:
            configure(sub)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    names = list(COMMANDS) if args.command == "all" else [args.command]
    results = {}
    for name in names:
        # Each benchmark runs with its own defaults; `all` shares only --repeats.
        command_args = args if name == args.command else parse_args([name, "--repeats", str(args.repeats)])
        results[name] = COMMANDS[name][1](command_args)
    if args.json:
        machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        write_json(args.json, {"machine": machine, "repeats": args.repeats, **results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
