"""Training on several GPUs with Caffe's own NCCL data parallelism.

BVLC Caffe's recipe (its ``python/train.py``), which our Python data layer
needs: the ``caffe train -gpu 0,1`` command runs its solvers as threads of one
process and refuses Python layers ("PythonLayer does not support CLI
Multi-GPU").  So there is one process per GPU, each with its own solver:

1. every process sets its device, ``solver_count``, ``solver_rank`` and
   ``multiprocess`` *before* building the solver (the data layer reads its rank
   then, and seeds its workers with it: every GPU draws different examples);
2. ``caffe.NCCL(solver, uid)`` joins the NCCL group named by ``uid`` and
   ``bcast()`` copies rank 0's weights to all;
3. the NCCL object is a solver callback: after every backward pass the
   gradients are all-reduced and divided by the number of GPUs, so each step
   applies the mean gradient of N batches (an effective batch of N x
   ``batch_size``; keep ``base_lr``).

Rank 0 runs in the calling process with the usual loop (progress, loss log,
snapshots: Caffe lets only the root solver snapshot); ranks 1..N-1 are spawned
processes that step the same number of iterations.  A rank that dies would
leave the others waiting inside an all-reduce forever, so a watchdog thread
ends the run when any rank exits with an error.

Needs a CUDA build of a tree that has NCCL (BVLC: ``CAFFE_SOURCE=debian`` or
``bvlc`` with ``USE_NCCL=1``; the PyPI fork has none).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Sequence

from goturn_caffe.caffe_env import CaffeUnavailable, caffe_has_gpu, import_caffe

WATCH_SECONDS = 2.0


def parse_gpus(text: str) -> list:
    """``"0"`` or ``"0,1,3"`` -> device ids (ValueError on anything else)."""
    try:
        gpus = [int(v) for v in str(text).split(",")]
    except ValueError:
        raise ValueError(f"--gpu takes a device id or a comma-separated list like 0,1; "
                         f"got {text!r}") from None
    if min(gpus) < 0 or len(set(gpus)) != len(gpus):
        raise ValueError(f"--gpu {text}: device ids must be distinct and >= 0")
    return gpus


def check_multi_gpu(caffe) -> None:
    """A clear error where this Caffe build cannot train on several GPUs."""
    if not caffe_has_gpu(caffe):
        raise CaffeUnavailable("NCCL training (several GPUs, or --nccl) needs a CUDA build of "
                               "Caffe; this one is CPU-only (see docs/gpu.md)")
    if not hasattr(caffe, "NCCL"):
        raise CaffeUnavailable("NCCL training (several GPUs, or --nccl) needs Caffe built with NCCL: "
                               "CAFFE_SOURCE=debian USE_NCCL=1 make caffe (BVLC tree; the PyPI "
                               "fork has no caffe::NCCL), see docs/gpu.md section 4")


def set_rank(caffe, gpus: Sequence[int], rank: int) -> None:
    """This process's place in the group; before any solver or data layer exists."""
    caffe.set_device(int(gpus[rank]))
    caffe.set_mode_gpu()
    caffe.set_solver_count(len(gpus))
    caffe.set_solver_rank(rank)
    caffe.set_multiprocess(True)


def connect(caffe, solver, uid):
    """Join the NCCL group: weights from rank 0, gradients all-reduced each step."""
    nccl = caffe.NCCL(solver, uid)
    nccl.bcast()
    solver.add_callback(nccl)
    if solver.param.layer_wise_reduce:  # overlap the all-reduce with the backward pass
        solver.net.after_backward(nccl)
    return nccl


def run_rank(solver_path: str, gpus: list, uid: bytes, rank: int, restore: str | None,
             max_iter: int) -> None:
    """A non-root rank (runs in a spawned process): step until ``max_iter``."""
    caffe = import_caffe()
    set_rank(caffe, gpus, rank)
    solver = caffe.SGDSolver(solver_path)
    if restore:
        solver.restore(restore)
    connect(caffe, solver, uid)
    try:
        solver.step(max_iter - solver.iter)
    finally:
        source = getattr(solver.net.layers[0], "batch_source", None)
        if source is not None:
            source.close()


def failed_ranks(processes: dict) -> dict:
    """``{rank: exit code}`` of the spawned ranks that ended with an error."""
    return {rank: p.exitcode for rank, p in processes.items() if p.exitcode not in (None, 0)}


class DataParallel:
    """``with DataParallel(gpus, solver_path, max_iter, restore) as group:`` makes this
    process rank 0 and spawns the others; ``group.connect(solver)`` after building
    rank 0's solver (and copying initial weights into it)."""

    def __init__(self, gpus: Sequence[int], solver_path, max_iter: int, restore=None, log=print):
        self.caffe = import_caffe()
        check_multi_gpu(self.caffe)
        self.gpus, self.log = list(gpus), log
        self.solver_path, self.max_iter = str(solver_path), int(max_iter)
        self.restore = str(restore) if restore else None
        self.processes: dict = {}
        self._done = threading.Event()

    def __enter__(self):
        from goturn_caffe.train.prefetch import spawn_context

        self.uid = self.caffe.NCCL.new_uid()  # names this run's NCCL group
        context = spawn_context()
        for rank in range(1, len(self.gpus)):
            process = context.Process(target=run_rank, name=f"goturn-rank{rank}", daemon=True,
                                      args=(self.solver_path, self.gpus, self.uid, rank,
                                            self.restore, self.max_iter))
            process.start()
            self.processes[rank] = process
        set_rank(self.caffe, self.gpus, 0)
        threading.Thread(target=self._watch, daemon=True).start()
        others = f"ranks 1..{len(self.gpus) - 1} spawned" if len(self.gpus) > 1 else "no other rank"
        self.log(f"data parallel (NCCL) on GPUs {self.gpus}: rank 0 here, {others}")
        return self

    def connect(self, solver):
        return connect(self.caffe, solver, self.uid)

    def _watch(self) -> None:
        while not self._done.wait(WATCH_SECONDS):
            failed = failed_ranks(self.processes)
            if failed:
                print(f"train: rank(s) {failed} ended with an error; the others would wait for them "
                      "forever, so the run stops here (the listed snapshots are complete)",
                      file=sys.stderr, flush=True)
                os._exit(1)

    def __exit__(self, *exc_info):
        self._done.set()
        deadline = time.monotonic() + 60
        for process in self.processes.values():
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()
        return False
