#!/usr/bin/env python
"""Train GOTURN with Caffe's SGD solver and the Python data layer.

Examples:
  python tools/train.py --max-iter 4 --snapshot 2 --output output/try   # bundled sample, CPU
  python tools/train.py --alov ALOV_ROOT --det DET_ROOT --gpu 0 --output output/goturn
  python tools/train.py --alov ALOV --det DET --got10k GOT10K --lasot LASOT --exclude otb,vot ...
  python tools/train.py --lmdb output/cache.lmdb --gpu 0 --output output/goturn --resume
  python tools/train.py --lmdb output/cache.lmdb --gpu 0,1,2,3 --output output/goturn4

The same net also trains with Caffe's stock binary on one GPU: the command is at the end
(the data layer's settings are the param_str of prototxt/goturn_train.prototxt; BVLC's
`caffe train -gpu 0,1` refuses Python layers, hence --gpu 0,1 here: one process per GPU).
"""

import argparse
import os
import sys

from goturn_caffe.cli import command, non_negative_int, positive_float, positive_int
from goturn_caffe.config import AUTHORS
from goturn_caffe.datasets.arguments import add_video_source_arguments, video_selection
from goturn_caffe.fileio import check_not_inputs
from goturn_caffe.model.net import ENGINES, INIT_MODEL
from goturn_caffe.model.netspec import NetOptions
from goturn_caffe.model.solver import stock_caffe_command
from goturn_caffe.train.multi_gpu import parse_gpus


def positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0; got {value!r}")
    return seconds


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Caffe's stock binary, from the repository root:\n"
                                            + stock_caffe_command())
    data = parser.add_argument_group("data (default: the sample bundled in data/sample)")
    data.add_argument("--alov", help="ALOV300++ root (imagedata++/, alov300++_rectangleAnnotation_full/)")
    data.add_argument("--det", help="ImageNet DET root (ILSVRC2014 or ILSVRC2015 layout)")
    data.add_argument("--otb", help="OTB sequence(s), used as extra training videos")
    data.add_argument("--lmdb", help="LMDB cache built by `make data` (instead of the roots)")
    add_video_source_arguments(data)  # --got10k, --lasot, --trackingnet, --exclude ...
    data.add_argument("--mix", choices=["alternate", "videos", "images"], default="alternate",
                      help="still image / video pair alternation (default: the authors')")
    data.add_argument("--augmented-per-pair", type=non_negative_int, default=10, help="k3 (default 10)")
    data.add_argument("--uniform-crops", action="store_true",
                      help="uniform instead of Laplace crop motion (ablation)")
    data.add_argument("--workers", type=non_negative_int,
                      help="data worker processes (default: CPUs - 1; 0: none, build in-process)")
    data.add_argument("--seed", type=non_negative_int, default=AUTHORS.seed, help="data seed (default %(default)s)")
    run = parser.add_argument_group("run")
    run.add_argument("--output", default="output/train", help="run folder (default output/train)")
    run.add_argument("--max-iter", type=positive_int, default=AUTHORS.max_iter, help="iterations (default %(default)s)")
    run.add_argument("--snapshot", type=non_negative_int, default=AUTHORS.snapshot,
                     help="snapshot every N iterations (default %(default)s; 0: only at the end)")
    run.add_argument("--max-seconds", type=positive_seconds, metavar="S",
                     help="stop the solver loop after S seconds of stepping (before --max-iter if "
                          "that comes first), with the usual final snapshot; summary.json's "
                          "stop_reason says which limit ended the run")
    run.add_argument("--resume", action="store_true", help="continue from the newest snapshot in --output")
    run.add_argument("--gpu", help="GPU id (default: CPU), or several (0,1,...) for NCCL data "
                                   "parallelism: one process per GPU, each batch-size examples "
                                   "per iteration, gradients averaged (needs a NCCL build)")
    run.add_argument("--nccl", action="store_true",
                     help="train through Caffe's NCCL group even with one --gpu (a 1-rank group: "
                          "checks the NCCL path on a one-GPU machine)")
    run.add_argument("--init", help="initial weights (default models/goturn_init.caffemodel if present)")
    run.add_argument("--batch-size", type=positive_int, default=AUTHORS.batch_size)
    run.add_argument("--base-lr", type=positive_float,
                     help="base learning rate (default the authors' 1e-6)")
    run.add_argument("--train-conv", action="store_true",
                     help="train the convolutions too (when no ImageNet weights are available)")
    run.add_argument("--dedup-targets", action=argparse.BooleanOptionalAction, default=None,
                     help="run the target stream once per distinct target crop of a batch (about "
                          "5 of 50) and share its pool5; default: on with frozen convolutions, "
                          "where the result is exactly the plain net's, off with --train-conv")
    run.add_argument("--engine", choices=ENGINES, default="default",
                     help="Caffe's layer implementations for the training net: default (cuDNN "
                          "where built with it), caffe (im2col + GEMM), cudnn (needs --gpu)")
    run.add_argument("--no-progress", action="store_true",
                     help=f"no progress bar: a loss line every {AUTHORS.display} iterations")
    return parser.parse_args(argv)


@command
def main(argv=None) -> int:
    args = parse_args(argv)
    from goturn_caffe.train.training import RUN_FILES, SKIPPED_LIST, TrainConfig, train

    check_not_inputs({"--output": [os.path.join(args.output, name) for name in (*RUN_FILES, SKIPPED_LIST)]},
                     [args.init or INIT_MODEL, args.lmdb, args.alov, args.det, args.otb])

    data = {k: v for k, v in dict(alov=args.alov, det=args.det, otb=args.otb, lmdb=args.lmdb,
                                  workers=args.workers).items() if v is not None}
    data.update({k: list(v) if isinstance(v, tuple) else v
                 for k, v in video_selection(args).items() if v})
    data.update(mix=args.mix, augmented_per_pair=args.augmented_per_pair,
                smooth_motion=not args.uniform_crops, seed=args.seed)
    gpus = parse_gpus(args.gpu) if args.gpu is not None else []
    config = TrainConfig(output=args.output, max_iter=args.max_iter, snapshot=args.snapshot,
                         gpu=gpus[0] if len(gpus) == 1 and not args.nccl else None,
                         gpus=gpus if len(gpus) > 1 or args.nccl else [], nccl=args.nccl,
                         max_seconds=args.max_seconds,
                         resume=args.resume, init=args.init, base_lr=args.base_lr,
                         engine=args.engine,
                         net=NetOptions(batch_size=args.batch_size, train_conv=args.train_conv),
                         dedup_targets=args.dedup_targets,
                         data=data)
    summary = train(config, progress=not args.no_progress)
    print(f"trained {summary['iterations']} iterations (now at {summary['final_iter']}): "
          f"loss {summary['loss_first']:.4g} -> {summary['loss_last']:.4g}, "
          f"{summary['seconds_per_iter']:.2f} s/iter, {summary['examples_per_s']:.1f} examples/s; "
          f"model {summary['model']}; loss curve {summary['loss_png'] or summary['loss_csv']}"
          + (f"; stopped by --max-seconds {args.max_seconds:g}"
             if summary["stop_reason"] == "max_seconds" else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
