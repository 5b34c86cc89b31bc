#!/usr/bin/env python
"""`make demo`: track the sequence bundled in data/sample/vot/car, and say
which model did it.

The model is the first present of: models/goturn.caffemodel (your own
training); OpenCV's trained GOTURN from `make model` (models/opencv/, run with
OpenCV's architecture, --model-format opencv); else a DEMONSTRATION model,
trained first on the bundled sample (a few minutes on 2 CPU cores; random
convolutions unless `make weights` has written models/goturn_init.caffemodel).
The demonstration model shows the whole pipeline working, not the paper's
accuracy: it does not track, and the summary says so and how to get a real
model (`make model`).

Outputs, under output/demo/: car.txt (boxes), car.mp4 (annotated video), and
a summary: the model used, frames, the tracker's mean IoU with the bundled
ground truth beside a static box's (the initial box, never moved) on the same
frames, fps.  Of the demonstration training only the model and the loss curve
are kept.
"""

import argparse
import sys

from goturn_caffe.cli import command
from goturn_caffe.demo import DEMO_TRAIN_ITERS, run_demo
from goturn_caffe.track.app import DEFAULT_INPUT


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", nargs="?", default=str(DEFAULT_INPUT),
                        help="sequence to track: video file, image folder, or VOT/OTB sequence "
                             "folder with ground truth (default: the bundled car excerpt)")
    parser.add_argument("--weights", help="trained weights of the authors' layout (default: the "
                                          "first model present, see above)")
    parser.add_argument("--train-iters", type=int, default=DEMO_TRAIN_ITERS,
                        help="iterations of the demonstration training (default %(default)s)")
    parser.add_argument("--retrain", action="store_true", help="train the demonstration model again")
    parser.add_argument("--gpu", type=int, help="GPU id (default: CPU)")
    parser.add_argument("--models", metavar="DIR",
                        help="where the models are looked for (default models/)")
    parser.add_argument("--output", metavar="DIR",
                        help="where the boxes and video go (default output/demo/)")
    return parser.parse_args(argv)


@command
def main(argv=None) -> int:
    args = parse_args(argv)
    print(run_demo(args.input, args.weights, args.train_iters, args.retrain, args.gpu,
                   log=lambda message: print(f"[demo] {message}"), models_dir=args.models,
                   output_dir=args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
