#!/usr/bin/env python
"""Check the training datasets: counts, boxes, unreadable or truncated images.

Reads the annotations with the same readers and filters training uses, decodes
every image training would read (annotated video frames and still images), and
prints what is usable and a summary of what was skipped and why.
"""

from __future__ import annotations

import argparse
import sys

from goturn_caffe.cli import command
from goturn_caffe.datasets.arguments import add_dataset_arguments, training_set_from_args
from goturn_caffe.datasets.base import SkipReport
from goturn_caffe.datasets.decoding import verify_images


@command
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataset_arguments(parser)
    parser.add_argument("--annotations-only", action="store_true",
                        help="read the annotations but do not decode the images (fast)")
    parser.add_argument("--workers", type=int, default=1, help="processes decoding images (default: 1)")
    parser.add_argument("--show", type=int, default=5, metavar="N",
                        help="skipped entries listed per reason (0 = all; default: 5)")
    args = parser.parse_args(argv)
    training_set = training_set_from_args(args)
    if not args.annotations_only:
        report = SkipReport(list(training_set.report.entries))
        sizes = {key: size for key, _, size in
                 verify_images(training_set, training_set.keys(), report, args.workers)}
        training_set = training_set.restricted_to(sizes, report)
        training_set.check_not_empty("datasets")
    print(training_set.summary())
    if len(training_set.report):
        print(training_set.report.details(args.show))
    return 0


if __name__ == "__main__":
    sys.exit(main())
