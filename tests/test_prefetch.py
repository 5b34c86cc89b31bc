"""Prefetching in worker processes: same items as inline, errors surface, no hangs."""

import os
import signal
from pathlib import Path

import numpy as np
import pytest

from goturn_caffe.train.prefetch import Prefetcher, WorkerError

CROP = (8, 8, 3)


class CountingBatches:
    """Items whose content identifies their index's draw (picklable)."""

    def __init__(self, fail_at=None):
        self.fail_at = fail_at

    def __call__(self, index):
        if self.fail_at is not None and index == self.fail_at:
            raise RuntimeError("bad image in worker")
        values = np.random.default_rng([index, 7]).integers(0, 255, size=3)
        return (np.full((4,) + CROP, values[0], np.uint8), np.full((4,) + CROP, values[1], np.uint8),
                np.full((4, 4), values[2], np.float32))


def take(prefetcher, n):
    try:
        return [next(prefetcher) for _ in range(n)]
    finally:
        prefetcher.close()


def same_items(first, second):
    return len(first) == len(second) and all(
        np.array_equal(x, y) for a, b in zip(first, second) for x, y in zip(a, b))


def test_items_are_the_same_for_any_number_of_workers_and_in_index_order():
    inline = take(Prefetcher(CountingBatches(), 4, CROP, workers=0), 7)
    assert same_items(inline, [CountingBatches()(i) for i in range(7)])
    assert same_items(inline, take(Prefetcher(CountingBatches(), 4, CROP, workers=1), 7))
    assert same_items(inline, take(Prefetcher(CountingBatches(), 4, CROP, workers=3, depth=1), 7))
    assert inline[0][0].dtype == np.uint8 and inline[0][2].dtype == np.float32


def test_a_start_index_continues_the_sequence_there():
    whole = take(Prefetcher(CountingBatches(), 4, CROP, workers=0), 8)
    prefetcher = Prefetcher(CountingBatches(), 4, CROP, start=3, workers=2)
    assert prefetcher.position == 3
    tail = take(prefetcher, 5)
    assert same_items(whole[3:], tail) and prefetcher.position == 8


def test_worker_exception_reaches_the_consumer():
    prefetcher = Prefetcher(CountingBatches(fail_at=1), 4, CROP, workers=1)
    try:
        next(prefetcher)
        with pytest.raises(WorkerError, match="bad image in worker"):
            next(prefetcher)
    finally:
        prefetcher.close()


def test_killed_worker_is_an_error_not_a_hang():
    prefetcher = Prefetcher(CountingBatches(), 4, CROP, workers=1, depth=1)
    try:
        next(prefetcher)
        os.kill(prefetcher._procs[0].pid, signal.SIGKILL)
        prefetcher._procs[0].join(timeout=5)
        with pytest.raises(WorkerError, match="died"):
            for _ in range(3):
                next(prefetcher)
    finally:
        prefetcher.close()


class ResizingBatches(CountingBatches):
    """Batches that use OpenCV in the worker, as the real example generator does."""

    def __call__(self, index):
        import cv2

        targets, searches, labels = CountingBatches.__call__(self, index)
        big = cv2.resize(np.full((720, 1280, 3), 7, np.uint8), (900, 500))
        return targets, searches, labels + float(big[0, 0, 0])


def test_workers_use_opencv_after_the_parent_did():
    import cv2

    # The parent starts OpenCV's thread pool first; a forked worker could then hang.
    cv2.resize(np.zeros((1080, 1920, 3), np.uint8), (960, 540))
    prefetcher = Prefetcher(ResizingBatches(), 4, CROP, workers=2, stall_seconds=60)
    try:
        batches = [next(prefetcher) for _ in range(4)]
    finally:
        prefetcher.close()
    assert all(np.all(b[2] >= 7) for b in batches)


def test_workers_exit_when_their_consumer_is_killed(tmp_path):
    import subprocess
    import sys
    import time

    script = tmp_path / "consumer.py"
    script.write_text(
        "import os, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
        "from test_prefetch import CountingBatches, CROP\n"
        "from goturn_caffe.train.prefetch import Prefetcher\n"
        "if __name__ == '__main__':\n"
        "    p = Prefetcher(CountingBatches(), 4, CROP, workers=1)\n"
        "    next(p)\n"
        "    print(p._procs[0].pid, flush=True)\n"
        "    os._exit(0)  # no close(), no atexit: as if killed\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    worker = int(out.stdout.split()[0])

    def running():  # a zombie (state Z) has exited; only its parent has not reaped it
        stat = Path(f"/proc/{worker}/stat")
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (FileNotFoundError, ProcessLookupError):
            return False

    deadline = time.time() + 10
    while time.time() < deadline and running():
        time.sleep(0.2)
    assert not running(), "an orphaned data worker kept running"
