"""Training with Caffe's own SGD solver and our Python data layer (``tools/train.py``).

A run lives in one output folder::

    DIR/train_net.prototxt, DIR/solver.prototxt   the exact net and solver of the run
    DIR/run.json                                  its full configuration
    DIR/snapshots/goturn_iter_N.caffemodel|.solverstate, DIR/snapshots/checkpoint.json
    DIR/loss.csv, DIR/loss.png                    the loss log and its curve
    DIR/skipped.txt                               dataset entries the readers skipped, and why,
                                                  then the images that failed to decode while
                                                  training (another pair was drawn for each)

Several GPUs (``gpus=[0, 1, ...]``, ``tools/train.py --gpu 0,1``) train with
Caffe's NCCL data parallelism, one process per GPU: see :mod:`goturn_caffe.train.multi_gpu`.

Snapshots are atomic: Caffe writes them into ``DIR/snapshots/.staging``; we move
them into place and only then list them in ``checkpoint.json`` (written by
rename), with where the data stream stood.  A run killed at any moment leaves
the listed snapshots whole; ``--resume`` continues from the newest listed one
(and removes, with a line, what an interrupted snapshot left), and a run into
a folder that holds one already is refused without ``--resume``.

A resumed run equals the uninterrupted one: the data layer restarts its
stream at the snapshot's batch and re-seeds Caffe's generator (dropout) per
batch (:mod:`goturn_caffe.train.data_layer`), so the losses agree to float
rounding.  A NaN or infinite loss (or weights) stops the run at once with
:class:`DivergedError`, nothing saved after the last good snapshot.  Before
each snapshot the free space of the snapshot folder is checked against the
size the snapshot will take (:func:`snapshot_bytes`): Caffe cannot report a
failed write except by aborting the process.
"""

from __future__ import annotations

import csv
import errno
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Optional

import numpy as np

from goturn_caffe.caffe_env import import_caffe, select_device
from goturn_caffe.config import AUTHORS
from goturn_caffe.fileio import atomic_path, remove_stale_partials, write_text_atomic
from goturn_caffe.model.net import (
    INIT_MODEL,
    ModelError,
    check_engine,
    check_fit,
    copy_layers,
    read_caffemodel,
    set_engine,
)
from goturn_caffe.model.netspec import NetOptions, build_net
from goturn_caffe.model.solver import write_solver
from goturn_caffe.plotting import agg_pyplot, save_figure
from goturn_caffe.train.data_layer import parse_params

SNAPSHOT_NAME = "goturn"


@dataclass
class TrainConfig:
    output: str
    max_iter: int = AUTHORS.max_iter
    snapshot: int = AUTHORS.snapshot             # every N iterations (0: only at the end)
    gpu: Optional[int] = None
    gpus: list = field(default_factory=list)   # several GPUs: NCCL data parallelism (multi_gpu)
    resume: bool = False
    init: Optional[str] = None        # default: models/goturn_init.caffemodel when present
    net: NetOptions = field(default_factory=NetOptions)
    data: dict = field(default_factory=dict)   # the data layer's param_str keys
    base_lr: Optional[float] = None   # None: the authors' 1e-6
    engine: str = "default"           # Caffe layer implementations (goturn_caffe.model.net.ENGINES)
    display: int = AUTHORS.display
    max_seconds: Optional[float] = None  # stop the solver loop after this much wall time
    nccl: bool = False                # join a NCCL group even with one GPU in ``gpus`` (1 rank)
    # One target-stream pass per distinct target crop (NetOptions.dedup_targets).
    # None: on where that is exact (frozen target convolutions, i.e. not train_conv).
    dedup_targets: Optional[bool] = None

    def data_params(self) -> dict:
        return dict(self.data, batch_size=self.net.batch_size)

    def net_options(self) -> NetOptions:
        """The training net's options: ``net`` with the data layer's parameters
        and deduplicated target crops resolved (see ``dedup_targets``)."""
        dedup = self.dedup_targets
        if dedup is None:
            dedup = self.net.dedup_targets or self.net.dedup_exact
        return replace(self.net, data_params=self.data_params(), dedup_targets=dedup)

    @property
    def data_parallel(self) -> bool:
        """Training through Caffe's NCCL group (multi_gpu): several GPUs, or one with ``nccl``."""
        return len(self.gpus) > 1 or (self.nccl and len(self.gpus) == 1)


# ---------------------------------------------------------------- snapshots --
class DivergedError(ValueError):
    """The loss or the weights became NaN or infinite: the run stops, unsaved."""


def read_checkpoint(snapshot_dir: Path) -> dict:
    """``checkpoint.json``: ``{"iterations": [complete snapshots, oldest first],
    "data": {"N": {"batches": data stream position, "stream": data options}}}``."""
    index = snapshot_dir / "checkpoint.json"
    if not index.exists():
        return {"iterations": [], "data": {}}
    try:
        checkpoint = json.loads(index.read_text())
        checkpoint["iterations"] = [int(i) for i in checkpoint["iterations"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{index}: not a snapshot index this trainer wrote ({exc}); "
                         "move it away to start over") from None
    checkpoint.setdefault("data", {})
    return checkpoint


def checkpoint_index(snapshot_dir: Path) -> list:
    """Iterations of the complete snapshots, oldest first."""
    return read_checkpoint(snapshot_dir)["iterations"]


def snapshot_paths(snapshot_dir: Path, iteration: int) -> tuple:
    stem = snapshot_dir / f"{SNAPSHOT_NAME}_iter_{iteration}"
    return stem.with_suffix(".caffemodel"), stem.with_suffix(".solverstate")


@dataclass(frozen=True)
class Resume:
    """A complete snapshot to continue from, and where its data stream stood."""

    iteration: int
    model: Path
    state: Path
    batches: int                   # batches the data layer had handed out
    stream: Optional[dict] = None  # the data options that stream was drawn with


def latest_snapshot(output: Path) -> Optional[Resume]:
    """The newest complete snapshot of the run in ``output`` whose files are all
    there, or None."""
    snapshot_dir = output / "snapshots"
    checkpoint = read_checkpoint(snapshot_dir)
    for iteration in reversed(checkpoint["iterations"]):
        model, state = snapshot_paths(snapshot_dir, iteration)
        if model.is_file() and state.is_file():
            entry = checkpoint["data"].get(str(iteration), {})
            return Resume(iteration, model, state, int(entry.get("batches", iteration)),
                          entry.get("stream"))
    return None


def resume_point(output: Path, max_iter: int, log) -> Optional[Resume]:
    """What ``--resume`` continues from, said in the log: the newest complete
    snapshot (listed ones whose files are gone are passed over, with a line), or
    None (starting from iteration 0, and why).  ValueError when that snapshot is
    already at ``max_iter`` or beyond."""
    snapshot_dir = output / "snapshots"
    listed = checkpoint_index(snapshot_dir)
    resume = latest_snapshot(output)
    if resume is None:
        why = (f"the snapshots listed in {snapshot_dir / 'checkpoint.json'} ({listed}) have lost "
               "their files" if listed else f"no complete snapshot in {snapshot_dir}")
        log(f"--resume: {why}: starting from iteration 0")
        return None
    gone = [i for i in listed if i > resume.iteration]
    if gone:
        log(f"--resume: the files of the snapshot(s) at iteration(s) {gone} are gone: "
            f"continuing from the one before, at iteration {resume.iteration}")
    if resume.iteration >= max_iter:
        raise ValueError(f"{output}: already trained to iteration {resume.iteration}, not below "
                         f"max_iter {max_iter}: nothing to do (raise --max-iter to continue)")
    return resume


def clear_interrupted_snapshots(snapshot_dir: Path, log) -> None:
    """Remove what a run killed while snapshotting left: files in ``.staging``, and
    snapshot files not (yet) listed in ``checkpoint.json``; say so in the log."""
    listed = set(checkpoint_index(snapshot_dir))
    staging = snapshot_dir / ".staging"
    leftovers = sorted(p for p in staging.iterdir()) if staging.is_dir() else []
    unlisted = sorted(p for p in snapshot_dir.glob(f"{SNAPSHOT_NAME}_iter_*")
                      if p.suffix in (".caffemodel", ".solverstate")
                      and p.stem.rsplit("_", 1)[-1] not in {str(i) for i in listed})
    for path in leftovers:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    for path in unlisted:
        path.unlink()
    if leftovers or unlisted:
        names = ", ".join(p.name for p in leftovers + unlisted)
        log(f"removed the incomplete snapshot files an interrupted run left in {snapshot_dir} "
            f"({names}); the complete snapshots are {sorted(listed) or 'none'}")


def nonfinite_layers(net) -> list:
    """Layers of ``net`` with a NaN or infinite weight."""
    return [name for name, blobs in net.params.items()
            if any(not np.isfinite(np.sum(b.data, dtype=np.float64)) for b in blobs)]


# Room for the protobuf framing of the weights and the solver state, and the
# small files written with them (checkpoint.json, loss.csv, loss.png).
SNAPSHOT_SLACK_BYTES = 16 << 20


def snapshot_bytes(net) -> int:
    """About how many bytes one snapshot of ``net`` takes: the weights as float32 in
    the caffemodel, and once more in the solverstate (SGD's momentum history)."""
    values = sum(int(np.prod(blob.data.shape)) for blobs in net.params.values() for blob in blobs)
    return 2 * 4 * values + SNAPSHOT_SLACK_BYTES


def check_snapshot_space(snapshot_dir: Path, needed: int, iteration: int) -> None:
    """OSError (ENOSPC) naming ``snapshot_dir`` when it has less than ``needed``
    bytes free: Caffe would abort the process half-way through the write."""
    free = shutil.disk_usage(snapshot_dir).free
    if free < needed:
        mib = 1 << 20
        raise OSError(errno.ENOSPC, f"no room for the snapshot at iteration {iteration}: it needs "
                      f"about {needed / mib:.0f} MiB, {free / mib:.0f} MiB are free (free some "
                      "space, then continue with --resume; the snapshots listed so far are whole)",
                      str(snapshot_dir))


def commit_snapshot(solver, caffe_pb2, snapshot_dir: Path, data: Optional[dict] = None) -> Path:
    """Snapshot the solver atomically; returns the caffemodel path.  ``data``
    (where the data stream stands) is listed with it in ``checkpoint.json``.
    OSError, before anything is written, when the folder lacks the space."""
    staging = snapshot_dir / ".staging"
    check_snapshot_space(snapshot_dir, snapshot_bytes(solver.net), solver.iter)
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
    checkpoint = read_checkpoint(snapshot_dir)
    checkpoint["iterations"] = [i for i in checkpoint["iterations"] if i != iteration] + [iteration]
    if data is not None:
        checkpoint["data"][str(iteration)] = data
    write_text_atomic(snapshot_dir / "checkpoint.json", json.dumps(checkpoint))
    return model


def drop_snapshot(snapshot_dir: Path, iteration: int) -> None:
    """Unlist the snapshot at ``iteration`` (first), then delete its files."""
    checkpoint = read_checkpoint(snapshot_dir)
    checkpoint["iterations"] = [i for i in checkpoint["iterations"] if i != iteration]
    checkpoint["data"].pop(str(iteration), None)
    write_text_atomic(snapshot_dir / "checkpoint.json", json.dumps(checkpoint))
    for path in snapshot_paths(snapshot_dir, iteration):
        path.unlink(missing_ok=True)


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


# Files that make a folder a training run's (``--resume`` continues it).
RUN_FILES = ("run.json", "loss.csv", "summary.json", "snapshots/checkpoint.json")
SKIPPED_LIST = "skipped.txt"


def check_numbers(config: TrainConfig) -> None:
    """ValueError naming the first numeric setting that cannot work."""
    if not (isinstance(config.max_iter, int) and config.max_iter >= 1):
        raise ValueError(f"max_iter must be a whole number >= 1, got {config.max_iter!r}")
    if not (isinstance(config.snapshot, int) and config.snapshot >= 0):
        raise ValueError(f"snapshot must be a whole number >= 0 (0: only at the end), "
                         f"got {config.snapshot!r}")
    if config.base_lr is not None and not (math.isfinite(config.base_lr) and config.base_lr > 0):
        raise ValueError(f"base_lr must be a finite number > 0, got {config.base_lr!r}")
    if config.max_seconds is not None and not config.max_seconds > 0:
        raise ValueError(f"max_seconds must be > 0, got {config.max_seconds}")


def data_stream(params) -> dict:
    """What the data stream is drawn from (a resumed run continues it when equal)."""
    # The video selection (--exclude ...) only when given, so that earlier runs' records still match.
    selection = {"selection": params.selection} if params.selection else {}
    return json.loads(json.dumps({"seed": params.seed, "batch": asdict(params.config),
                                  "roots": params.roots, "lmdb": params.lmdb, **selection}, default=str))


def check_run_folder(config: TrainConfig, log) -> Optional[Resume]:
    """Refuse to train over an earlier run without ``resume``; with it, the snapshot
    to continue from (see :func:`resume_point`)."""
    output = Path(config.output)
    if config.resume:
        return resume_point(output, config.max_iter, log)
    found = [name for name in RUN_FILES if (output / name).exists()]
    if found:
        listed = checkpoint_index(output / "snapshots")
        what = f"snapshots at iterations {listed}" if listed else "no complete snapshot yet"
        raise ValueError(f"{output}: holds a training run already ({what}): continue it with "
                         "--resume, or train into another --output")
    return None


def check_init_model(init: Path, model) -> None:
    """ModelError for initial weights training cannot start from (OpenCV's model)."""
    from goturn_caffe.model.net import model_blob_shapes

    if "conv11" in model_blob_shapes(model):
        raise ModelError(f"{init}: this is OpenCV's GOTURN model (layers conv11, conv21, ...), "
                         "which only tracks (track.py --model-format opencv); training starts "
                         f"from the authors' layout: {INIT_MODEL} (make weights) or a snapshot "
                         "of this trainer")


TRAINING_SKIPS_HEADER = "Undecodable while training (another pair was drawn instead):"


def read_skipped_list(path: Path) -> tuple:
    """``(the readers' part, [(where, reason), ...] skipped while training)`` of a
    run's skipped.txt (empty ones where there is none)."""
    text = path.read_text() if path.is_file() else ""
    readers, header, training = text.partition(TRAINING_SKIPS_HEADER + "\n")
    entries = [tuple(line.strip().split("\t", 1)) for line in training.splitlines()
               if "\t" in line] if header else []
    return readers.rstrip("\n"), entries


def write_skipped_list(path: Path, readers: str, training: list) -> None:
    """skipped.txt: the readers' part, then each (where, reason) skipped while
    training once; removed when both are empty."""
    parts = [readers] if readers else []
    if training:
        parts.append(TRAINING_SKIPS_HEADER + "\n" + "\n".join(
            f"  {where}\t{reason}" for where, reason in dict.fromkeys(training)))
    if parts:
        write_text_atomic(path, "\n\n".join(parts) + "\n")
    else:
        path.unlink(missing_ok=True)


def report_skipped(training_set, output: Path, log, resumed: bool = False) -> None:
    """One line on what the dataset readers skipped; the full list in
    ``output/skipped.txt`` (a resumed run keeps the images its earlier part
    could not decode)."""
    report, path = training_set.report, output / SKIPPED_LIST
    earlier = read_skipped_list(path)[1] if resumed else []
    write_skipped_list(path, report.details(per_reason=0) if len(report) else "", earlier)
    if len(report):
        log(f"training set: {training_set.summary()} (the full list: {path})")
    else:
        log(f"training set: {training_set.summary()}")


def record_training_skips(output: Path, skipped: list, written: int = 0) -> int:
    """Add the ``(where, reason)`` of ``skipped`` (the data workers' list, which only
    grows) to ``output/skipped.txt`` when it has grown past ``written``; returns
    its new length."""
    if len(skipped) > written:
        path = output / SKIPPED_LIST
        readers, earlier = read_skipped_list(path)
        write_skipped_list(path, readers, earlier + [tuple(entry) for entry in skipped])
    return len(skipped)


def training_skips_line(skipped: list, path: Path) -> str:
    """The summary line of the images skipped while training."""
    images = len(set(where for where, _ in skipped))
    return (f"skipped {images} image(s) that could not be decoded while training ({len(skipped)} "
            f"draw(s); another pair was drawn for each): listed in {path}")


def prepare_run(config: TrainConfig, log=print):
    """Check everything before the solver starts; write the run's prototxts.

    Returns (solver prototxt path, init weights path or None, parsed init
    model or None, :class:`Resume` or None).  Raises ValueError / ModelError /
    DatasetError with a one-line message, before anything in the output
    folder is changed.
    """
    output = Path(config.output)
    check_numbers(config)
    if config.max_seconds is not None and len(config.gpus) > 1:
        raise ValueError("a wall-time limit (--max-seconds) works on one GPU only: the spawned "
                         "ranks step to --max-iter and cannot stop in step with rank 0")
    if config.nccl and not config.gpus:
        raise ValueError("training through NCCL (--nccl) needs the GPU(s) to use: --gpu ID")
    if config.data_parallel:
        from goturn_caffe.train.multi_gpu import check_multi_gpu

        check_multi_gpu(import_caffe())
    check_engine(config.engine, config.gpus[0] if config.gpus else config.gpu)
    params = parse_params(json.dumps(config.data_params()))  # validates keys and batch size
    training_set = params.open_training_set()               # roots exist, not empty
    resume = check_run_folder(config, log)
    init = None if resume else resolve_init(config)
    init_model = read_caffemodel(init) if init is not None else None
    if init_model is not None:
        check_init_model(init, init_model)
    # -- from here on the output folder is written
    output.mkdir(parents=True, exist_ok=True)
    (output / "snapshots" / ".staging").mkdir(parents=True, exist_ok=True)
    stale = remove_stale_partials(output) + remove_stale_partials(output / "snapshots")
    if stale:
        log(f"removed {len(stale)} partial file(s) an interrupted run left in {output}")
    clear_interrupted_snapshots(output / "snapshots", log)
    report_skipped(training_set, output, log, resumed=resume is not None)
    net_options = config.net_options()
    if resume:
        if resume.stream is not None and resume.stream != data_stream(params):
            log(f"note: the data options differ from those of the snapshot at iteration "
                f"{resume.iteration}: the resumed run draws another data stream")
        net_options = replace(net_options, data_params=dict(net_options.data_params,
                                                            start_batch=resume.batches))
    net_path = output / "train_net.prototxt"
    net_param = build_net(net_options, train=True)
    set_engine(net_param, config.engine)
    overrides = dict(max_iter=config.max_iter, snapshot=0, display=0)
    if config.base_lr is not None:
        overrides["base_lr"] = config.base_lr
    solver_path = write_solver(net_param, net_path, output / "solver.prototxt",
                               output / "snapshots" / ".staging" / SNAPSHOT_NAME,
                               gpu=config.gpu is not None or bool(config.gpus), **overrides)
    write_text_atomic(output / "run.json", json.dumps(
        {"config": asdict(config), "init": str(init) if init else None,
         "batch": asdict(params.config), "seed": params.seed, "workers": params.workers,
         "dedup_targets": net_options.dedup_targets,
         "resumed_from": resume.iteration if resume else None},
        indent=1, default=str))
    return solver_path, init, init_model, resume


# ---------------------------------------------------------------------- loop --
class LossLog:
    """loss.csv (appended as training runs) and loss.png (redrawn at snapshots and the end)."""

    def __init__(self, output: Path, start_iter: int):
        self.path = output / "loss.csv"
        rows = []
        if self.path.exists():
            with open(self.path) as f:
                rows = [r for r in csv.DictReader(f) if int(r["iteration"]) <= start_iter]
        with atomic_path(self.path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.writer(f)  # the rows up to a resumed snapshot, none past it
            writer.writerow(["iteration", "loss", "seconds"])
            writer.writerows([[r["iteration"], r["loss"], r["seconds"]] for r in rows])
        self.file = open(self.path, "a", newline="")
        self.writer = csv.writer(self.file)

    def add(self, iteration: int, loss: float, seconds: float) -> None:
        try:
            self.writer.writerow([iteration, f"{loss:.6g}", f"{seconds:.4f}"])
            self.file.flush()
        except OSError as exc:  # a full disk: name the file, not just the errno
            raise OSError(exc.errno, exc.strerror, str(self.path)) from None

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


def open_solver(caffe, solver_path: Path, config: TrainConfig, init, init_model,
                resume: Optional[Resume], log):
    """The solver, resumed from ``resume`` or with the initial weights copied in."""
    output = Path(config.output)
    solver = caffe.SGDSolver(str(solver_path))
    if resume:
        solver.restore(str(resume.state))
        log(f"resumed from {resume.state} at iteration {solver.iter} (data stream at batch "
            f"{resume.batches})")
    elif init is not None:
        how = copy_init_weights(solver.net, init_model, init, str(output / "train_net.prototxt"))
        log(f"initialised from {init} ({how})")
    else:
        log(f"no {INIT_MODEL.name} in models/ (run `make weights`): all layers start from "
            "their fillers (random convolutions)")
    return solver


def train(config: TrainConfig, log=print, progress: bool = True) -> dict:
    """Run (or resume) training, on several GPUs when ``config.gpus`` names more
    than one (or one with ``config.nccl``); returns a summary dict."""
    solver_path, init, init_model, resume = prepare_run(config, log)
    if config.data_parallel:
        from goturn_caffe.train.multi_gpu import DataParallel

        with DataParallel(config.gpus, solver_path, config.max_iter,
                          restore=resume.state if resume else None, log=log) as group:
            solver = open_solver(group.caffe, solver_path, config, init, init_model, resume, log)
            init_model = None  # the parsed initial weights (hundreds of MB) are in the net now
            group.connect(solver)  # rank 0's weights go to every GPU
            return run_solver(group.caffe, solver, config, len(config.gpus), progress, log)
    caffe = select_device(config.gpu)
    solver = open_solver(caffe, solver_path, config, init, init_model, resume, log)
    init_model = None  # the parsed initial weights (hundreds of MB) are in the net now
    return run_solver(caffe, solver, config, 1, progress, log)


def run_solver(caffe, solver, config: TrainConfig, ranks: int, progress: bool,
               log=print) -> dict:
    """Step ``solver`` to ``config.max_iter`` (or until ``config.max_seconds`` of
    stepping have passed) with the loss log, progress bar (without it, a log line
    every ``config.display`` iterations) and atomic snapshots, ending with a
    snapshot; ``ranks`` solvers step together (examples/s counts them all).  The
    summary's ``stop_reason`` says which limit ended the loop.  A NaN or infinite
    loss, or weights, stop the run with :class:`DivergedError`, leaving the
    snapshots saved before as they are."""
    from tqdm import tqdm

    output = Path(config.output)
    snapshot_dir = output / "snapshots"
    batch = config.net.batch_size * ranks
    source = getattr(solver.net.layers[0], "batch_source", None)
    stream = data_stream(parse_params(json.dumps(config.data_params())))
    loss_log = LossLog(output, solver.iter)
    start_iter, losses = solver.iter, []
    bar = tqdm(total=config.max_iter, initial=start_iter, unit="it", disable=not progress,
               desc="training")
    start = time.perf_counter()
    stop_reason = "max_iter"
    skips_written = 0

    def record_skips() -> None:
        nonlocal skips_written
        skips_written = record_training_skips(output, getattr(source, "skipped", []),
                                              skips_written)

    def diverged(what: str, gave_it: Optional[int] = None) -> DivergedError:
        """The error to raise; a snapshot at iteration ``gave_it``, whose weights gave
        the non-finite loss, is dropped."""
        dropped = ""
        if gave_it is not None and gave_it in checkpoint_index(snapshot_dir):
            drop_snapshot(snapshot_dir, gave_it)
            dropped = f"the snapshot at iteration {gave_it}, whose weights gave it, is removed; "
        listed = checkpoint_index(snapshot_dir)
        kept = (f"the last good snapshot is {snapshot_paths(snapshot_dir, listed[-1])[0]}"
                if listed else "no snapshot was saved")
        return DivergedError(f"{what} at iteration {solver.iter}: training diverged (too high a "
                             f"learning rate?); stopped without saving; {dropped}{kept}")

    def snapshot() -> Path:
        bad = nonfinite_layers(solver.net)
        if bad:
            raise diverged(f"the weights of {', '.join(bad)} are NaN or infinite")
        data = {"batches": source.position if source is not None else solver.iter,
                "stream": stream}
        record_skips()
        return commit_snapshot(solver, caffe.proto.caffe_pb2, snapshot_dir, data)

    try:
        while solver.iter < config.max_iter:
            tick = time.perf_counter()
            solver.step(1)
            seconds = time.perf_counter() - tick
            loss = float(solver.net.blobs["loss"].data)  # rank 0's batch
            losses.append(loss)
            loss_log.add(solver.iter, loss, seconds)
            if not math.isfinite(loss):
                raise diverged(f"the loss is {loss}", gave_it=solver.iter - 1)
            done = solver.iter - start_iter
            rate = done / (time.perf_counter() - start)
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3g}", ex_per_s=f"{rate * batch:.0f}")
            if not progress and config.display and solver.iter % config.display == 0:
                log(f"iteration {solver.iter}/{config.max_iter}: loss {loss:.4g}, "
                    f"{seconds:.2f} s/iter, {rate * batch:.1f} examples/s")
            if config.snapshot and solver.iter % config.snapshot == 0:
                snapshot()
                loss_log.plot()
            if (config.max_seconds is not None and solver.iter < config.max_iter
                    and time.perf_counter() - start >= config.max_seconds):
                stop_reason = "max_seconds"  # at least one step was taken
                break
        last_model = None
        if solver.iter not in checkpoint_index(snapshot_dir):
            last_model = snapshot()
        else:
            last_model = snapshot_paths(snapshot_dir, solver.iter)[0]
    finally:
        bar.close()
        loss_log.close()
        skipped = list(getattr(source, "skipped", []))
        try:
            record_skips()  # a run that stops on an error lists them too
        except OSError as exc:
            log(f"could not list the images skipped while training in {output / SKIPPED_LIST}: "
                f"{exc.strerror or exc}")
        if skipped:
            log(training_skips_line(skipped, output / SKIPPED_LIST))
        if source is not None:
            source.close()
    png = loss_log.plot()
    elapsed = time.perf_counter() - start
    iterations = solver.iter - start_iter
    summary = {"iterations": iterations, "final_iter": solver.iter, "model": str(last_model),
               "loss_first": losses[0] if losses else None,
               "loss_last": losses[-1] if losses else None,
               "seconds_per_iter": elapsed / max(iterations, 1),
               "examples_per_s": iterations * batch / elapsed if elapsed else 0.0,
               "gpus": list(config.gpus) if config.data_parallel else config.gpu,
               "nccl_ranks": len(config.gpus) if config.data_parallel else 0,
               "stop_reason": stop_reason, "max_iter": config.max_iter,
               "max_seconds": config.max_seconds,
               "loss_csv": str(loss_log.path), "loss_png": str(png) if png else None,
               "skipped_while_training": len(set(where for where, _ in skipped))}
    write_text_atomic(output / "summary.json", json.dumps(summary, indent=1))
    return summary
