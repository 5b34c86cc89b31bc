"""Training with Caffe's own SGD solver and our Python data layer (``tools/train.py``).

A run lives in one output folder::

    DIR/train_net.prototxt, DIR/solver.prototxt   the exact net and solver of the run
    DIR/run.json                                  its full configuration
    DIR/snapshots/goturn_iter_N.caffemodel|.solverstate, DIR/snapshots/checkpoint.json
    DIR/loss.csv, DIR/loss.png                    the loss log and its curve

Several GPUs (``gpus=[0, 1, ...]``, ``tools/train.py --gpu 0,1``) train with
Caffe's NCCL data parallelism, one process per GPU: see :mod:`goturn_caffe.multi_gpu`.

Snapshots are atomic: Caffe writes them into ``DIR/snapshots/.staging``; we move
them into place and only then list them in ``checkpoint.json`` (written by
rename).  A run killed at any moment leaves the listed snapshots whole, and
``--resume`` continues from the newest listed one.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from goturn_caffe.batches import BatchConfig
from goturn_caffe.caffe_env import import_caffe, select_device
from goturn_caffe.data_layer import parse_params
from goturn_caffe.net import (INIT_MODEL, ModelError, check_engine, check_fit, copy_layers,
                              read_caffemodel, set_engine)
from goturn_caffe.netspec import NetOptions, build_net, build_solver
from goturn_caffe.plotting import agg_pyplot, save_figure

SNAPSHOT_NAME = "goturn"


@dataclass
class TrainConfig:
    output: str
    max_iter: int = 500000
    snapshot: int = 50000             # every N iterations (0: only at the end)
    gpu: Optional[int] = None
    gpus: list = field(default_factory=list)   # several GPUs: NCCL data parallelism (multi_gpu)
    resume: bool = False
    init: Optional[str] = None        # default: models/goturn_init.caffemodel when present
    net: NetOptions = field(default_factory=NetOptions)
    data: dict = field(default_factory=dict)   # the data layer's param_str keys
    base_lr: Optional[float] = None   # None: the authors' 1e-6
    engine: str = "default"           # Caffe layer implementations (goturn_caffe.net.ENGINES)
    display: int = 20

    def data_params(self) -> dict:
        return dict(self.data, batch_size=self.net.batch_size)


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# ---------------------------------------------------------------- snapshots --
def checkpoint_index(snapshot_dir: Path) -> list:
    """Iterations of the complete snapshots, oldest first."""
    index = snapshot_dir / "checkpoint.json"
    return json.loads(index.read_text())["iterations"] if index.exists() else []


def snapshot_paths(snapshot_dir: Path, iteration: int) -> tuple:
    stem = snapshot_dir / f"{SNAPSHOT_NAME}_iter_{iteration}"
    return stem.with_suffix(".caffemodel"), stem.with_suffix(".solverstate")


def latest_snapshot(output: Path) -> Optional[tuple]:
    """(iteration, caffemodel, solverstate) of the newest complete snapshot, or None."""
    iterations = checkpoint_index(output / "snapshots")
    if not iterations:
        return None
    return (iterations[-1],) + snapshot_paths(output / "snapshots", iterations[-1])


def commit_snapshot(solver, caffe_pb2, snapshot_dir: Path) -> Path:
    """Snapshot the solver atomically; returns the caffemodel path."""
    staging = snapshot_dir / ".staging"
    solver.snapshot()  # Caffe writes <staging>/goturn_iter_N.{caffemodel,solverstate}
    iteration = solver.iter
    staged_model, staged_state = snapshot_paths(staging, iteration)
    model, state = snapshot_paths(snapshot_dir, iteration)
    os.replace(staged_model, model)
    # The solverstate names its weights file; point it at the final place.
    solver_state = caffe_pb2.SolverState()
    solver_state.ParseFromString(staged_state.read_bytes())
    solver_state.learned_net = str(model)
    staged_state.write_bytes(solver_state.SerializeToString())
    os.replace(staged_state, state)
    iterations = [i for i in checkpoint_index(snapshot_dir) if i != iteration] + [iteration]
    atomic_write_text(snapshot_dir / "checkpoint.json", json.dumps({"iterations": iterations}))
    return model


# --------------------------------------------------------------------- setup --
def resolve_init(config: TrainConfig) -> Optional[Path]:
    if config.init:
        return Path(config.init)
    return INIT_MODEL if INIT_MODEL.exists() else None


def copy_init_weights(net, model, init_path: Path, net_name: str) -> str:
    """Copy ImageNet/initial weights (``model``: the parsed file); the whole model
    for GOTURN's own shape, the convolutions only for variants whose fc layers
    differ.  ModelError when unusable."""
    try:
        check_fit(net, net_name, model, init_path, require_all=True)
        net.copy_from(str(init_path))
        return "all layers"
    except ModelError:
        conv_layers = [name for name in net.params if name.startswith("conv")]
        matched = check_fit(net, net_name, model, init_path, require_all=True, only=conv_layers)
        copy_layers(net, model, matched)
        return f"convolutions only ({len(matched)} layers; fc layers differ in this variant)"


def prepare_run(config: TrainConfig):
    """Check everything before the solver starts; write the run's prototxts.

    Returns (solver prototxt path, init weights path or None, parsed init
    model or None).  Raises ValueError / ModelError / DatasetError with a
    one-line message.
    """
    output = Path(config.output)
    if len(config.gpus) > 1:
        from goturn_caffe.multi_gpu import check_multi_gpu

        check_multi_gpu(import_caffe())
    check_engine(config.engine, config.gpus[0] if config.gpus else config.gpu)
    params = parse_params(json.dumps(config.data_params()))  # validates keys and batch size
    params.open_training_set()                              # roots exist, not empty
    init = None if config.resume and latest_snapshot(output) else resolve_init(config)
    init_model = read_caffemodel(init) if init is not None else None
    output.mkdir(parents=True, exist_ok=True)
    (output / "snapshots" / ".staging").mkdir(parents=True, exist_ok=True)
    net_options = NetOptions(**{**asdict(config.net), "data_params": config.data_params()})
    net_path = output / "train_net.prototxt"
    net_param = build_net(net_options, train=True)
    set_engine(net_param, config.engine)
    atomic_write_text(net_path, str(net_param))
    overrides = dict(max_iter=config.max_iter, snapshot=0, display=0)
    if config.base_lr is not None:
        overrides["base_lr"] = config.base_lr
    solver = build_solver(str(net_path), str(output / "snapshots" / ".staging" / SNAPSHOT_NAME),
                          **overrides)
    solver.snapshot_after_train = False
    solver.solver_mode = solver.GPU if config.gpu is not None or config.gpus else solver.CPU
    solver_path = output / "solver.prototxt"
    atomic_write_text(solver_path, str(solver))
    atomic_write_text(output / "run.json", json.dumps(
        {"config": asdict(config), "init": str(init) if init else None,
         "batch": asdict(params.config), "seed": params.seed, "workers": params.workers},
        indent=1, default=str))
    return solver_path, init, init_model


# ---------------------------------------------------------------------- loop --
class LossLog:
    """loss.csv (appended as training runs) and loss.png (redrawn at snapshots and the end)."""

    def __init__(self, output: Path, start_iter: int):
        self.path = output / "loss.csv"
        rows = []
        if self.path.exists():
            with open(self.path) as f:
                rows = [r for r in csv.DictReader(f) if int(r["iteration"]) <= start_iter]
        with open(self.path, "w", newline="") as f:  # drop rows past a resumed snapshot
            writer = csv.writer(f)
            writer.writerow(["iteration", "loss", "seconds"])
            writer.writerows([[r["iteration"], r["loss"], r["seconds"]] for r in rows])
        self.file = open(self.path, "a", newline="")
        self.writer = csv.writer(self.file)

    def add(self, iteration: int, loss: float, seconds: float) -> None:
        self.writer.writerow([iteration, f"{loss:.6g}", f"{seconds:.4f}"])
        self.file.flush()

    def plot(self) -> Path | None:
        """Draw loss.png; None where matplotlib is not installed."""
        plt = agg_pyplot()
        if plt is None:
            return None

        data = np.loadtxt(self.path, delimiter=",", skiprows=1, ndmin=2)
        figure, axis = plt.subplots(figsize=(7, 4))
        if len(data):
            axis.plot(data[:, 0], data[:, 1], lw=0.8, label="loss (sum of |error| over the batch)")
            window = min(50, len(data))
            smooth = np.convolve(data[:, 1], np.ones(window) / window, mode="valid")
            axis.plot(data[window - 1:, 0], smooth, lw=2, label=f"mean of {window}")
        axis.set_xlabel("iteration")
        axis.set_ylabel("training loss")
        axis.legend()
        axis.grid(alpha=0.3)
        return save_figure(figure, self.path.with_suffix(".png"), dpi=100, bbox_inches="tight")

    def close(self) -> None:
        self.file.close()


def open_solver(caffe, solver_path: Path, config: TrainConfig, init, init_model, log):
    """The solver, resumed from the newest snapshot or with the initial weights copied in."""
    output = Path(config.output)
    solver = caffe.SGDSolver(str(solver_path))
    resumed = latest_snapshot(output) if config.resume else None
    if resumed:
        solver.restore(str(resumed[2]))
        log(f"resumed from {resumed[2]} at iteration {solver.iter}")
    elif init is not None:
        how = copy_init_weights(solver.net, init_model, init, str(output / "train_net.prototxt"))
        log(f"initialised from {init} ({how})")
    else:
        log(f"no {INIT_MODEL.name} in models/ (run `make weights`): all layers start from "
            "their fillers (random convolutions)")
    return solver


def train(config: TrainConfig, log=print, progress: bool = True) -> dict:
    """Run (or resume) training, on several GPUs when ``config.gpus`` names more
    than one; returns a summary dict."""
    output = Path(config.output)
    solver_path, init, init_model = prepare_run(config)
    shutil.rmtree(output / "snapshots" / ".staging", ignore_errors=True)  # leftovers of a kill
    (output / "snapshots" / ".staging").mkdir()
    if len(config.gpus) > 1:
        from goturn_caffe.multi_gpu import DataParallel

        resumed = latest_snapshot(output) if config.resume else None
        with DataParallel(config.gpus, solver_path, config.max_iter,
                          restore=resumed[2] if resumed else None, log=log) as group:
            solver = open_solver(group.caffe, solver_path, config, init, init_model, log)
            init_model = None  # the parsed initial weights (hundreds of MB) are in the net now
            group.connect(solver)  # rank 0's weights go to every GPU
            return run_solver(group.caffe, solver, config, len(config.gpus), progress)
    caffe = select_device(config.gpu)
    solver = open_solver(caffe, solver_path, config, init, init_model, log)
    init_model = None  # the parsed initial weights (hundreds of MB) are in the net now
    return run_solver(caffe, solver, config, 1, progress)


def run_solver(caffe, solver, config: TrainConfig, ranks: int, progress: bool) -> dict:
    """Step ``solver`` to ``config.max_iter`` with the loss log, progress bar and
    atomic snapshots; ``ranks`` solvers step together (examples/s counts them all)."""
    from tqdm import tqdm

    output = Path(config.output)
    batch = config.net.batch_size * ranks
    loss_log = LossLog(output, solver.iter)
    start_iter, losses = solver.iter, []
    bar = tqdm(total=config.max_iter, initial=start_iter, unit="it", disable=not progress,
               desc="training")
    start = time.perf_counter()
    try:
        while solver.iter < config.max_iter:
            tick = time.perf_counter()
            solver.step(1)
            seconds = time.perf_counter() - tick
            loss = float(solver.net.blobs["loss"].data)  # rank 0's batch
            losses.append(loss)
            loss_log.add(solver.iter, loss, seconds)
            done = solver.iter - start_iter
            rate = done / (time.perf_counter() - start)
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3g}", ex_per_s=f"{rate * batch:.0f}")
            if config.snapshot and solver.iter % config.snapshot == 0:
                commit_snapshot(solver, caffe.proto.caffe_pb2, output / "snapshots")
                loss_log.plot()
        last_model = None
        if solver.iter not in checkpoint_index(output / "snapshots"):
            last_model = commit_snapshot(solver, caffe.proto.caffe_pb2, output / "snapshots")
        else:
            last_model = snapshot_paths(output / "snapshots", solver.iter)[0]
    finally:
        bar.close()
        loss_log.close()
        batch_source = getattr(solver.net.layers[0], "batch_source", None)
        if batch_source is not None:
            batch_source.close()
    png = loss_log.plot()
    elapsed = time.perf_counter() - start
    iterations = solver.iter - start_iter
    summary = {"iterations": iterations, "final_iter": solver.iter, "model": str(last_model),
               "loss_first": losses[0] if losses else None,
               "loss_last": losses[-1] if losses else None,
               "seconds_per_iter": elapsed / max(iterations, 1),
               "examples_per_s": iterations * batch / elapsed if elapsed else 0.0,
               "gpus": list(config.gpus) if ranks > 1 else config.gpu,
               "loss_csv": str(loss_log.path), "loss_png": str(png) if png else None}
    atomic_write_text(output / "summary.json", json.dumps(summary, indent=1))
    return summary
