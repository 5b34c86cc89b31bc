#!/usr/bin/env python
"""Run one or more of the paper's experiments: train the variant, score it with
the VOT protocol, and print/write a table beside the paper's Table 1.

EXPERIMENTS: full, l2_loss, uniform_crops, images_only, videos_only,
current_frame_only, fc_layers=2|3|4, train_videos=N, augmented_per_batch=K.

Examples:
  python tools/ablation.py full l2_loss --max-iter 20000 --gpu 0 --alov A --det D --dataset VOT2014
  python tools/ablation.py l2_loss --max-iter 2 --batch-size 11      # toy scale, CPU, bundled data
  make ablation EXP=l2_loss ARGS="--max-iter 2 --batch-size 11"

Each run records its full configuration, seed and results in
OUTPUT/<experiment>/result.json; the table goes to OUTPUT/table.md.
"""

import argparse
import sys
from pathlib import Path

from goturn_caffe.cli import command, prefixed
from goturn_caffe.config import AUTHORS
from goturn_caffe.fileio import check_not_inputs, write_text_atomic
from goturn_caffe.paths import OUTPUT_DIR, default_vot_dataset


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiments", nargs="+", help="experiment names (see above)")
    parser.add_argument("--output", default=str(OUTPUT_DIR / "ablation"))
    parser.add_argument("--dataset", default=str(default_vot_dataset()), help="VOT-format folder to score on")
    parser.add_argument("--sequences", help="comma-separated subset of the dataset's sequences")
    parser.add_argument("--alov", help="ALOV300++ root (default: the bundled sample)")
    parser.add_argument("--det", help="ImageNet DET root (default: the bundled sample)")
    parser.add_argument("--lmdb", help="LMDB cache instead of the roots")
    parser.add_argument("--max-iter", type=int, default=AUTHORS.max_iter)
    parser.add_argument("--batch-size", type=int, default=AUTHORS.batch_size)
    parser.add_argument("--base-lr", type=float)
    parser.add_argument("--seed", type=int, default=AUTHORS.seed)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--train-conv", action="store_true", help="train the convolutions too")
    parser.add_argument("--gpu", type=int)
    return parser.parse_args(argv)


@command
def main(argv=None) -> int:
    args = parse_args(argv)
    from dataclasses import replace

    from goturn_caffe.ablation import parse_ablation, results_table, run_ablation
    from goturn_caffe.datasets.vot import load_vot

    experiments = [parse_ablation(name, args.batch_size) for name in args.experiments]
    if args.train_conv:
        experiments = [replace(e, net=replace(e.net, train_conv=True)) for e in experiments]
    data = {k: v for k, v in dict(alov=args.alov, det=args.det, lmdb=args.lmdb, seed=args.seed,
                                  workers=args.workers).items() if v is not None}
    train_config = {"max_iter": args.max_iter, "snapshot": 0, "base_lr": args.base_lr, "data": data}
    output = Path(args.output)
    sequences = args.sequences.split(",") if args.sequences else None
    load_vot(args.dataset, sequences)   # a bad --dataset or --sequences fails before any training
    check_not_inputs({"--output": output / "table.md"}, [args.dataset, args.alov, args.det, args.lmdb])
    rows = []
    for experiment in experiments:
        with prefixed(experiment.name):
            rows.append(run_ablation(experiment, output, train_config, args.dataset,
                                     sequences=sequences, gpu=args.gpu))
    table = results_table(rows)
    write_text_atomic(output / "table.md", table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
