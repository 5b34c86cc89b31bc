"""Batches built ahead of time in worker processes, handed over in shared memory.

Each worker owns a few shared-memory slots, each holding one batch of uint8
crops and float32 labels (a 50-example batch is 15.5 MB of crops: passing it
through a pipe would cost more than building it).  The worker fills a free
slot and announces it; the consumer copies it out and frees it again.

Determinism: worker ``w`` draws from its own generator, seeded from
``(seed, rank, w)``, and the consumer takes batches from the workers in turn
(batch ``j`` comes from worker ``j % workers``), so a fixed seed and worker
count always give the same sequence of batches.  A worker that raises sends
its traceback; one that dies silently (killed, out of memory) is noticed by its
exit code: either way the consumer raises :class:`WorkerError`, never hangs.

Workers are spawned, not forked: a fork copies OpenCV's thread pool in
whatever state the parent left it, and a child that touches it can hang
forever (seen: cv2.setNumThreads in a forked worker after the parent had
resized images).  Under the stock ``caffe`` binary ``sys.executable`` is not
a Python, so the interpreter of this prefix is named explicitly.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import sys
import traceback
from multiprocessing import shared_memory
from typing import Callable

import numpy as np

POLL_SECONDS = 0.5


class WorkerError(RuntimeError):
    pass


def spawn_context():
    context = mp.get_context("spawn")
    if "python" not in os.path.basename(sys.executable or ""):
        version = f"{sys.version_info[0]}.{sys.version_info[1]}"
        context.set_executable(os.path.join(sys.exec_prefix, "bin", f"python{version}"))
    return context


def _slot_arrays(buffer, batch_size: int, crop_shape: tuple):
    """Views of one slot: targets, searches (N, H, W, 3) uint8 and labels (N, 4) float32."""
    crop_bytes = batch_size * int(np.prod(crop_shape))
    targets = np.ndarray((batch_size,) + crop_shape, np.uint8, buffer, 0)
    searches = np.ndarray((batch_size,) + crop_shape, np.uint8, buffer, crop_bytes)
    labels = np.ndarray((batch_size, 4), np.float32, buffer, 2 * crop_bytes)
    return targets, searches, labels


def _slot_size(batch_size: int, crop_shape: tuple) -> int:
    return 2 * batch_size * int(np.prod(crop_shape)) + batch_size * 4 * 4


def _worker_main(make_batches, worker_seed, slot_names, batch_size, crop_shape,
                 free_slots, ready_slots):
    try:
        import cv2

        cv2.setNumThreads(1)  # the workers are the parallelism
        slots = [shared_memory.SharedMemory(name=name) for name in slot_names]
        batches = make_batches(np.random.default_rng(worker_seed))
        parent = os.getppid()
        while True:
            try:
                slot = free_slots.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if os.getppid() != parent:  # the consumer died without closing us: leave
                    return
                continue
            if slot is None:
                break
            targets, searches, labels = _slot_arrays(slots[slot].buf, batch_size, crop_shape)
            batch = next(batches)
            targets[...], searches[...], labels[...] = batch
            ready_slots.put(("batch", slot))
    except Exception:  # noqa: BLE001 - every failure must reach the consumer
        ready_slots.put(("error", traceback.format_exc()))


class Prefetcher:
    """Batches from ``make_batches(rng)`` (an iterator of (targets, searches, labels)).

    ``workers=0`` builds each batch in the calling process (same batches as one
    worker with the same seed).  Use as an iterator; call :meth:`close`.
    """

    def __init__(self, make_batches: Callable, batch_size: int, crop_shape: tuple,
                 seed: int, rank: int = 0, workers: int = 1, depth: int = 2,
                 stall_seconds: float = 600.0):
        self.batch_size, self.crop_shape = batch_size, tuple(crop_shape)
        self.stall_seconds = stall_seconds  # a live worker silent this long is stuck
        self.workers = workers
        self._next_worker = 0
        seeds = [np.random.SeedSequence([seed, rank, w]) for w in range(max(workers, 1))]
        if workers == 0:
            self._inline = make_batches(np.random.default_rng(seeds[0]))
            return
        context = spawn_context()
        size = _slot_size(batch_size, self.crop_shape)
        self._slots, self._procs, self._free, self._ready = [], [], [], []
        for w in range(workers):
            slots = [shared_memory.SharedMemory(create=True, size=size) for _ in range(depth)]
            free, ready = context.Queue(), context.Queue()
            for index in range(depth):
                free.put(index)
            proc = context.Process(target=_worker_main, daemon=True, name=f"goturn-data-{w}",
                                   args=(make_batches, seeds[w], [s.name for s in slots],
                                         batch_size, self.crop_shape, free, ready))
            proc.start()
            self._slots.append(slots)
            self._procs.append(proc)
            self._free.append(free)
            self._ready.append(ready)

    def __iter__(self):
        return self

    def __next__(self):
        """The next batch as fresh arrays: targets, searches (N,H,W,3) uint8; labels (N,4) float32."""
        if self.workers == 0:
            return tuple(np.array(a) for a in next(self._inline))
        w = self._next_worker
        self._next_worker = (w + 1) % self.workers
        waited = 0.0
        while True:
            try:
                kind, payload = self._ready[w].get(timeout=POLL_SECONDS)
                break
            except queue.Empty:
                waited += POLL_SECONDS
                if not self._procs[w].is_alive():
                    raise WorkerError(f"data worker {w} died (exit code {self._procs[w].exitcode}) "
                                      "without an error message: killed, or out of memory?") from None
                if waited >= self.stall_seconds:
                    raise WorkerError(f"data worker {w} produced no batch in {waited:.0f} s: "
                                      "stuck (a slow disk, or a deadlock)") from None
        if kind == "error":
            raise WorkerError(f"data worker {w} failed:\n{payload}")
        arrays = tuple(a.copy() for a in _slot_arrays(self._slots[w][payload].buf,
                                                       self.batch_size, self.crop_shape))
        self._free[w].put(payload)
        return arrays

    def close(self) -> None:
        if self.workers == 0:
            return
        for free in self._free:
            free.put(None)
        for proc in self._procs:
            proc.join(timeout=2)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=2)
        for slots in self._slots:
            for slot in slots:
                slot.close()
                slot.unlink()
        self.workers = 0
        self._inline = iter(())

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass
