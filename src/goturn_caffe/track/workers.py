"""Trackers run over a benchmark's units of work, in this process or in worker
processes, with one progress bar: what every evaluation runner
(:mod:`goturn_caffe.vot.runner`, :mod:`goturn_caffe.ope.runner`) drives.

A unit is whatever a benchmark runs at once (a sequence of an experiment, a
sequence of a one-pass run): it names the tracker to run (``registry_name``),
its ``frames`` per run and the ``expected`` runs planned.  The benchmark's own
part is the picklable module-level ``run_unit(tracker, unit, context, report)
-> runs done``, which tracks, writes its files and calls ``report(frames)`` as
it goes; ``context`` (picklable) is the benchmark's data, sent once to each
worker.

Workers are started with the ``spawn`` method (a pycaffe net belongs to the
process that made it); each builds its own trackers with the picklable
``factory(registry name)``, once per process, and runs whole units, so a unit's
files do not depend on which process ran it or when.  One worker builds each
tracker before anything runs, so a bad model file stops the run before any
progress is shown.  A worker that dies (killed, out of memory) stops the run
with one line (ChildProcessError); an error or Ctrl-C ends the workers at once.

BLAS threads: OpenBLAS's sums depend on its thread count (measured with Caffe's
OpenBLAS on the GOTURN net: 1, 2 and 3 threads give three different outputs in
the last float bits, which grow to the 4th decimal of the boxes over a
sequence).  So every process that tracks -- this one with ``jobs`` 1, each
worker otherwise -- runs its BLAS with the same :func:`tracking_threads`: 1, or
OPENBLAS_NUM_THREADS (else OMP_NUM_THREADS) when the user set it.  Parallelism
comes from ``jobs``, never from the thread count, and any ``jobs`` writes the
same files byte for byte.

Workers die with their parent: a SIGKILLed or crashed parent takes them along
(Linux's parent-death signal, and a watchdog thread polling the parent's pid
elsewhere), so none goes on tracking, or sits holding its net, for nobody.
:func:`sigterm_raises` turns SIGTERM into :class:`Terminated` so that a tool can
stop its workers and end with one line (exit status :data:`TERMINATED_STATUS`).
"""

from __future__ import annotations

import ctypes
import os
import queue as queue_module
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Optional

from tqdm import tqdm

from goturn_caffe.train.prefetch import spawn_context

ETA_AFTER_SECONDS = 10.0        # measure this long before announcing the ETA
FLUSH_SECONDS = 0.25            # how often a worker reports its frames
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
PARENT_POLL_SECONDS = 1.0       # how often a worker's watchdog looks for its parent
PR_SET_PDEATHSIG = 1            # prctl option (linux/prctl.h)
TERMINATED_STATUS = 128 + 15    # the shell's status for a process ended by SIGTERM
# The thread-count setters of the OpenBLAS builds a process may hold: the usual
# name, and the prefixed ones of the scipy-openblas wheels numpy ships.
BLAS_THREAD_SETTERS = ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
                       "scipy_openblas_set_num_threads")
BLAS_THREAD_GETTERS = ("openblas_get_num_threads", "scipy_openblas_get_num_threads64_",
                       "scipy_openblas_get_num_threads")


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (see :func:`sigterm_raises`): handled like Ctrl-C (workers
    stopped, finished work kept), reported as a termination."""


@contextmanager
def sigterm_raises():
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread
    instead of ending the process on the spot (no cleanup, orphaned workers); the
    previous handler comes back after.  Does nothing outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminated(signum, frame):
        raise Terminated("terminated (SIGTERM)")

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ---- BLAS threads ------------------------------------------------------------------
def tracking_threads(environ=None) -> int:
    """The BLAS thread count of every process that tracks: the user's
    OPENBLAS_NUM_THREADS (else OMP_NUM_THREADS) when it is a whole number >= 1, else 1."""
    environ = os.environ if environ is None else environ
    for name in THREAD_VARIABLES:
        try:
            value = int(environ.get(name, ""))
        except ValueError:
            continue
        if value >= 1:
            return value
    return 1


def _loaded_openblas() -> list:
    """Paths of the OpenBLAS libraries this process has loaded (Linux; [] elsewhere)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return []
    paths = {line.split(None, 5)[-1].strip() for line in maps.splitlines() if line.count(" ") >= 5}
    return sorted(p for p in paths if p.startswith("/") and "openblas" in Path(p).name.lower())


def _blas_function(library: ctypes.CDLL, names: tuple):
    for name in names:
        function = getattr(library, name, None)
        if function is not None:
            return function
    return None


def set_blas_threads(count: int) -> dict:
    """Set the thread count of every loaded OpenBLAS (libraries loaded later read
    the environment, see :func:`tracking_threads`); returns ``{path: previous
    count}`` for :func:`restore_blas_threads`."""
    previous = {}
    for path in _loaded_openblas():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        setter = _blas_function(library, BLAS_THREAD_SETTERS)
        getter = _blas_function(library, BLAS_THREAD_GETTERS)
        if setter is None:
            continue
        previous[path] = int(getter()) if getter is not None else None
        setter(ctypes.c_int(int(count)))
    return previous


def restore_blas_threads(previous: dict) -> None:
    """Give each OpenBLAS of ``previous`` (:func:`set_blas_threads`) its count back."""
    for path, count in previous.items():
        setter = _blas_function(ctypes.CDLL(path), BLAS_THREAD_SETTERS) if count else None
        if setter is not None:
            setter(ctypes.c_int(int(count)))


# ---- dying with the parent ---------------------------------------------------------
def watch_parent(parent: int, interval: float = PARENT_POLL_SECONDS,
                 orphaned: Optional[Callable] = None) -> None:
    """Return once this process's parent is no longer ``parent`` (it died and the
    process was re-parented), after calling ``orphaned`` (default: end this
    process at once, as the parent-death signal would)."""
    while os.getppid() == parent:
        time.sleep(interval)
    (orphaned or _end_now)()


def _end_now() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def die_with_parent(parent: int) -> None:
    """Make this (worker) process end when ``parent`` does: the parent-death signal
    (SIGKILL) on Linux, a daemon thread running :func:`watch_parent` everywhere
    (a signal the kernel could not set, or a parent that died before it was)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    threading.Thread(target=watch_parent, args=(parent,), name="parent-watchdog",
                     daemon=True).start()


# ---- progress ----------------------------------------------------------------------
def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Progress:
    """Progress over every frame to track, on ``stream`` (default stderr): on a
    terminal a tqdm bar (rate, remaining time); otherwise (a pipe, a log file) a
    plain line every tenth of the work, never tqdm's cursor movements.  One ETA line
    (through ``log``) once the rate has been measured for ``ETA_AFTER_SECONDS``."""

    def __init__(self, total: int, show: bool = True, log: Callable = print, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        terminal = show and isatty is not None and isatty()
        self.bar = tqdm(total=total, unit="frame", desc="tracking", file=self.stream, smoothing=0.05,
                        dynamic_ncols=True, disable=not terminal)
        self.show, self.log, self.total = show, log, total
        self.started = time.monotonic()
        self.frames = 0
        self.announced = False
        self.every = max(1, total // 10)
        self.next_line = self.every

    def _rate(self) -> tuple:
        elapsed = time.monotonic() - self.started
        return elapsed, (self.frames / elapsed if elapsed > 0 else 0.0)

    def advance(self, frames: int) -> None:
        self.bar.update(frames)
        self.frames += frames
        elapsed, rate = self._rate()
        remaining = max(self.total - self.frames, 0)
        if not self.announced and rate > 0 and elapsed >= ETA_AFTER_SECONDS:
            self.announced = True
            self.say(f"ETA: {format_duration(remaining / rate)} for the {remaining} frames left, "
                     f"at the {rate:.1f} frames/s of the first {format_duration(elapsed)}")
        if self.show and self.bar.disable and self.frames >= self.next_line:
            self.next_line = self.frames + self.every
            left = f", about {format_duration(remaining / rate)} left" if rate > 0 else ""
            print(f"tracking: {self.frames}/{self.total} frames "
                  f"({100 * self.frames / max(self.total, 1):.0f}%), {rate:.1f} frames/s{left}",
                  file=self.stream, flush=True)

    def finished(self, unit, ran: int) -> None:
        """A unit ended after ``ran`` runs: correct the total for what it really took."""
        change = (ran - unit.expected) * unit.frames
        if change:
            self.total = max(self.total + change, self.frames)
            self.bar.total = self.total
            self.bar.refresh()

    def say(self, message: str) -> None:
        if self.bar.disable:
            self.log(message)
        else:
            self.bar.write(message)

    def close(self) -> None:
        self.bar.close()


# ---- running the units -------------------------------------------------------------
def planned_frames(units: list) -> int:
    return sum(u.expected * u.frames for u in units)


def registry_names(units: list) -> list:
    """The trackers ``units`` need, each once, in their order."""
    return list(dict.fromkeys(u.registry_name for u in units))


def run_units(units: list, factory: Callable, run_unit: Callable, context: Any, jobs: int = 1,
              show_progress: bool = True, log: Callable = print, kept: str = "") -> None:
    """Run ``units`` with one progress bar (frames, rate, ETA): in this process
    (``jobs`` 1, in their order) or in ``jobs`` worker processes (the longest
    first).  Every tracker is built first, so a bad model file stops the run
    before any progress is shown.  ``run_unit(tracker, unit, context, report)``
    runs one unit; ``kept`` says where the finished work is, for the one line
    (ChildProcessError) that a dead worker ends the run with."""
    if not units:
        return

    def start_progress() -> Progress:
        return Progress(planned_frames(units), show_progress, log)

    if jobs > 1:
        run_in_workers(units, factory, run_unit, context, jobs, start_progress, kept)
        return
    trackers = {name: factory(name) for name in registry_names(units)}
    progress = start_progress()
    previous = set_blas_threads(tracking_threads())   # the workers' count: the same files
    try:
        for unit in units:
            progress.finished(unit, run_unit(trackers[unit.registry_name], unit, context,
                                             progress.advance))
    finally:
        restore_blas_threads(previous)
        progress.close()


_worker: dict = {}


def _start_worker(parent: int, factory: Callable, run_unit: Callable, context: Any, reports,
                  threads: int) -> None:
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the parent's to handle
    # tqdm's default lock is a multiprocessing semaphore, which a worker stopped
    # mid-unit would leave registered (a "leaked semaphore" warning at the end);
    # a worker's bars are never shown, so a thread lock is enough.
    tqdm.set_lock(threading.RLock())
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)            # for a BLAS loaded later (Caffe's)
    set_blas_threads(threads)                      # and the ones loaded already
    _worker.update(factory=factory, run_unit=run_unit, context=context, reports=reports,
                   threads=threads, trackers={})


def _tracker(registry_name: str):
    trackers = _worker["trackers"]
    if registry_name not in trackers:
        trackers[registry_name] = _worker["factory"](registry_name)
        set_blas_threads(_worker["threads"])       # a BLAS the tracker brought along
    return trackers[registry_name]


def _prepare(registry_name: str) -> None:
    _tracker(registry_name)     # built here, never sent back (a tracker does not pickle)


def _run_in_worker(unit) -> int:
    tracker = _tracker(unit.registry_name)
    pending, last = 0, time.monotonic()

    def report(frames: int) -> None:
        nonlocal pending, last
        pending += frames
        if time.monotonic() - last >= FLUSH_SECONDS:
            _worker["reports"].put(pending)
            pending, last = 0, time.monotonic()

    try:
        return _worker["run_unit"](tracker, unit, _worker["context"], report)
    finally:
        if pending:
            _worker["reports"].put(pending)


def _drain(reports, progress: Progress) -> None:
    while True:
        try:
            progress.advance(reports.get_nowait())
        except queue_module.Empty:
            return


def run_in_workers(units: list, factory: Callable, run_unit: Callable, context: Any, jobs: int,
                   start_progress: Callable, kept: str = "") -> None:
    """:func:`run_units` in ``jobs`` spawned processes, after one worker has built
    each tracker; ``start_progress()`` -> :class:`Progress`."""
    spawn = spawn_context()
    reports = spawn.Queue()
    jobs = max(1, min(jobs, len(units)))
    order = sorted(units, key=lambda u: -u.expected * u.frames)
    pool = ProcessPoolExecutor(jobs, mp_context=spawn, initializer=_start_worker,
                               initargs=(os.getpid(), factory, run_unit, context, reports,
                                         tracking_threads()))
    progress = None
    try:
        for future in [pool.submit(_prepare, name) for name in registry_names(units)]:
            future.result()
        progress = start_progress()
        futures = {pool.submit(_run_in_worker, unit): unit for unit in order}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=FLUSH_SECONDS, return_when=FIRST_COMPLETED)
            _drain(reports, progress)
            for future in done:
                progress.finished(futures[future], future.result())
        _drain(reports, progress)
    except BrokenProcessPool:
        raise ChildProcessError("a worker process died (killed, or out of memory)"
                                + (f"; {kept}" if kept else "") + ": rerun to do the rest") from None
    except BaseException:
        _stop_workers(pool)     # an error or Ctrl-C: do not wait for whole units to end
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if progress is not None:
            progress.close()


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """End the pool's processes now (an unfinished unit is redone by a rerun)."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        if process.is_alive():
            process.terminate()
