"""Items (groups of examples) built ahead of time in worker processes, handed over in shared memory.

Each worker owns one shared-memory block of a few slots, each slot holding one
item: ``count`` examples of uint8 crops and float32 labels (the crops of a
batch of 50 are 15.5 MB: passing them through a pipe would cost more than
building them).  The worker fills a free slot and announces it; the consumer
copies it out and frees it again.

Determinism: an item is a pure function of its index, ``make_item(index)``
(the maker seeds its own generator from the index); with ``workers`` W,
worker ``w`` builds items ``start + w``, ``start + w + W``, ... and the
consumer takes them in index order, so the sequence is the same for any
number of workers, and starting at ``start`` continues it from there.  A
worker that raises sends its traceback; one that dies silently (killed, out of
memory) is noticed by its exit code: either way the consumer raises
:class:`WorkerError`, never hangs.  What a maker skipped while building an
item (its ``take_skipped()``, if it has one: undecodable images) travels with
the item and is gathered in :attr:`Prefetcher.skipped`, in item order.

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


def _slot_arrays(buffer, count: int, crop_shape: tuple, slot: int = 0):
    """Views of slot ``slot`` of a worker's block: targets, searches (N, H, W, 3) uint8
    and labels (N, 4) float32."""
    crop_bytes = count * int(np.prod(crop_shape))
    offset = slot * _slot_size(count, crop_shape)
    targets = np.ndarray((count,) + crop_shape, np.uint8, buffer, offset)
    searches = np.ndarray((count,) + crop_shape, np.uint8, buffer, offset + crop_bytes)
    labels = np.ndarray((count, 4), np.float32, buffer, offset + 2 * crop_bytes)
    return targets, searches, labels


def _slot_size(count: int, crop_shape: tuple) -> int:
    return 2 * count * int(np.prod(crop_shape)) + count * 4 * 4


def _worker_main(make_item, first, stride, block_name, count, crop_shape,
                 free_slots, ready_slots):
    try:
        import cv2

        cv2.setNumThreads(1)  # the workers are the parallelism
        block = shared_memory.SharedMemory(name=block_name)
        parent = os.getppid()
        index = first
        while True:
            try:
                slot = free_slots.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if os.getppid() != parent:  # the consumer died without closing us: leave
                    return
                continue
            if slot is None:
                break
            targets, searches, labels = _slot_arrays(block.buf, count, crop_shape, slot)
            targets[...], searches[...], labels[...] = make_item(index)
            ready_slots.put(("item", (slot, _take_skipped(make_item))))
            index += stride
    except Exception:  # noqa: BLE001 - every failure must reach the consumer
        ready_slots.put(("error", traceback.format_exc()))


def _take_skipped(make_item) -> list:
    take = getattr(make_item, "take_skipped", None)
    return take() if take is not None else []


class Prefetcher:
    """Items ``make_item(index)`` for index = ``start``, ``start + 1``, ..., in order:
    each a tuple (targets, searches (count, H, W, 3) uint8, labels (count, 4) float32).

    ``make_item`` must be picklable and a pure function of the index (see the
    module doc).  ``workers=0`` builds each item in the calling process (the
    same items).  ``depth``: slots per worker.  ``position`` is the index of the
    next item; ``skipped`` what the maker skipped for the items handed out so
    far.  Use as an iterator; call :meth:`close`.
    """

    def __init__(self, make_item: Callable, count: int, crop_shape: tuple, start: int = 0,
                 workers: int = 1, depth: int = 2, stall_seconds: float = 600.0):
        self.count, self.crop_shape = count, tuple(crop_shape)
        self.stall_seconds = stall_seconds  # a live worker silent this long is stuck
        self.workers = workers
        self.position = start
        self.skipped: list = []
        self._next_worker = 0
        if workers == 0:
            self._make_item = make_item
            return
        context = spawn_context()
        size = _slot_size(count, self.crop_shape)
        self._blocks, self._procs, self._free, self._ready = [], [], [], []
        for w in range(workers):
            block = shared_memory.SharedMemory(create=True, size=size * depth)
            free, ready = context.Queue(), context.Queue()
            for index in range(depth):
                free.put(index)
            proc = context.Process(target=_worker_main, daemon=True, name=f"goturn-data-{w}",
                                   args=(make_item, start + w, workers, block.name, count,
                                         self.crop_shape, free, ready))
            proc.start()
            self._blocks.append(block)
            self._procs.append(proc)
            self._free.append(free)
            self._ready.append(ready)

    def __iter__(self):
        return self

    def __next__(self):
        """The next item as fresh arrays: targets, searches (N,H,W,3) uint8; labels (N,4) float32."""
        if self.workers == 0:
            item = tuple(np.array(a) for a in self._make_item(self.position))
            self.skipped += _take_skipped(self._make_item)
            self.position += 1
            return item
        w = self._next_worker
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
                    raise WorkerError(f"data worker {w} produced nothing in {waited:.0f} s: "
                                      "stuck (a slow disk, or a deadlock)") from None
        if kind == "error":
            raise WorkerError(f"data worker {w} failed:\n{payload}")
        slot, skipped = payload
        arrays = tuple(a.copy() for a in _slot_arrays(self._blocks[w].buf, self.count,
                                                       self.crop_shape, slot))
        self._free[w].put(slot)
        self.skipped += skipped
        self._next_worker = (w + 1) % self.workers
        self.position += 1
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
        for block in self._blocks:
            block.close()
            block.unlink()
        self.workers = 0
        self._make_item = _closed

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


def _closed(index):
    raise StopIteration
