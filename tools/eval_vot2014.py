#!/usr/bin/env python
"""Score trackers with the VOT2014 protocol (the paper's Table 2 experiments).

Runs the supervised, reset-based VOT2014 experiments on a VOT-format dataset:
initialise on the first frame; a frame whose overlap with the ground truth is
0 is a failure and the tracker is re-initialised 5 frames later; accuracy is
the mean overlap ignoring 10 frames after each (re)initialisation, robustness
the number of failures. `baseline` starts from the exact ground truth;
`region_noise` from a perturbed one (15 repetitions; a deterministic tracker
stops after 3 identical ones). Overlaps are computed as the VOT toolkit does.

Writes under --output:
  <tracker>/<experiment>/<sequence>/<sequence>_<rep>.txt   VOT results layout
  summary.json, summary.md (ours beside GOTURN's Table 2 row), ar_plot.png
Finished repetitions are kept when a run is interrupted; rerunning skips them.
Each tracker's folder records what produced it (identity.json: tracker, seed,
each sequence's ground-truth digest, and for goturn the weights' and deploy's
SHA-256, model format, engine, backend); a rerun with other weights, options or
another dataset's sequences into the same folder is refused: give it its own
folder with --name. Every tracker with results under --output (and --compare
folders) is scored and ranked together.

--jobs N runs sequences in N processes and writes the same results files as
--jobs 1, byte for byte: every process tracks with one BLAS thread
(OPENBLAS_NUM_THREADS, if you set it, for all of them), because OpenBLAS's
sums, and so GOTURN's boxes in their 4th decimal, change with its thread
count. Use --jobs (up to your number of cores) for speed. A ground truth
whose first region no tracker can start from (zero size, off the image) stops
the run naming the file and line. SIGTERM stops the workers and ends the run
with one line and exit status 143 (128 + 15, the shell's code for a SIGTERM);
finished repetitions are kept and a rerun resumes.

Examples:
  python tools/eval_vot2014.py --tracker static --output output/vot
  python tools/eval_vot2014.py --tracker static,kcf,csrt --experiments baseline,region_noise
  python tools/eval_vot2014.py --tracker goturn --weights models/goturn.caffemodel --gpu 0
  python tools/eval_vot2014.py --tracker kcf --sequences car,bag --no-efo
  python tools/eval_vot2014.py --tracker goturn --weights other.caffemodel --name goturn_other --jobs 2
"""

import argparse
import sys
from pathlib import Path

from goturn_caffe.cli import ToolError, command, positive_int, prefixed
from goturn_caffe.model.net import ENGINES
from goturn_caffe.model.onnx_backend import BACKENDS
from goturn_caffe.paths import OUTPUT_DIR, default_vot_dataset
from goturn_caffe.track.builder import MODEL_FORMATS, TRACKER_NAMES
from goturn_caffe.track.workers import TERMINATED_STATUS, Terminated, sigterm_raises
from goturn_caffe.vot.experiment import DEFAULT_SEED, EXPERIMENTS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    default = default_vot_dataset()
    parser.add_argument("--tracker", default="static",
                        help=f"comma-separated trackers: {', '.join(TRACKER_NAMES)} (default static)")
    parser.add_argument("--name", help="results folder name for a single tracker "
                                       "(default: the tracker's name; e.g. goturn_iter450k)")
    parser.add_argument("--dataset", default=str(default),
                        help=f"VOT dataset folder with list.txt (default {default})")
    parser.add_argument("--output", default=str(OUTPUT_DIR / "vot2014"),
                        help="results and summary folder (default output/vot2014)")
    parser.add_argument("--sequences", help="comma-separated subset of the sequences")
    parser.add_argument("--experiments", default="baseline,region_noise",
                        help=f"comma-separated: {', '.join(EXPERIMENTS)} (default both)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"seed of the region_noise initialisations (default {DEFAULT_SEED}; "
                             "keep it to give every tracker the same noisy starts)")
    parser.add_argument("--compare", nargs="*", default=[], metavar="DIR",
                        help="other VOT results roots (<DIR>/<tracker>/<experiment>/...) to rank against")
    parser.add_argument("--no-efo", action="store_true",
                        help="skip timing the EFO reference filter (about a second)")
    parser.add_argument("--jobs", type=positive_int, default=1, metavar="N",
                        help="worker processes, each running whole sequences (default 1; "
                             "each loads its own copy of the net; every N gives the same files)")
    goturn = parser.add_argument_group("goturn tracker")
    goturn.add_argument("--weights", help="trained .caffemodel (default models/goturn.caffemodel)")
    goturn.add_argument("--deploy", help="deploy prototxt (default: the model format's, "
                                         "prototxt/goturn_deploy.prototxt or prototxt/opencv/goturn.prototxt)")
    goturn.add_argument("--model-format", choices=MODEL_FORMATS, default="goturn",
                        help="goturn: the authors' layout; opencv: OpenCV's GOTURN model files")
    goturn.add_argument("--gpu", type=int, help="GPU id (default: CPU)")
    goturn.add_argument("--engine", choices=ENGINES, default="default",
                        help="Caffe's layer implementations: default (cuDNN where built with it), "
                             "caffe (im2col + GEMM), cudnn (needs --gpu)")
    goturn.add_argument("--backend", choices=BACKENDS, default="caffe",
                        help="caffe (default, the reference) or onnxruntime (CPU; an ONNX export "
                             "of the weights cached beside them as <weights>.onnx; the same boxes)")
    return parser.parse_args(argv)


@command
def main(argv=None) -> int:
    args = parse_args(argv)
    from goturn_caffe.vot.evaluate import evaluate, tracker_runs
    from goturn_caffe.vot.experiment import parse_experiments
    from goturn_caffe.vot.speed import efo_reference_seconds

    trackers = tracker_runs(args.tracker, args.name)
    with prefixed("--experiments"):
        experiments = [e.name for e in parse_experiments(args.experiments)]
    if not Path(args.dataset).is_dir():
        raise ToolError(f"--dataset {args.dataset}: no such folder (give a VOT folder with list.txt)")
    sequences = [s.strip() for s in args.sequences.split(",") if s.strip()] if args.sequences else None
    options = {"deploy": args.deploy, "weights": args.weights, "gpu": args.gpu,
               "model_format": args.model_format, "engine": args.engine,
               "backend": args.backend} if any(r == "goturn" for _, r in trackers) else {}
    try:
        with sigterm_raises():
            summary = evaluate(trackers, Path(args.dataset),
                               Path(args.output), experiments, sequences, args.seed, options,
                               tuple(args.compare), None if args.no_efo else efo_reference_seconds(),
                               jobs=args.jobs)
    except Terminated:
        print(f"eval_vot2014.py: terminated (SIGTERM); finished repetitions are kept in "
              f"{args.output}; rerun to resume", file=sys.stderr)
        return TERMINATED_STATUS
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"finished repetitions are kept in {args.output}; "
                                "rerun to resume") from None
    print(Path(summary["files"]["markdown"]).read_text())
    print("wrote " + ", ".join(summary["files"].values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
