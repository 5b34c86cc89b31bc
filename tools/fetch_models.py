#!/usr/bin/env python
"""Download the published models (`make model`).

  opencv-goturn  OpenCV's trained GOTURN (opencv_extra, pinned commit): a zip in
                 four parts (360 MB), joined, CRC-checked and load-checked against
                 OpenCV's architecture, then written to MODELS_DIR/opencv/
                 goturn.caffemodel + goturn.prototxt.  Track with it:
                 python tools/track.py INPUT --model-format opencv
                   --deploy models/opencv/goturn.prototxt --weights models/opencv/goturn.caffemodel
  caffenet       ImageNet CaffeNet (Caffe model zoo, 233 MB, SHA-1 checked) into the
                 download cache, where `make weights` finds it; --init-weights then
                 writes MODELS_DIR/goturn_init.caffemodel from it (`make model` does).
  all            both (the default).

Every file is pinned by size and by each digest known of it (SHA-1, SHA-256;
OpenCV's zip parts by size, their zip CRCs and the load check only, as no digest
of them is published); a file that differs is deleted and named with both
values.  OpenCV's goturn.prototxt must also parse as OpenCV's architecture.
A server that sends less than 64 KiB within --timeout seconds is given up on.  Downloads resume where they
stopped, and nothing partial or unchecked is ever left under MODELS_DIR.
Without network access each missing file is listed, one line each, with its
URL and the path to put it at by hand; run the command again afterwards.
--list prints that table without downloading.

Examples:
  python tools/fetch_models.py
  python tools/fetch_models.py opencv-goturn --mirror https://my-proxy.example/goturn
  make model ARGS='caffenet --no-progress'
"""

import argparse
import sys
from pathlib import Path

from goturn_caffe.caffe_env import CaffeUnavailable
from goturn_caffe.cli import command
from goturn_caffe.model.fetch import (
    ALL,
    DIGEST_LABELS,
    MIRROR_ENV,
    MODELS,
    NotDownloaded,
    default_cache_dir,
    fetch_model,
    file_url,
    opencv_model_files,
    resolve_mirror,
)
from goturn_caffe.model.net import INIT_MODEL, MODELS_DIR, ModelError

PROG = "fetch_models.py"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME", default=[ALL],
                        help=f"models to get: {', '.join(MODELS)} or {ALL} (default {ALL})")
    parser.add_argument("--models-dir", default=str(MODELS_DIR),
                        help="where OpenCV's model and goturn_init.caffemodel go (default %(default)s)")
    parser.add_argument("--cache", default=str(default_cache_dir()),
                        help="download cache, also CaffeNet's place (default %(default)s; "
                             "$GOTURN_CAFFE_CACHE/models)")
    parser.add_argument("--mirror", metavar="URL", default=None,
                        help=f"base URL (or local folder) holding the files by name, instead of "
                             f"their hosts (default ${MIRROR_ENV} if set)")
    parser.add_argument("--init-weights", action="store_true",
                        help="after caffenet, write goturn_init.caffemodel from it (`make weights`)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds to wait for a server, and for each 64 KiB of a "
                             "download (default %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--list", action="store_true",
                        help="print each file's URL, size, digests and place; download nothing")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name != ALL and name not in MODELS]
    if unknown:
        parser.error(f"unknown model {unknown[0]!r}; choose from {', '.join(MODELS)}, {ALL}")
    args.names = list(MODELS) if ALL in args.names else list(dict.fromkeys(args.names))
    return args


def list_files(args) -> None:
    mirror = resolve_mirror(args.mirror)
    for name in args.names:
        print(f"{name}: {MODELS[name].description}")
        for pinned in MODELS[name].files:
            size = f"{pinned.size} bytes" if pinned.size is not None else "size not published"
            digests = "".join(f", {DIGEST_LABELS[name]} {value}"
                              for name, value in pinned.digests.items()) or ", no digest published"
            print(f"  {file_url(pinned, mirror=mirror)} ({size}{digests}) -> "
                  f"{Path(args.cache) / pinned.name}")


def describe(name: str, path: Path, args) -> str:
    if name == "opencv-goturn":
        prototxt, _ = opencv_model_files(args.models_dir)
        return (f"{path} and {prototxt.name} (OpenCV's network; track with --model-format opencv "
                f"--deploy {prototxt} --weights {path})")
    return str(path)


def make_weights(caffenet: Path, args) -> str:
    from goturn_caffe.model.init_weights import make_init_weights

    output = make_init_weights(caffenet, Path(args.models_dir) / INIT_MODEL.name)
    return f"wrote {output}: CaffeNet's conv1..conv5 in both streams (as `make weights`)"


@command
def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list:
        list_files(args)
        return 0
    failed = False
    for name in args.names:
        try:
            path = fetch_model(name, args.models_dir, args.cache, mirror=args.mirror,
                               timeout=args.timeout, progress=not args.no_progress)
            print(f"{name}: {describe(name, path, args)}")
            if name == "caffenet" and args.init_weights:
                print(make_weights(path, args))
        except NotDownloaded as exc:
            for missing in exc.missing:
                print(f"{PROG}: {missing}", file=sys.stderr)
            failed = True
        except (ModelError, CaffeUnavailable, OSError) as exc:
            print(f"{PROG}: {name}: {exc}", file=sys.stderr)
            failed = True
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
