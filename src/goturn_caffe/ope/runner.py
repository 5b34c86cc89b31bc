"""One-pass evaluation runs: initialise on frame 1 with the ground truth, never
reset; one results file per (tracker, sequence), restartable, in this process
or in ``jobs`` worker processes.

A sequence's boxes file is written atomically when the sequence ends, so an
interrupted run keeps every finished sequence and a rerun does only the rest.
Workers and progress are :mod:`goturn_caffe.track.workers`'s: spawned workers
that die with their parent, each building its trackers with the picklable
``factory(registry name)`` and running whole sequences.  Every process that
tracks (this one with ``jobs`` 1) runs its BLAS with the same thread count
(1, or OPENBLAS_NUM_THREADS when set), because OpenBLAS's sums, and so the
boxes' last decimals, change with its thread count: any ``jobs`` writes the
same files byte for byte.

Every tracker folder records what produced it (``identity.json``): the
tracker's identity as :func:`goturn_caffe.vot.identity.results_identity` gives
it (weights' and deploy's SHA-256, model format, engine, backend, finetune;
OpenCV's version for KCF/CSRT), the dataset's results name, and a digest of each
sequence's ground truth.  A rerun with another identity, or on a sequence whose
ground truth changed, is refused in one line before anything runs.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from goturn_caffe.datasets.base import SkipReport
from goturn_caffe.datasets.image_io import DatasetError, read_frame
from goturn_caffe.fileio import write_json_atomic
from goturn_caffe.ope.results import boxes_path, quantize, times_path, write_results
from goturn_caffe.track import workers
from goturn_caffe.vot.identity import ADVICE, IDENTITY_FILE, check_same_run, results_identity


# ---- identity ----------------------------------------------------------------------
def groundtruth_digest(video) -> str:
    """SHA-256 of what scoring reads of a sequence: frame count, boxes, absent, cover."""
    digest = hashlib.sha256(f"{len(video.frames)}\n".encode())
    for frame in video.frames:
        box = "none" if frame.box is None else ",".join(f"{v:.4f}" for v in frame.box.to_xywh())
        digest.update(f"{box};{int(frame.absent)};{frame.cover}\n".encode())
    return digest.hexdigest()


def run_identity(registry_name: str, options: Optional[dict], dataset) -> tuple:
    """``(identity, files)`` of ``registry_name`` run with ``options`` on ``dataset``
    (ModelError naming a missing weights or deploy file)."""
    identity, files = results_identity(registry_name, 0, options)
    identity.pop("seed", None)          # OPE draws nothing at random
    identity["dataset"] = dataset.name
    return identity, files


def holds_results(folder: Path) -> bool:
    return any(Path(folder).rglob("*.txt"))


def read_record(folder: Path) -> Optional[dict]:
    try:
        record = json.loads((Path(folder) / IDENTITY_FILE).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("identity"), dict) else None


def check_identity(folder: Path, identity: dict, digests: dict) -> None:
    """Refuse (ValueError, one line naming ``folder``) to add results to a folder
    holding another run's: another identity, none recorded, or a sequence whose
    ground truth differs from the one its results were made on."""
    folder = Path(folder)
    if not holds_results(folder):
        return
    record = read_record(folder)
    check_same_run(folder, None if record is None else record["identity"], identity)
    known = record.get("sequences") or {}
    changed = [name for name, digest in digests.items() if name in known and known[name] != digest]
    if changed:
        shown = ", ".join(changed[:5]) + (", ..." if len(changed) > 5 else "")
        raise ValueError(f"{folder}: holds results of {len(changed)} sequence(s) made on another "
                         f"ground truth ({shown}); {ADVICE}")


def record_identity(folder: Path, identity: dict, files: dict, digests: dict) -> None:
    """Write ``identity.json`` (atomically), adding ``digests`` to the sequences recorded."""
    record = read_record(folder) or {}
    sequences = dict(record.get("sequences") or {})
    sequences.update(digests)
    write_json_atomic(Path(folder) / IDENTITY_FILE,
                      {"identity": identity, "files": files, "sequences": dict(sorted(sequences.items()))})


# ---- one sequence ------------------------------------------------------------------
def track_sequence(tracker, video, progress: Optional[Callable] = None,
                   problems: Optional[SkipReport] = None) -> tuple:
    """Run ``tracker`` over ``video`` the OPE way -> ``(boxes (N, 4) x,y,w,h, seconds per
    frame)``: ``init`` on frame 1 at its ground truth (the first line is that box),
    then ``update`` on every next frame.  A frame that cannot be read keeps the
    previous box (time 0, which the got10k toolkit leaves out of its speed) and
    goes to ``problems``."""
    first = video.frames[0]
    if first.box is None:
        raise DatasetError(video.name, "no ground truth on the first frame: one-pass evaluation "
                                       "starts there")
    reads = getattr(tracker, "uses_images", True)
    image = read_frame(first.path, problems) if reads else None
    if reads and image is None:
        raise DatasetError(first.path, "unreadable first frame: one-pass evaluation starts there")
    started = time.perf_counter()
    tracker.init(image, first.box)
    times = [time.perf_counter() - started]
    boxes = [first.box.to_xywh()]
    for frame in video.frames[1:]:
        image = read_frame(frame.path, problems) if reads else None
        if reads and image is None:
            boxes.append(boxes[-1])
            times.append(0.0)
        else:
            started = time.perf_counter()
            box = tracker.update(image)
            times.append(time.perf_counter() - started)
            boxes.append(box.to_xywh())
        if progress is not None:
            progress(1)
    if progress is not None:
        progress(1)     # the first frame
    return np.array(boxes, dtype=np.float64), times


@dataclass(frozen=True)
class Unit:
    """One sequence for one tracker, run once."""

    results_name: str
    registry_name: str
    sequence: int       # index into the videos
    frames: int

    @property
    def expected(self) -> int:
        return 1        # one pass: the runs planned, for the progress bar


def plan_units(trackers: list, dataset, videos: list, root: Path) -> tuple:
    """``(units to run, sequences already done)`` for ``trackers`` (``[(results name,
    registry name)]``): a sequence whose boxes file exists is done."""
    units, done = [], 0
    for results_name, registry_name in trackers:
        for index, video in enumerate(videos):
            if boxes_path(root, dataset, results_name, video.name).is_file():
                done += 1
            else:
                units.append(Unit(results_name, registry_name, index, len(video)))
    return units, done


@dataclass(frozen=True)
class OpeWork:
    """What every unit of a run reads: the videos, the dataset, the results root."""

    videos: list
    dataset: object
    root: Path


def run_unit(tracker, unit: Unit, work: OpeWork, progress: Optional[Callable] = None) -> int:
    """Track one unit and write its files; the runs done (1)."""
    video = work.videos[unit.sequence]
    boxes, times = track_sequence(tracker, video, progress)
    write_results(boxes_path(work.root, work.dataset, unit.results_name, video.name), quantize(boxes),
                  times, times_path(work.root, work.dataset, unit.results_name, video.name))
    return 1


def run_units(units: list, factory: Callable, videos: list, dataset, root: Path, jobs: int = 1,
              show_progress: bool = True, log: Callable = print) -> None:
    """Run ``units`` with one progress bar (frames, rate, ETA): in this process
    (``jobs`` 1) or in ``jobs`` worker processes, the longest sequences first
    (:func:`goturn_caffe.track.workers.run_units`).  ChildProcessError (one line)
    when a worker dies."""
    workers.run_units(units, factory, run_unit, OpeWork(videos, dataset, Path(root)), jobs,
                      show_progress, log, kept=f"the finished sequences are kept in {root}")
