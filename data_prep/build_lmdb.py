#!/usr/bin/env python
"""Build the LMDB training cache (``make data``).

Stores every image training reads (annotated ALOV300++ frames, ImageNet DET
still images, the visible frames of GOT-10k, LaSOT and TrackingNet training
videos, optional OTB videos), verified to decode, with the annotation index.
Writes into a hidden partial folder beside <out> and renames it to <out> only
when complete; re-running after an interruption resumes, skipping
the finished images.
Train from it with ``tools/train.py --lmdb <out>``.
"""

from __future__ import annotations

import argparse
import sys

from goturn_caffe.cli import command
from goturn_caffe.datasets.arguments import add_dataset_arguments, training_set_from_args
from goturn_caffe.datasets.lmdb_cache import build_cache
from goturn_caffe.datasets.training_set import TrainingSet
from goturn_caffe.fileio import check_not_inputs
from goturn_caffe.paths import OUTPUT_DIR


@command
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataset_arguments(parser)
    parser.add_argument("--out", "--output", dest="out", default=str(OUTPUT_DIR / "cache.lmdb"),
                        help="cache directory to write (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=1, help="processes decoding images (default: 1)")
    parser.add_argument("--force", action="store_true", help="rebuild even if --out is already complete")
    parser.add_argument("--show", type=int, default=5, metavar="N",
                        help="skipped entries listed per reason (0 = all; default: 5)")
    args = parser.parse_args(argv)
    check_not_inputs({"--out": args.out}, [args.alov, args.det, args.otb])
    build = build_cache(training_set_from_args(args), args.out, args.workers, args.force)
    cached = TrainingSet.from_lmdb(build.path)
    if build.up_to_date:
        print(f"{build.path} is already complete (use --force to rebuild)")
    else:
        print(f"{build.path}: wrote {build.written} images, reused {build.reused} from an earlier run")
        if len(build.report):
            print(build.report.details(args.show))
    print(cached.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
