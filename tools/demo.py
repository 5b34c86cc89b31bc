#!/usr/bin/env python
"""`make demo`: track the sequence bundled in data/sample/vot/car.

With models/goturn.caffemodel present (your own training, or the authors'
file if you have it) the demo uses it.  Otherwise it first trains a short
DEMONSTRATION model on the bundled ALOV/DET sample (a few minutes on 2 CPU
cores, random convolutions since ImageNet weights cannot be fetched offline):
it shows the whole pipeline working, not the paper's accuracy.

Outputs, under output/demo/: car.txt (boxes), car.mp4 (annotated video), and
a one-line summary (frames, mean IoU with the bundled ground truth, fps).
"""

import argparse
import sys

from goturn_caffe.net import TRAINED_MODEL
from goturn_caffe.paths import REPO_ROOT

DEMO_DIR = REPO_ROOT / "output" / "demo"
DEMO_MODEL = REPO_ROOT / "models" / "demo" / "goturn_DEMONSTRATION_ONLY.caffemodel"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-iters", type=int, default=60,
                        help="iterations of the demonstration training (default 60)")
    parser.add_argument("--retrain", action="store_true", help="train the demonstration model again")
    parser.add_argument("--gpu", type=int, help="GPU id (default: CPU)")
    return parser.parse_args(argv)


def demonstration_model(args) -> str:
    """The demonstration weights, trained here once and then reused."""
    from goturn_caffe.netspec import NetOptions
    from goturn_caffe.training import TrainConfig, train

    if DEMO_MODEL.exists() and not args.retrain:
        print(f"[demo] using the demonstration model trained earlier: {DEMO_MODEL}")
        return str(DEMO_MODEL)
    print(f"[demo] no {TRAINED_MODEL.relative_to(REPO_ROOT)}: training a DEMONSTRATION model "
          f"({args.train_iters} iterations on the bundled sample; not the paper's model)")
    summary = train(TrainConfig(output=str(DEMO_DIR / "train"), max_iter=args.train_iters,
                                snapshot=0, gpu=args.gpu, net=NetOptions(batch_size=22),
                                base_lr=1e-5, data={"augmented_per_pair": 10}),
                    log=lambda m: print(f"[demo] {m}"))
    DEMO_MODEL.parent.mkdir(parents=True, exist_ok=True)
    import os
    import shutil

    tmp = DEMO_MODEL.with_suffix(".partial")
    shutil.copyfile(summary["model"], tmp)
    os.replace(tmp, DEMO_MODEL)
    print(f"[demo] loss {summary['loss_first']:.3g} -> {summary['loss_last']:.3g}; "
          f"weights {DEMO_MODEL} (loss curve {summary['loss_png'] or summary['loss_csv']})")
    return str(DEMO_MODEL)


def main(argv=None) -> int:
    args = parse_args(argv)
    weights = str(TRAINED_MODEL) if TRAINED_MODEL.exists() else demonstration_model(args)
    sys.path.insert(0, str(REPO_ROOT / "tools"))
    import track

    track_args = ["--weights", weights, "--output", str(DEMO_DIR / "car.txt"),
                  "--save-video", str(DEMO_DIR / "car.mp4")]
    if args.gpu is not None:
        track_args += ["--gpu", str(args.gpu)]
    return track.main(track_args)


if __name__ == "__main__":
    sys.exit(main())
