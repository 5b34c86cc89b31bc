#!/usr/bin/env python
"""Speed benchmarks of goturn-caffe, one subcommand per stage.

  preprocess  crop + resize + preprocess of one target/search pair from a
              synthetic 1280x720 frame (what the tracker does per frame
              before the forward pass); microseconds per pair, median of
              repeats, writing into preallocated arrays as the tracker
              should, and allocating fresh arrays for comparison.
  tracker     the tracker loop with pycaffe on --gpu N or the CPU, per Caffe
              engine (--engine caffe,cudnn): the tracker's step (crop +
              preprocess + forward + box) split into its network and
              preprocessing shares, and the JPEG decode beside it; median
              per frame after warm-up, N = 1, 8, 32 targets, beside
              cv2.TrackerGOTURN and the paper's figures.
  data        random-access reads of training pairs (files vs LMDB cache)
              and examples/s of the data layer with 1 and 2 workers.
  net         the GOTURN deploy net alone (prototxt/goturn_deploy.prototxt,
              random weights): parameter count, and the median time of one
              pycaffe forward pass (with and without copying the inputs in)
              per batch size and engine, on the CPU (or --gpu N).
  train       solver throughput: iterations/s of the training net fed by the
              Python data layer and its workers, against the same net fed
              from memory (the bare net), and the examples/s the data layer
              produces on its own: does the data keep up with the solver?
  all         every benchmark above with its defaults (`make bench`).

Each subcommand prints one line per case and can write the results as JSON
(--json PATH).  New stages add a (configure, run) entry to COMMANDS.

Examples:
  python tools/benchmark.py preprocess
  python tools/benchmark.py preprocess --repeats 2000 --json output/bench_preprocess.json
  python tools/benchmark.py tracker --gpu 0 --engine caffe,cudnn --steps 200
  python tools/benchmark.py net --gpu 0 --engine caffe,cudnn --batches 1,32 --forwards 200
  python tools/benchmark.py train --gpu 0 --train-conv --iterations 50
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


def engines_arg(value: str) -> list:
    """``--engine a,b`` -> a checked list of goturn_caffe.net.ENGINES."""
    from goturn_caffe.net import ENGINES

    engines = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or not engines:
        raise argparse.ArgumentTypeError(f"engines must be from {', '.join(ENGINES)}; got {value!r}")
    return engines


def ints_arg(value: str) -> list:
    try:
        numbers = [int(v) for v in value.split(",")]
    except ValueError:
        numbers = []
    if not numbers or min(numbers) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers like 1,8,32; got {value!r}")
    return numbers


def add_engine_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", type=engines_arg, default=["default"],
                        help="Caffe engines to compare, comma-separated: default (cuDNN in a "
                             "cuDNN build), caffe (im2col + GEMM), cudnn (default: default)")


def device_name(gpu) -> str:
    return f"GPU {gpu}" if gpu is not None else f"CPU ({os.cpu_count()} cores)"


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
    add_engine_option(parser)
    parser.add_argument("--targets", type=ints_arg, default=[1, 8, 32],
                        help="batch sizes N (default 1,8,32)")
    parser.add_argument("--steps", type=int, default=20,
                        help="timed frames at N=1 (on the CPU fewer for larger N)")
    parser.add_argument("--no-opencv", action="store_true", help="skip cv2.TrackerGOTURN")


def _median_ms(samples) -> float:
    return 1000 * statistics.median(samples)


def _time_steps(tracker, frames, steps: int, warmup: int = 2) -> dict:
    """Seconds per tracker step (crop + preprocess + forward + box) and its parts,
    over the decoded ``frames`` in turn."""
    samples = {"step": [], "network": [], "preprocess": []}
    for step in range(warmup + steps):
        frame = frames[(step + 1) % len(frames)]
        start = time.perf_counter()
        tracker.update([frame] * tracker.size)
        if step >= warmup:
            samples["step"].append(time.perf_counter() - start)
            samples["network"].append(tracker.last_timing["network"])
            samples["preprocess"].append(tracker.last_timing["preprocess"])
    return samples


def _jpeg_decode_ms(paths) -> float:
    """Median cv2.imread of the sequence's frames: what reading a video adds per frame."""
    import cv2

    samples = []
    for path in paths:
        start = time.perf_counter()
        cv2.imread(str(path))
        samples.append(time.perf_counter() - start)
    return _median_ms(samples)


def run_tracker(args) -> dict:
    import cv2

    from goturn_caffe.caffe_env import select_device
    from goturn_caffe.net import DEPLOY_PROTOTXT, check_engine, load_net
    from goturn_caffe.sequences import open_sequence
    from goturn_caffe.tracker import BatchedTracker

    for engine in args.engine:
        check_engine(engine, args.gpu)
    select_device(args.gpu)
    sequence = open_sequence(args.sequence)
    paths = sequence.frame_paths
    frames = [cv2.imread(str(path)) for path in paths]  # decoded once: the step is timed alone
    box = sequence.ground_truth[0]
    device = device_name(args.gpu)
    read_ms = _jpeg_decode_ms(paths)
    results = {"device": device, "sequence": sequence.name, "jpeg_decode_ms": round(read_ms, 3),
               "cases": {}}
    print(f"tracker on {device}, {sequence.name} ({frames[0].shape[1]}x{frames[0].shape[0]}, "
          f"JPEG decode {read_ms:.2f} ms/frame, not in the step); {PAPER_FPS}")
    for engine in args.engine:
        net = load_net(DEPLOY_PROTOTXT, args.weights, engine=engine)
        for n in args.targets:
            tracker = BatchedTracker(net)
            tracker.init([frames[0]] * n, [box] * n)
            steps = max(3, args.steps // n) if args.gpu is None else args.steps
            samples = _time_steps(tracker, frames, steps)
            step_ms, net_ms, prep_ms = (_median_ms(samples[k])
                                        for k in ("step", "network", "preprocess"))
            case = {"engine": engine, "targets": n, "steps": steps,
                    "end_to_end_ms": round(step_ms, 4), "network_ms": round(net_ms, 4),
                    "preprocess_ms": round(prep_ms, 4),
                    "end_to_end_fps": round(1000 / step_ms, 3), "network_fps": round(1000 / net_ms, 3),
                    "targets_x_frames_per_s": round(1000 * n / step_ms, 3),
                    "with_jpeg_decode_fps": round(1000 / (step_ms + n * read_ms), 3),
                    # shares of the time spent: totals, so that the parts add up
                    # (medians of the parts need not add up to the median step)
                    "network_share": round(sum(samples["network"]) / sum(samples["step"]), 3),
                    "preprocess_share": round(sum(samples["preprocess"]) / sum(samples["step"]), 3)}
            results["cases"][f"{engine} N={n}"] = case
            print(f"tracker  {engine:<7s} N={n:<3d} step {step_ms:8.3f} ms ({case['end_to_end_fps']:8.1f} "
                  f"fps, {case['targets_x_frames_per_s']:9.1f} targets x frames/s): network "
                  f"{net_ms:.3f} ms ({100 * case['network_share']:.1f} %), crop + preprocess "
                  f"{prep_ms:.3f} ms ({100 * case['preprocess_share']:.1f} %); "
                  f"{case['with_jpeg_decode_fps']:.1f} fps with JPEG decode")
        del net
    if not args.no_opencv:
        results["opencv"] = _opencv_goturn_speed(frames, box, steps=args.steps)
        first_n1 = next((c for c in results["cases"].values() if c["targets"] == 1), None)
        if first_n1 is not None:
            ratio = first_n1["end_to_end_fps"] / results["opencv"]["fps"]
            results["ours_vs_opencv"] = round(ratio, 2)
            print(f"ours ({first_n1['engine']}) / cv2.TrackerGOTURN (N=1, tracker step, frames "
                  f"decoded beforehand for both): {ratio:.2f}x")
    return results


def _opencv_goturn_speed(frames, box, steps: int) -> dict:
    """cv2.TrackerGOTURN (OpenCV's own network and loop) with random weights of its
    architecture, saved by pycaffe: the same work per frame as a user of OpenCV gets
    (``frames``: decoded images)."""
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
    tracker.init(frames[0], tuple(int(v) for v in box.to_xywh()))
    samples = []
    for step in range(2 + steps):
        frame = frames[(step + 1) % len(frames)]
        start = time.perf_counter()
        tracker.update(frame)
        if step >= 2:
            samples.append(time.perf_counter() - start)
    ms = _median_ms(samples)
    print(f"cv2.TrackerGOTURN (OpenCV {cv2.__version__}, its own net, random weights, CPU): "
          f"{ms:.2f} ms/frame ({1000 / ms:.1f} fps) per update, {cv2.getNumThreads()} threads")
    return {"ms": round(ms, 3), "fps": round(1000 / ms, 2), "opencv": cv2.__version__}


# ---- data ----------------------------------------------------------------------

def add_dataset_options(parser: argparse.ArgumentParser) -> None:
    from goturn_caffe.paths import REPO_ROOT, shared_data_dir

    shared = shared_data_dir()
    default_alov = shared / "alov" if (shared / "alov").is_dir() else REPO_ROOT / "data" / "sample" / "alov"
    default_det = shared / "det" if (shared / "det").is_dir() else REPO_ROOT / "data" / "sample" / "det"
    parser.add_argument("--alov", default=str(default_alov),
                        help="ALOV root (default: ../shared/data/alov, else the bundled sample)")
    parser.add_argument("--det", default=str(default_det),
                        help="ImageNet DET root (default: ../shared/data/det, else the bundled sample)")


def configure_data(parser: argparse.ArgumentParser) -> None:
    add_dataset_options(parser)
    parser.add_argument("--pairs", type=int, default=300, help="random pairs read per case")
    parser.add_argument("--batches", type=int, default=6, help="data-layer batches of 50 timed")


def data_layer_rate(training_set, batch_size: int, workers: int, batches: int) -> float:
    """Examples/s the data layer's workers deliver when nothing else waits on them
    (Laplace crops, the authors' mix), after one warm-up batch."""
    from goturn_caffe.batches import BatchConfig
    from goturn_caffe.data_layer import BatchMaker
    from goturn_caffe.prefetch import Prefetcher
    from goturn_caffe.preprocess import INPUT_SIZE

    config = BatchConfig(batch_size=batch_size)
    prefetcher = Prefetcher(BatchMaker(training_set, config), batch_size,
                            (INPUT_SIZE, INPUT_SIZE, 3), seed=0, workers=workers, depth=2)
    try:
        next(prefetcher)  # workers started and warm
        start = time.perf_counter()
        for _ in range(batches):
            next(prefetcher)
        return batches * batch_size / (time.perf_counter() - start)
    finally:
        prefetcher.close()


def run_data(args) -> dict:
    import tempfile

    from goturn_caffe.datasets.lmdb_cache import build_cache
    from goturn_caffe.datasets.read_benchmark import EXAMPLES_PER_PAIR, compare_sources
    from goturn_caffe.datasets.training_set import TrainingSet

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
        for workers in (1, 2):
            rate = data_layer_rate(cached, 50, workers, args.batches)
            results["data_layer"][f"workers={workers}"] = round(rate, 1)
            print(f"data  layer (LMDB, Laplace crops, batch 50), {workers} worker(s): "
                  f"{rate:7.1f} examples/s")
    return results


# ---- net -------------------------------------------------------------------------

def configure_net(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--forwards", type=int, default=50,
                        help="timed forward passes per case; the median is reported "
                             "(default 50; --repeats is for the microbenchmarks)")
    parser.add_argument("--gpu", type=int, help="GPU id (default: the CPU)")
    parser.add_argument("--batches", type=ints_arg, default=[1],
                        help="batch sizes, comma-separated (default 1)")
    add_engine_option(parser)


def run_net(args) -> dict:
    import numpy as np

    from goturn_caffe.caffe_env import select_device
    from goturn_caffe.net import DEPLOY_PROTOTXT, check_engine, load_net, parameter_count

    for engine in args.engine:
        check_engine(engine, args.gpu)
    select_device(args.gpu)
    device = device_name(args.gpu)
    # other jobs on the machine slow the CPU figure down: keep the load beside it
    results = {"device": device, "forwards": args.forwards, "cases": {},
               "load_average_1min": round(os.getloadavg()[0], 2)}
    rng = np.random.default_rng(0)
    for engine in args.engine:
        net = load_net(DEPLOY_PROTOTXT, engine=engine)  # filler weights: time does not depend on them
        results["parameters"] = parameter_count(net)
        for batch in args.batches:
            # crops like the tracker's: mean-subtracted pixels, made on the host
            inputs = {name: rng.normal(0, 50, (batch,) + net.blobs[name].data.shape[1:]).astype(np.float32)
                      for name in net.inputs}
            for name, array in inputs.items():
                net.blobs[name].reshape(*array.shape)
                net.blobs[name].data[...] = array
            net.reshape()

            def forward_with_copy():
                for name, array in inputs.items():  # host -> blob; on a GPU the upload is in forward
                    net.blobs[name].data[...] = array
                net.forward()

            forward_ms = time_call(net.forward, max(1, args.forwards), warmup=5) / 1000
            copy_ms = time_call(forward_with_copy, max(1, args.forwards), warmup=5) / 1000
            case = {"engine": engine, "batch": batch, "forward_ms": round(forward_ms, 3),
                    "forward_with_input_copy_ms": round(copy_ms, 3)}
            results["cases"][f"{engine} batch={batch}"] = case
            print(f"net  {engine:<7s} batch {batch:<3d} forward {forward_ms:8.3f} ms, with the "
                  f"input arrays copied in {copy_ms:8.3f} ms (median of {args.forwards}) on {device}")
        del net
    print(f"net  GOTURN deploy net, {results['parameters']:,} parameters; load average "
          f"{results['load_average_1min']}")
    return results


# ---- train -----------------------------------------------------------------------

def configure_train(parser: argparse.ArgumentParser) -> None:
    add_dataset_options(parser)
    parser.add_argument("--gpu", type=int, help="GPU id (default: the CPU)")
    parser.add_argument("--engine", type=engines_arg, default=["default"],
                        help="one Caffe engine for the training net (default: default)")
    parser.add_argument("--batch-size", type=int, default=50, help="examples per iteration (default 50)")
    parser.add_argument("--iterations", type=int, default=3,
                        help="timed solver iterations per case after 2 warm-up ones (default 3; "
                             "use 50+ on a GPU)")
    parser.add_argument("--workers", type=int, help="data-layer workers (default: CPUs - 1, at least 2)")
    parser.add_argument("--train-conv", action="store_true",
                        help="convolutions trainable too (training without ImageNet weights)")


def _step_seconds(solver, iterations: int) -> list:
    """Seconds of each of ``iterations`` solver iterations (warm the solver up first)."""
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        solver.step(1)
        samples.append(time.perf_counter() - start)
    return samples


def _solver(caffe, folder: Path, name: str, net_param, gpu) -> object:
    """An SGDSolver with the authors' settings over ``net_param``, written into ``folder``."""
    from goturn_caffe.netspec import build_solver

    net_path = folder / f"{name}_net.prototxt"
    net_path.write_text(str(net_param))
    solver = build_solver(str(net_path), str(folder / name), max_iter=10 ** 8, snapshot=0, display=0)
    solver.snapshot_after_train = False
    solver.solver_mode = solver.GPU if gpu is not None else solver.CPU
    solver_path = folder / f"{name}_solver.prototxt"
    solver_path.write_text(str(solver))
    return caffe.SGDSolver(str(solver_path))


def run_train(args) -> dict:
    import tempfile

    import numpy as np

    from goturn_caffe.caffe_env import select_device
    from goturn_caffe.data_layer import default_workers
    from goturn_caffe.datasets.training_set import TrainingSet
    from goturn_caffe.net import check_engine, set_engine
    from goturn_caffe.netspec import NetOptions, build_net

    if len(args.engine) != 1:
        raise ValueError("train takes one --engine")
    engine = args.engine[0]
    check_engine(engine, args.gpu)
    caffe = select_device(args.gpu)
    workers = args.workers or default_workers()
    batch = args.batch_size
    data = {"alov": args.alov, "det": args.det, "workers": workers, "seed": 800}
    device = device_name(args.gpu)
    results = {"device": device, "engine": engine, "batch_size": batch, "workers": workers,
               "train_conv": args.train_conv, "iterations": args.iterations}
    with tempfile.TemporaryDirectory() as folder:
        # The bare net: the same training net fed from memory (Input layers).
        bare_param = build_net(NetOptions(batch_size=batch, train_conv=args.train_conv),
                               train=True, python_data=False)
        set_engine(bare_param, engine)
        solver = _solver(caffe, Path(folder), "bare", bare_param, args.gpu)
        rng = np.random.default_rng(0)
        for name in ("target", "image"):
            solver.net.blobs[name].data[...] = rng.normal(0, 50, solver.net.blobs[name].data.shape)
        solver.net.blobs["bbox"].data[...] = rng.uniform(2, 8, solver.net.blobs["bbox"].data.shape)
        solver.step(2)  # warm-up
        bare_s = statistics.median(_step_seconds(solver, args.iterations))
        del solver

        fed_param = build_net(NetOptions(batch_size=batch, train_conv=args.train_conv,
                                         data_params=dict(data, batch_size=batch)), train=True)
        set_engine(fed_param, engine)
        solver = _solver(caffe, Path(folder), "fed", fed_param, args.gpu)
        layer = solver.net.layers[0]
        try:
            solver.step(2)  # warm-up: workers started, caches warm
            waited_before = layer.wait_seconds
            samples = _step_seconds(solver, args.iterations)
            fed_s = statistics.median(samples)
            wait_share = (layer.wait_seconds - waited_before) / sum(samples)
        finally:
            layer.batch_source.close()
        del solver

    produced = data_layer_rate(TrainingSet.from_roots(alov=args.alov, det=args.det), batch,
                               workers, max(2, args.iterations))
    consumed = batch / bare_s
    results.update({
        "bare_s_per_iter": round(bare_s, 5), "bare_examples_per_s": round(consumed, 3),
        "with_data_layer_s_per_iter": round(fed_s, 5),
        "with_data_layer_examples_per_s": round(batch / fed_s, 3),
        "solver_waiting_for_data_share": round(wait_share, 3),
        "data_layer_examples_per_s": round(produced, 3),
        "data_keeps_up": produced >= consumed})
    plural = "s" if workers != 1 else ""
    print(f"train  {device}, engine {engine}, batch {batch}, {workers} data worker{plural}"
          f"{', convolutions trainable' if args.train_conv else ''}:")
    print(f"train  bare net (inputs in memory): {bare_s * 1000:9.1f} ms/iteration = "
          f"{consumed:8.1f} examples/s consumed")
    print(f"train  with the Python data layer:  {fed_s * 1000:9.1f} ms/iteration = "
          f"{batch / fed_s:8.1f} examples/s ({100 * wait_share:.0f} % of it waiting for data)")
    print(f"train  data layer alone: {produced:8.1f} examples/s produced -> "
          f"{'keeps up' if produced >= consumed else 'does NOT keep up'} with the bare solver")
    return results


# ---- command line ------------------------------------------------------------

COMMANDS = {
    "preprocess": (configure_preprocess, run_preprocess),
    "tracker": (configure_tracker, run_tracker),
    "data": (configure_data, run_data),
    "net": (configure_net, run_net),
    "train": (configure_train, run_train),
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
        try:
            results[name] = COMMANDS[name][1](command_args)
        except (ValueError, ImportError) as exc:  # bad engine/device/data, no pycaffe: one line
            print(f"benchmark.py {name}: {exc}", file=sys.stderr)
            return 2
    if args.json:
        machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        write_json(args.json, {"machine": machine, "repeats": args.repeats, **results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
