#!/usr/bin/env python
"""Speed benchmarks of goturn-caffe, one subcommand per stage.

  preprocess  crop + resize + preprocess of one target/search pair from a
              synthetic 1280x720 frame (what the tracker does per frame
              before the forward pass); microseconds per pair, median of
              repeats, writing into preallocated arrays as the tracker
              should, and allocating fresh arrays for comparison.
  tracker     the tracker loop with pycaffe on --gpu N or the CPU, per Caffe
              engine (--engine caffe,cudnn): the tracker's step (crop +
              preprocess + forward + box) split into its network and
              preprocessing shares, and the JPEG decode beside it; median
              per frame after warm-up, N = 1, 8, 32 targets, beside
              cv2.TrackerGOTURN and the paper's figures.
  data        random-access reads of training pairs (files vs LMDB cache)
              and examples/s of the data layer with 1 and 2 workers.
  net         the GOTURN deploy net alone (prototxt/goturn_deploy.prototxt,
              random weights): parameter count, and the median time of one
              pycaffe forward pass (with and without copying the inputs in)
              per batch size and engine, on the CPU (or --gpu N).
  train       solver throughput: iterations/s of the training net fed by the
              Python data layer and its workers, against the same net fed
              from memory (the bare net), and the examples/s the data layer
              produces on its own: does the data keep up with the solver?
  all         every benchmark above with its defaults (`make bench`).
  compare     (not in `all`) the deploy net with one set of random weights
              through pycaffe, cv2.dnn and onnxruntime on the CPU, batch 1
              and 8: forward medians, pycaffe per layer, the tracker step
              per engine, and the floor from the measured memory bandwidth
              and sgemm rate, with the ratios between them.

Each subcommand prints one line per case and can write the results as JSON
(--json PATH; never onto a file the benchmark reads).  The stages live in
src/goturn_caffe/benchmarks/, one module per stage with configure(parser),
run(args) and, when it reads files, inputs(args); a new stage adds its
module to STAGES.

Examples:
  python tools/benchmark.py preprocess
  python tools/benchmark.py preprocess --repeats 2000 --json output/bench_preprocess.json
  python tools/benchmark.py tracker --gpu 0 --engine caffe,cudnn --steps 200
  python tools/benchmark.py net --gpu 0 --engine caffe,cudnn --batches 1,32 --forwards 200
  python tools/benchmark.py train --gpu 0 --train-conv --iterations 50
"""

import argparse
import os
import platform
import sys

from goturn_caffe.benchmarks import compare, data, net, preprocess, tracker, train
from goturn_caffe.benchmarks.common import stage_inputs
from goturn_caffe.cli import command, prefixed
from goturn_caffe.fileio import check_not_inputs, write_json_atomic

# name -> module with configure(parser) and run(args) -> dict; `all` runs these.
STAGES = {"preprocess": preprocess, "tracker": tracker, "data": data, "net": net, "train": train}
COMMANDS = dict(STAGES, compare=compare)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    configurers = {name: module.configure for name, module in COMMANDS.items()}
    configurers["all"] = None   # every stage, with its defaults
    for name, configure in configurers.items():
        sub = commands.add_parser(name, help=f"see the {name!r} entry above",
                                  description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.add_argument("--repeats", type=int, default=1000,
                         help="timed repetitions per case; the median is reported (default 1000)")
        sub.add_argument("--json", metavar="PATH", help="also write the results as JSON")
        if configure is not None:
            configure(sub)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    return args


@command
def main(argv=None) -> int:
    args = parse_args(argv)
    names = list(STAGES) if args.command == "all" else [args.command]
    # Each benchmark runs with its own defaults; `all` shares only --repeats.
    stage_args = {name: args if name == args.command else
                  parse_args([name, "--repeats", str(args.repeats)]) for name in names}
    if args.json:   # before minutes of timing: the results may not replace what is measured
        check_not_inputs({"--json": args.json}, [path for name in names for path in
                                                 stage_inputs(COMMANDS[name], stage_args[name])])
    results = {}
    for name in names:
        with prefixed(name):   # bad engine/device/data, no pycaffe: one line naming the stage
            results[name] = COMMANDS[name].run(stage_args[name])
    if args.json:
        machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        write_json_atomic(args.json, {"machine": machine, "repeats": args.repeats, **results}, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
