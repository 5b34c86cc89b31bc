"""What the benchmarks share: timing, option types, the device's name."""

from __future__ import annotations

import argparse
import os
import statistics
import time


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


def median_ms(samples) -> float:
    """Median of ``samples`` (seconds) in milliseconds."""
    return 1000 * statistics.median(samples)


def engines_arg(value: str) -> list:
    """``--engine a,b`` -> a checked list of goturn_caffe.model.net.ENGINES."""
    from goturn_caffe.model.net import ENGINES

    engines = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or not engines:
        raise argparse.ArgumentTypeError(f"engines must be from {', '.join(ENGINES)}; got {value!r}")
    return engines


def backends_arg(value: str) -> list:
    """``--backend caffe,onnxruntime`` -> a checked list of the tracking backends."""
    from goturn_caffe.model.onnx_backend import BACKENDS

    backends = [v.strip() for v in value.split(",") if v.strip()]
    if not backends or any(b not in BACKENDS for b in backends):
        raise argparse.ArgumentTypeError(f"backends must be from {', '.join(BACKENDS)}; got {value!r}")
    return backends


def ints_arg(value: str) -> list:
    """``1,8,32`` -> [1, 8, 32] (positive integers)."""
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


def dataset_roots(args) -> dict:
    """The training-set roots the dataset options name (``--alov``/``--det``/``--otb``,
    without those ``--no-alov``/``--no-det`` turn off)."""
    roots = {"alov": None if args.no_alov else args.alov, "det": None if args.no_det else args.det,
             "otb": args.otb}
    return {name: root for name, root in roots.items() if root is not None}


def sequence_files(path) -> list:
    """Every file of the tracking input ``path`` (frames, ground truth; or the video)."""
    from goturn_caffe.track.sequences import open_sequence

    return list(open_sequence(path).input_files)


def stage_inputs(stage, args) -> list:
    """The files and folders a stage's run reads (its ``inputs(args)``; none when it has
    no such function): what its ``--json`` may not overwrite."""
    inputs = getattr(stage, "inputs", None)
    return list(inputs(args)) if inputs is not None else []
