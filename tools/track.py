#!/usr/bin/env python
"""Track one object through a video with GOTURN.

INPUT is a video file, a folder of images, or a VOT / OTB sequence folder
(default: the VOT2014 `car` excerpt bundled in data/sample/vot/car).  The
initial box comes from --box x,y,w,h, else from the sequence's ground truth,
else from the mouse (--select, needs a display).

Writes one `x,y,w,h` line per frame (VOT/OTB style; the first line is the
initial box) to --output, optionally an annotated video (--save-video) and a
live window (--show), and prints the speed: network only, and end to end
(image decoding + cropping + preprocessing + forward + box decoding).

Examples:
  python tools/track.py
  python tools/track.py my_video.mp4 --box 120,80,60,40 --save-video out.mp4
  python tools/track.py ../shared/data/otb/Man --gpu 0 --weights models/goturn.caffemodel
"""

import argparse
import os
import sys
from pathlib import Path

from goturn_caffe.net import DEPLOY_PROTOTXT, ENGINES, TRAINED_MODEL
from goturn_caffe.paths import REPO_ROOT

DEFAULT_INPUT = REPO_ROOT / "data" / "sample" / "vot" / "car"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", nargs="?", default=str(DEFAULT_INPUT),
                        help="video file, image folder, or VOT/OTB sequence folder")
    parser.add_argument("--box", help="initial box x,y,w,h in the first frame")
    parser.add_argument("--select", action="store_true", help="draw the initial box with the mouse")
    parser.add_argument("--output", help="boxes file (default output/track/<sequence>.txt)")
    parser.add_argument("--save-video", metavar="PATH", help="write an annotated video (.mp4/.avi)")
    parser.add_argument("--show", action="store_true", help="show a live window (needs a display)")
    parser.add_argument("--weights", default=str(TRAINED_MODEL),
                        help=f"trained weights (default {TRAINED_MODEL.relative_to(REPO_ROOT)})")
    parser.add_argument("--deploy", default=str(DEPLOY_PROTOTXT), help="deploy prototxt")
    parser.add_argument("--model-format", choices=["goturn", "opencv"], default="goturn",
                        help="goturn: the authors' layout; opencv: OpenCV's goturn.prototxt/.caffemodel")
    parser.add_argument("--finetune", action="store_true",
                        help="online fine-tuning (paper's Appendix B): one fc SGD step per frame "
                             "at lr 1e-9 on the tracker's own output (off by default)")
    parser.add_argument("--gpu", type=int, help="GPU id (default: CPU)")
    parser.add_argument("--engine", choices=ENGINES, default="default",
                        help="Caffe's layer implementations: default (cuDNN where Caffe was built "
                             "with it), caffe (Caffe's own im2col + GEMM convolutions), cudnn "
                             "(needs --gpu); `tools/benchmark.py tracker --engine caffe,cudnn` "
                             "says which is faster on your GPU")
    return parser.parse_args(argv)


def initial_box(args, sequence, first_frame):
    from goturn_caffe.sequences import SequenceError, parse_box

    if args.box:
        return parse_box(args.box)
    if not args.select and sequence.ground_truth and sequence.ground_truth[0] is not None:
        return sequence.ground_truth[0]
    if args.select or not sequence.ground_truth:
        if not os.environ.get("DISPLAY"):
            raise SequenceError(f"{sequence.source}: no ground truth to start from, and no display "
                                "to draw a box on: pass --box x,y,w,h")
        import cv2
        from goturn_caffe.boxes import Box

        x, y, w, h = cv2.selectROI("GOTURN: draw the target, then ENTER", first_frame, False)
        cv2.destroyAllWindows()
        return Box.from_xywh(x, y, w, h)
    raise SequenceError(f"{sequence.source}: the first frame has no ground-truth box; pass --box")


def main(argv=None) -> int:
    args = parse_args(argv)
    from goturn_caffe.caffe_env import CaffeUnavailable
    from goturn_caffe.net import ModelError
    from goturn_caffe.sequences import SequenceError, open_sequence
    from goturn_caffe.track_output import TrackWriter, summary_line
    from goturn_caffe.tracker import check_init_box, make_tracker

    try:
        sequence = open_sequence(args.input)
        frames = sequence.frames()
        first = next(frames, None)
        if first is None:
            raise SequenceError(f"{args.input}: the first frame cannot be read")
        box = initial_box(args, sequence, first)
        check_init_box(box, first)
        deploy = args.deploy
        if args.model_format == "opencv" and deploy == str(DEPLOY_PROTOTXT):
            from goturn_caffe.opencv_goturn import OPENCV_DEPLOY

            deploy = str(OPENCV_DEPLOY)
        tracker = make_tracker(deploy, args.weights, args.gpu, args.model_format, args.finetune,
                               args.engine)
    except (SequenceError, ModelError, CaffeUnavailable, ValueError) as exc:
        print(f"track.py: {exc}", file=sys.stderr)
        return 2
    output = Path(args.output or REPO_ROOT / "output" / "track" / f"{sequence.name}.txt")
    writer = TrackWriter(output, args.save_video, args.show, sequence.fps, sequence.ground_truth)
    try:
        from itertools import chain

        from goturn_caffe.tracker import track_sequence

        result = track_sequence(tracker, chain([first], frames), box, on_box=writer.add)
    except (ValueError, KeyboardInterrupt) as exc:
        kept = writer.close(complete=False)
        print(f"track.py: stopped ({exc or 'interrupted'}); the {kept} boxes so far are in "
              f"{output}", file=sys.stderr)
        return 2
    writer.close(complete=True)
    print(summary_line(sequence, result, writer))
    if result.skipped:
        print(f"skipped {len(result.skipped)} frames that failed to decode (kept the last box): "
              f"{result.skipped[:10]}{' ...' if len(result.skipped) > 10 else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
