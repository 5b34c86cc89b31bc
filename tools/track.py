#!/usr/bin/env python
"""Track objects through a video, or live from a camera, with GOTURN.

INPUT is a video file, a folder of images, or a VOT / OTB sequence folder
(default: the VOT2014 `car` excerpt bundled in data/sample/vot/car).  The
initial box comes from --box x,y,w,h, else from the sequence's ground truth,
else from the mouse (--select, needs a display).

Writes one `x,y,w,h` line per frame (VOT/OTB style; the first line is the
initial box) to --output, optionally an annotated video (--save-video) and a
live window (--show), shows progress on stderr, and prints a summary with the
speed: network only, and end to end (decoding + crops + forward + box), and
the frames that could not be read.  Outputs create their parent folders; one
that is an input of the run (a frame, the ground truth, the video, the model
files) is refused.  --show and --select need OpenCV with a GUI and a display.

Weights: --weights, else the first of models/goturn.caffemodel (your
training), OpenCV's trained GOTURN (`make model`, models/opencv/), the
demonstration model that `make demo` trains (said so when used): the order
of the demo and the Python API.  --backend onnxruntime runs the same tracker
on onnxruntime (CPU), from an ONNX export of the weights cached beside them.

Several targets (--box repeated, or --boxes FILE: one x,y,w,h per line) go
through one batched forward pass per frame, into --output DIR/target<k>.txt
(default output/track/<sequence>/) and/or --csv FILE (frame,target,x,y,w,h;
frames from 0, targets from 1); the video numbers every box.
Live input: --camera N, a device, or a stream URL (also as INPUT); the first
box from --box or --select; Ctrl-C, or q in the --show window (with frames/s),
stops.  Frames the tracker is too slow for are dropped, never queued, and
counted: the boxes files hold the tracked frames, the CSV the camera's numbers.

Examples:
  python tools/track.py
  python tools/track.py my_video.mp4 --box 120,80,60,40 --save-video out.mp4
  python tools/track.py my_video.mp4 --box 120,80,60,40 --box 300,90,50,50 --csv boxes.csv
  python tools/track.py --camera 0 --box 200,150,80,80 --show
  python tools/track.py ../shared/data/otb/Man --gpu 0 --weights models/goturn.caffemodel
"""

import argparse
import sys

from goturn_caffe.cli import command
from goturn_caffe.model.net import ENGINES, TRAINED_MODEL
from goturn_caffe.model.onnx_backend import BACKENDS
from goturn_caffe.paths import REPO_ROOT
from goturn_caffe.track.app import (
    DEFAULT_INPUT,
    check_outputs,
    input_problems,
    model_files,
    open_input,
    track_input,
    tracking_model,
)
from goturn_caffe.track.builder import MODEL_FORMATS, build_targets_tracker, build_tracker
from goturn_caffe.track.camera import live_source, track_camera
from goturn_caffe.track.multi import target_boxes, track_video_targets


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", nargs="?", default=str(DEFAULT_INPUT),
                        help="video file, image folder, VOT/OTB sequence folder, or stream URL")
    parser.add_argument("--box", action="append",
                        help="initial box x,y,w,h in the first frame; repeat for several targets")
    parser.add_argument("--boxes", metavar="FILE",
                        help="initial boxes of several targets, one x,y,w,h per line")
    parser.add_argument("--camera", metavar="SOURCE",
                        help="track live: a camera index (0), a device, or a stream URL")
    parser.add_argument("--csv", metavar="FILE", help="also (or, without --output, only) write "
                        "every target's boxes to one CSV: frame,target,x,y,w,h")
    parser.add_argument("--select", action="store_true",
                        help="draw the initial box with the mouse (needs OpenCV with a GUI)")
    parser.add_argument("--output", help="boxes file (default output/track/<sequence>.txt); with "
                        "several targets a folder of target<k>.txt")
    parser.add_argument("--save-video", metavar="PATH", help="write an annotated video (.mp4/.avi)")
    parser.add_argument("--show", action="store_true",
                        help="show a live window (needs OpenCV with a GUI and a display)")
    parser.add_argument("--weights",
                        help=f"trained weights (default {TRAINED_MODEL.relative_to(REPO_ROOT)}, else "
                             "OpenCV's from `make model`, else the demonstration model of `make demo`)")
    parser.add_argument("--deploy", help="deploy prototxt (default: the model format's, "
                                         "prototxt/goturn_deploy.prototxt or prototxt/opencv/goturn.prototxt)")
    parser.add_argument("--model-format", choices=MODEL_FORMATS,
                        help="goturn: the authors' layout (the default with --weights); opencv: "
                             "OpenCV's goturn.prototxt/.caffemodel (default: the chosen model's)")
    parser.add_argument("--finetune", action="store_true",
                        help="online fine-tuning (paper's Appendix B): one fc SGD step per frame at "
                             "lr 1e-9 on the tracker's own output (off by default)")
    parser.add_argument("--gpu", type=int, help="GPU id (default: CPU)")
    parser.add_argument("--engine", choices=ENGINES, default="default",
                        help="Caffe's layer implementations: default (cuDNN where Caffe was built with "
                             "it), caffe (im2col + GEMM), cudnn (needs --gpu); `tools/benchmark.py "
                             "tracker --engine caffe,cudnn` says which is faster on your GPU")
    parser.add_argument("--backend", choices=BACKENDS, default="caffe",
                        help="caffe (default, the reference) or onnxruntime: the same boxes on the "
                             "CPU from an ONNX export of the weights, made once and cached beside them "
                             "as <weights>.onnx (making it needs pycaffe; --weights may be a .onnx)")
    args = parser.parse_args(argv)
    if args.finetune and not args.model_format:    # fine-tuning needs the authors' layout
        args.model_format = "goturn"
    return args


@command
def main(argv=None) -> int:
    args = parse_args(argv)
    live = live_source(args.camera, args.input)
    if len(args.box or ()) > 1 or args.boxes or args.csv or live is not None:
        return track_targets(args, live)
    source = open_input(args.input, (args.box or [None])[0], args.select)
    for line in input_problems(source):
        print(f"track.py: warning: {line}", file=sys.stderr)
    model = tracking_model(args.weights, args.model_format, log=note)
    check_outputs(source, args.output, args.save_video, args.show,
                      model_files(model.weights, args.deploy, model.model_format))
    tracker = build_tracker("goturn", deploy=args.deploy, weights=model.weights, gpu=args.gpu,
                            model_format=model.model_format, engine=args.engine,
                            finetune=args.finetune, backend=args.backend)
    print(track_input(tracker, source, args.output, args.save_video, args.show, progress=sys.stderr))
    return 0


def track_targets(args, live) -> int:
    """Several targets, a CSV, or a live input: one batch tracker for all the targets."""
    boxes = target_boxes(args.box, args.boxes)
    if args.finetune and len(boxes) > 1:
        raise ValueError(f"--finetune follows one target ({len(boxes)} given)")

    def build():    # once the input, the boxes and the outputs are checked
        model = tracking_model(args.weights, args.model_format, log=note)
        return build_targets_tracker(args.deploy, model.weights, args.gpu, model.model_format,
                                     args.engine, args.finetune, backend=args.backend)

    outputs = dict(output=args.output, csv_path=args.csv, save_video=args.save_video, show=args.show,
                   model_files=model_files(args.weights, args.deploy, args.model_format) + [args.boxes])
    print(track_camera(live, boxes, build, args.select, **outputs) if live is not None
          else track_video_targets(args.input, boxes, build, **outputs))
    return 0


def note(line: str) -> None:
    print(f"track.py: {line}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
