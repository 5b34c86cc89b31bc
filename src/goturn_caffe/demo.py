"""``make demo``: track a sequence (by default the bundled VOT2014 ``car``
excerpt) and say truthfully which model did it, and how it compares with a box
that never moves.

The model is the first of (:func:`goturn_caffe.track.api.choose_model`):

1. ``models/goturn.caffemodel``: your own training (the authors' network);
2. OpenCV's trained GOTURN from ``make model`` (``models/opencv/``), run
   through ``--model-format opencv`` and labelled as OpenCV's network;
3. the DEMONSTRATION model, trained first on the bundled sample when there is
   none (a few minutes on 2 CPU cores; random convolutions unless
   ``models/goturn_init.caffemodel`` exists).  It shows the pipeline working and
   does not track; the summary says so, and how to get a real model.

Only what the demo uses is kept: the demonstration weights are moved out of
the training run, whose snapshots are then deleted; the run's small record
stays (:data:`KEPT_RUN_FILES`), its ``summary.json`` naming where the model went.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Optional

from goturn_caffe.fileio import atomic_path, write_json_atomic
from goturn_caffe.model.net import DEMO_MODEL, MODELS_DIR
from goturn_caffe.paths import OUTPUT_DIR
from goturn_caffe.track.api import GET_A_MODEL, ModelChoice, choose_model
from goturn_caffe.track.app import DEFAULT_INPUT, check_outputs, model_files, open_input, track_input

DEMO_DIR = OUTPUT_DIR / "demo"
DEMO_TRAIN_ITERS = 60
# What stays of the demonstration training run (README: "seven small files").
KEPT_RUN_FILES = ("loss.csv", "loss.png", "run.json", "skipped.txt", "solver.prototxt",
                  "summary.json", "train_net.prototxt")


def demonstration_model(train_iters: int = DEMO_TRAIN_ITERS, retrain: bool = False,
                        gpu: Optional[int] = None, log=print, models_dir=None,
                        output_dir=None) -> Path:
    """The demonstration weights (``<models_dir>/demo/``), trained once on the bundled
    sample and then reused; the training run keeps its loss log, not its snapshots."""
    from goturn_caffe.model.netspec import NetOptions
    from goturn_caffe.train.training import TrainConfig, train

    model = Path(models_dir or MODELS_DIR) / DEMO_MODEL.relative_to(MODELS_DIR)
    if model.is_file() and not retrain:
        log(f"using the demonstration model trained earlier: {model}")
        return model
    log(f"no trained model: training a DEMONSTRATION model ({train_iters} iterations on the "
        "bundled sample; not the paper's model)")
    run = Path(output_dir or DEMO_DIR) / "train"
    shutil.rmtree(run, ignore_errors=True)   # the demo's own scratch run: always a fresh one
    summary = train(TrainConfig(output=str(run), max_iter=train_iters,
                                snapshot=0, gpu=gpu, net=NetOptions(batch_size=22),
                                base_lr=1e-5, data={"augmented_per_pair": 10}), log=log)
    with atomic_path(model) as tmp:
        shutil.move(summary["model"], tmp)
    if (run / "summary.json").is_file():  # the snapshot it names is about to go
        write_json_atomic(run / "summary.json", dict(summary, model=str(model)))
    shutil.rmtree(run / "snapshots", ignore_errors=True)   # ~0.9 GB the demo never reads
    log(f"loss {summary['loss_first']:.3g} -> {summary['loss_last']:.3g}; "
        f"weights {model} (loss curve {summary['loss_png'] or summary['loss_csv']})")
    return model


def demo_model(weights=None, train_iters: int = DEMO_TRAIN_ITERS, retrain: bool = False,
               gpu: Optional[int] = None, log=print, models_dir=None,
               output_dir=None) -> ModelChoice:
    """``weights`` when given, else the first model of the module doc (training the
    demonstration model when there is none, or when ``retrain``)."""
    if weights is not None:
        return ModelChoice("given", Path(weights), "goturn")
    choice = None if retrain else choose_model(models_dir)
    if choice is None:
        choice = ModelChoice("demonstration", demonstration_model(
            train_iters, retrain, gpu, log, models_dir, output_dir), "goturn")
    return choice


def run_demo(input_path=DEFAULT_INPUT, weights=None, train_iters: int = DEMO_TRAIN_ITERS,
             retrain: bool = False, gpu: Optional[int] = None, log=print, models_dir=None,
             output_dir=None) -> str:
    """Track ``input_path`` with :func:`demo_model`'s model; writes
    ``<output_dir>/<sequence>.txt`` and ``.mp4`` (default output/demo/) and returns
    the summary: which model, the tracker's mean IoU beside a static box's, and for
    the demonstration model one line on how to get a real one."""
    from goturn_caffe.track.builder import build_tracker

    source = open_input(input_path)   # a bad input fails before any training
    choice = demo_model(weights, train_iters, retrain, gpu, log, models_dir, output_dir)
    tracker = build_tracker("goturn", weights=choice.weights, gpu=gpu,
                            model_format=choice.model_format)
    out = Path(output_dir or DEMO_DIR)
    name = source.sequence.name
    check_outputs(source, out / f"{name}.txt", out / f"{name}.mp4",
                  model_files=model_files(choice.weights, None, choice.model_format))
    lines = [f"model: {choice.label}",
             track_input(tracker, source, out / f"{name}.txt", str(out / f"{name}.mp4"),
                         progress=sys.stderr)]
    if choice.untrained:
        lines.append(f"The demonstration model is untrained, so its boxes mean little; for a real "
                     f"model, {GET_A_MODEL} (the next `make demo` uses it).")
    return "\n".join(lines)
