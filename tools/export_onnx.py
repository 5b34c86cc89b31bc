#!/usr/bin/env python
"""Export a trained GOTURN model (deploy prototxt + .caffemodel) to ONNX.

OpenCV 5 has no Caffe importer; onnxruntime, OpenCV's DNN module and TensorRT
read the ONNX file.  Inputs and outputs keep the net's names (GOTURN:
`target`, `image` -> `fc8`; OpenCV's model: `data1`, `data2` -> `out`), the
batch dimension is dynamic.  --check runs onnxruntime and Caffe on the same
random inputs (mean-subtracted pixel range, [-123, 151]) and prints the
largest difference of each output; the exit status is 1 when it exceeds
--tolerance.

Examples:
  python tools/export_onnx.py --check
  python tools/export_onnx.py --deploy prototxt/variants/goturn_deploy_fc_layers2.prototxt \\
      --weights fc_layers2.caffemodel --output models/goturn_fc_layers2.onnx
  python tools/export_onnx.py --deploy prototxt/opencv/goturn.prototxt \\
      --weights goturn.caffemodel --output goturn_opencv.onnx --check
"""

import argparse
import sys

from goturn_caffe.cli import command
from goturn_caffe.fileio import check_not_inputs
from goturn_caffe.model.net import DEPLOY_PROTOTXT, MODELS_DIR, TRAINED_MODEL
from goturn_caffe.paths import REPO_ROOT


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deploy", default=str(DEPLOY_PROTOTXT),
                        help=f"deploy prototxt (default {DEPLOY_PROTOTXT.relative_to(REPO_ROOT)})")
    parser.add_argument("--weights", default=str(TRAINED_MODEL),
                        help=f"trained weights (default {TRAINED_MODEL.relative_to(REPO_ROOT)})")
    output = MODELS_DIR / "goturn.onnx"
    parser.add_argument("--output", default=str(output),
                        help=f"ONNX file to write (default {output.relative_to(REPO_ROOT)})")
    parser.add_argument("--check", action="store_true",
                        help="compare onnxruntime with Caffe on random inputs")
    parser.add_argument("--batch", type=int, default=1, help="batch size of --check (default 1)")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="largest acceptable |onnxruntime - Caffe| of --check (default 1e-4)")
    args = parser.parse_args(argv)
    if args.batch < 1:
        parser.error(f"--batch must be at least 1, got {args.batch}")
    return args


@command
def main(argv=None) -> int:
    args = parse_args(argv)
    check_not_inputs({"--output": args.output}, [args.weights, args.deploy])
    from goturn_caffe.model.onnx_export import export_onnx, max_abs_diff

    net = export_onnx(args.deploy, args.weights, args.output)
    print(f"wrote {args.output}")
    if not args.check:
        return 0
    diffs = max_abs_diff(net, args.output, args.batch)
    for name, diff in diffs.items():
        print(f"{name}: max |onnxruntime - caffe| = {diff:.3g} (batch {args.batch}, "
              f"tolerance {args.tolerance:g})")
    return 0 if max(diffs.values()) <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
