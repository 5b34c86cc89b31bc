#!/usr/bin/env python
"""Make GOTURN's initial weights, models/goturn_init.caffemodel (`make weights`).

ImageNet CaffeNet's conv1..conv5 go into both streams of the GOTURN net
(conv1..conv5 and conv1_p..conv5_p); the fc layers are drawn from their
fillers.  This replaces the authors' tracker_init.caffemodel, whose link is
dead.  CaffeNet (bvlc_reference_caffenet.caffemodel, 233 MB) is downloaded
from the Caffe model zoo into a cache and checked against its published
SHA-1, or taken from --caffenet PATH (checked too, unless --no-verify).

Examples:
  python tools/make_init_weights.py
  python tools/make_init_weights.py --caffenet ~/Downloads/bvlc_reference_caffenet.caffemodel
  make weights ARGS='--caffenet /data/bvlc_reference_caffenet.caffemodel'
"""

import argparse
import sys
from pathlib import Path

from goturn_caffe.cli import command
from goturn_caffe.fileio import check_not_inputs
from goturn_caffe.model.init_weights import (
    CAFFENET_FILENAME,
    CAFFENET_SHA1,
    CAFFENET_URL,
    DEFAULT_SEED,
    default_cache_dir,
    download_caffenet,
    make_init_weights,
    verify_sha1,
)
from goturn_caffe.model.net import DEPLOY_PROTOTXT, INIT_MODEL, ModelError
from goturn_caffe.paths import REPO_ROOT


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--caffenet", metavar="PATH",
                        help="a local bvlc_reference_caffenet.caffemodel (default: download it)")
    parser.add_argument("--no-verify", action="store_true",
                        help=f"with --caffenet: use the file even if its SHA-1 is not the "
                             f"published {CAFFENET_SHA1[:12]}... (a warning is printed)")
    parser.add_argument("--cache", metavar="DIR", default=str(default_cache_dir()),
                        help="download cache (default %(default)s; $GOTURN_CAFFE_CACHE/models)")
    parser.add_argument("--url", default=CAFFENET_URL, help="where to download CaffeNet from "
                        "(default: the Caffe model zoo)")
    parser.add_argument("--output", default=str(INIT_MODEL),
                        help=f"initial weights to write (default {INIT_MODEL.relative_to(REPO_ROOT)})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help="Caffe random seed of the fc layers' fillers (default %(default)s)")
    args = parser.parse_args(argv)
    if args.no_verify and not args.caffenet:
        parser.error("--no-verify applies to --caffenet only; a download is always verified")
    return args


def caffenet_file(args) -> Path:
    """The CaffeNet model to take the convolutions from, verified unless --no-verify."""
    if not args.caffenet:
        return download_caffenet(args.cache, args.url)
    path = Path(args.caffenet)
    if not path.is_file():
        raise ModelError(f"{path}: no such file (--caffenet)")
    if args.no_verify:
        print(f"make_init_weights.py: warning: not checking the SHA-1 of {path}; it must have "
              "CaffeNet's conv1..conv5", file=sys.stderr)
        return path
    try:
        verify_sha1(path)
    except ModelError as exc:
        raise ModelError(f"{exc}; --no-verify uses it anyway") from None
    return path


@command
def main(argv=None) -> int:
    args = parse_args(argv)
    check_not_inputs({"--output": args.output},
                     [args.caffenet or Path(args.cache) / CAFFENET_FILENAME, DEPLOY_PROTOTXT])
    caffenet = caffenet_file(args)
    output = make_init_weights(caffenet, args.output, seed=args.seed)
    print(f"wrote {output}: conv1..conv5 of {caffenet} in both streams, fc layers from their "
          f"fillers (seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
