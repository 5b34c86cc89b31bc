"""VOT results files: trajectories with the toolkit's frame codes, written atomically.

Layout (the VOT toolkit's): ``<root>/<tracker>/<experiment>/<sequence>/<sequence>_<rep:03d>.txt``
with one line per frame: ``1`` = the tracker was (re)initialised on this frame,
``2`` = it failed here, ``0`` = frame skipped (the 5 frames before a
re-initialisation), otherwise the tracker's region ``x,y,w,h`` (or a polygon).
Per-frame times go beside it as ``<sequence>_<rep:03d>_time.value`` (seconds),
which the Python toolkit reads as the ``time`` property.

In memory a trajectory is a list whose items are an ``int`` code or a tuple of
region numbers.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

from goturn_caffe.fileio import write_text_atomic
from goturn_caffe.geometry.boxes import is_region_length, parse_numbers

SKIPPED, INITIALIZED, FAILED = 0, 1, 2
# Regions are written with this many decimals; the protocol measures the
# written (rounded) region so that the file scores exactly as the run did.
DECIMALS = 4


class ResultsError(ValueError):
    """An unreadable results file; ``str()`` names the file and the problem."""


def quantize_region(values) -> tuple:
    """A region as it will read back from the file (``DECIMALS`` decimals)."""
    return tuple(float(f"{float(v):.{DECIMALS}f}") for v in values)


def format_entry(entry) -> str:
    if isinstance(entry, int):
        return str(entry)
    return ",".join(f"{v:.{DECIMALS}f}" for v in entry)


def parse_entry(line: str, where: str):
    """One trajectory line -> int code or region tuple (ResultsError when malformed)."""
    try:
        values = parse_numbers(line)
    except ValueError as exc:
        raise ResultsError(f"{where}: {exc}") from None
    if len(values) == 1 and values[0] in (SKIPPED, INITIALIZED, FAILED):
        return int(values[0])
    if any(math.isnan(v) for v in values):
        return SKIPPED  # the toolkit reads a NaN region as unknown
    if not is_region_length(len(values)):
        raise ResultsError(f"{where}: expected a code 0/1/2, x,y,w,h or a polygon, "
                           f"got {len(values)} values")
    return tuple(values)


def check_results_name(name: str) -> str:
    """``name`` when it can name a results folder of its own: one plain folder
    name (not empty, no path separator, not ``.`` or ``..``); ValueError otherwise."""
    text = str(name)
    if (not text.strip() or text in (".", "..") or "/" in text or "\\" in text
            or "\0" in text or text != text.strip()):
        raise ValueError(f"{name!r} is not a plain folder name for a tracker's results "
                         "(no '/', not '.' or '..', no leading or trailing spaces)")
    return text


def trajectory_path(root: Path, tracker: str, experiment: str, sequence: str, repetition: int) -> Path:
    """``<root>/<tracker>/<experiment>/<sequence>/<sequence>_<rep:03d>.txt`` (rep is 1-based)."""
    return Path(root) / tracker / experiment / sequence / f"{sequence}_{repetition:03d}.txt"


def times_path(trajectory: Path) -> Path:
    return trajectory.with_name(f"{trajectory.stem}_time.value")


def write_trajectory(path: Path, trajectory: list, times: Optional[list] = None) -> None:
    """Write a trajectory (and its per-frame seconds) atomically; times first, so a
    trajectory file on disk always has its times."""
    if times is not None:
        write_text_atomic(times_path(path), "".join(f"{t:.6f}\n" for t in times))
    write_text_atomic(path, "".join(format_entry(e) + "\n" for e in trajectory))


def read_trajectory(path: Path) -> list:
    """Read a trajectory file -> list of codes / region tuples."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ResultsError(f"{path}: unreadable results file: {exc.strerror or exc}") from None
    return [parse_entry(line, f"{path}:{n}") for n, line in enumerate(lines, 1) if line.strip()]


def read_times(path: Path) -> Optional[list]:
    """Per-frame seconds beside a trajectory file; None when absent."""
    times = times_path(Path(path))
    if not times.is_file():
        return None
    return [float(line) for line in times.read_text().splitlines() if line.strip()]


def repetition_paths(root: Path, tracker: str, experiment: str, sequence: str) -> list:
    """The trajectory files of one sequence that exist, in repetition order (1, 2, ...)."""
    paths = []
    repetition = 1
    while (path := trajectory_path(root, tracker, experiment, sequence, repetition)).is_file():
        paths.append(path)
        repetition += 1
    return paths
