#!/usr/bin/env python
"""One-pass evaluation (OPE) on OTB, UAV123, LaSOT, GOT-10k, TrackingNet, NfS and TColor128.

Each tracker starts on frame 1 at the ground truth and is never reset. The
results go where the field's scorers read them, so pysot or the got10k toolkit
can check our numbers:
  <output>/results/<Dataset>/<tracker>/<seq>.txt            x,y,w,h per line (OTB, UAV, LaSOT, TrackingNet)
  <output>/results/<Dataset>/<tracker>/times/<seq>_time.txt seconds per frame
  <output>/results/GOT-10k_*/<tracker>/<seq>/<seq>_001.txt  and <seq>_time.txt (GOT-10k)
  <output>/submissions/<Dataset>_<tracker>.zip              GOT-10k test / TrackingNet test server zips
  <output>/summary.md, scores/<Dataset>.json, plots/        tables, success/precision/attribute plots
Every dataset is scored by its own scorer of record (printed, and stated with
its source in docs/ope.md): OTB and UAV123 the OTB toolkit's rule, LaSOT its
toolkit's (absent frames never count as successes), GOT-10k val the got10k toolkit's (AO, SR0.50,
SR0.75). The dataset kind is recognised from the folder (--dataset-kind to
choose); an OTB-layout folder holding all of OTB-100 (or OTB-2013) is read as
the benchmark, with its attributes and official frame ranges, any other as a
plain OTB-layout set. Finished sequences are kept when a run is interrupted;
rerunning skips them. Each tracker folder records what produced it
(identity.json); a rerun with other weights or options, or on changed ground
truth, is refused: give it its own folder with --name. An --output that would
overwrite a file the run reads (the dataset's, the weights, the deploy) is
refused before anything is written.

--jobs N runs sequences in N processes and writes the same results files as
--jobs 1, byte for byte: every process tracks with one BLAS thread
(OPENBLAS_NUM_THREADS, if you set it, for all of them), because OpenBLAS's
sums, and so GOTURN's boxes, change with its thread count. Workers end with
the run, also when it is killed. SIGTERM stops the workers and ends the run
with one line and exit status 143; finished sequences are kept.

Examples:
  python tools/eval_ope.py --dataset ../shared/data/otb --tracker static,kcf,csrt
  python tools/eval_ope.py --dataset OTB100 --tracker goturn --weights models/goturn.caffemodel --gpu 0
  python tools/eval_ope.py --dataset GOT-10k --dataset-kind got10k-test --tracker goturn --jobs 2
  python tools/eval_ope.py --dataset LaSOT --tracker kcf --sequences airplane-1,bird-2
"""

import argparse
import sys
from pathlib import Path

from goturn_caffe.cli import ToolError, command, positive_int
from goturn_caffe.model.net import ENGINES
from goturn_caffe.model.onnx_backend import BACKENDS
from goturn_caffe.ope.sources import KINDS
from goturn_caffe.paths import OUTPUT_DIR, SAMPLE_DIR
from goturn_caffe.track.builder import MODEL_FORMATS, TRACKER_NAMES
from goturn_caffe.track.workers import TERMINATED_STATUS, Terminated, sigterm_raises


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default=str(SAMPLE_DIR / "vot"),
                        help="dataset folder (default: the VOT-layout sample bundled in "
                             "data/sample/vot, scored one-pass)")
    parser.add_argument("--dataset-kind", choices=list(KINDS),
                        help="what the folder holds (default: recognised from its layout)")
    parser.add_argument("--tracker", default="static",
                        help=f"comma-separated trackers: {', '.join(TRACKER_NAMES)} (default static)")
    parser.add_argument("--name", help="results folder name for a single tracker (default: its name)")
    parser.add_argument("--output", default=str(OUTPUT_DIR / "ope"),
                        help="results, summary and plots folder (default output/ope)")
    parser.add_argument("--sequences", help="comma-separated subset of the sequences")
    parser.add_argument("--jobs", type=positive_int, default=1, metavar="N",
                        help="worker processes, each running whole sequences (default 1)")
    goturn = parser.add_argument_group("goturn tracker")
    goturn.add_argument("--weights", help="trained .caffemodel (default models/goturn.caffemodel)")
    goturn.add_argument("--deploy", help="deploy prototxt (default: the model format's)")
    goturn.add_argument("--model-format", choices=MODEL_FORMATS, default="goturn",
                        help="goturn: the authors' layout; opencv: OpenCV's GOTURN model files")
    goturn.add_argument("--gpu", type=int, help="GPU id (default: CPU)")
    goturn.add_argument("--engine", choices=ENGINES, default="default",
                        help="Caffe's layer implementations (default, caffe, cudnn)")
    goturn.add_argument("--backend", choices=BACKENDS, default="caffe",
                        help="caffe (default) or onnxruntime (CPU, the same boxes)")
    goturn.add_argument("--finetune", action="store_true", help="the paper's online fine-tuning")
    return parser.parse_args(argv)


@command
def main(argv=None) -> int:
    args = parse_args(argv)
    from goturn_caffe.ope.evaluate import describe_scores, evaluate
    from goturn_caffe.vot.evaluate import tracker_runs

    trackers = tracker_runs(args.tracker, args.name)
    if not Path(args.dataset).is_dir():
        raise ToolError(f"--dataset {args.dataset}: no such folder")
    sequences = [s.strip() for s in args.sequences.split(",") if s.strip()] if args.sequences else None
    options = {"deploy": args.deploy, "weights": args.weights, "gpu": args.gpu,
               "model_format": args.model_format, "engine": args.engine, "backend": args.backend,
               "finetune": args.finetune} if any(r == "goturn" for _, r in trackers) else {}
    try:
        with sigterm_raises():
            summary = evaluate(trackers, Path(args.dataset), Path(args.output), args.dataset_kind,
                               sequences, options, jobs=args.jobs)
    except Terminated:
        print(f"eval_ope.py: terminated (SIGTERM); finished sequences are kept in {args.output}; "
              "rerun to resume", file=sys.stderr)
        return TERMINATED_STATUS
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"finished sequences are kept in {args.output}; rerun to resume") from None
    print("\n".join(describe_scores(summary)))
    print("wrote " + ", ".join(summary["files"].values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
