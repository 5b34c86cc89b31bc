"""One-pass results files in the layouts the field's scorers read, and the server zips.

Under ``<output>/results/<Dataset>/<tracker>/`` (``<Dataset>`` from
:data:`goturn_caffe.ope.sources.KINDS`):

- OTB layout (OTB, UAV123, LaSOT, TrackingNet; what pysot and the got10k
  toolkit's ExperimentOTB / ExperimentLaSOT read): ``<seq>.txt``, one
  ``x,y,w,h`` line per frame, comma-separated, the first line the initial box;
  per-frame seconds in ``times/<seq>_time.txt`` (the got10k toolkit's place).
- GOT-10k layout (ExperimentGOT10k): ``<seq>/<seq>_001.txt`` (the first
  repetition) and ``<seq>/<seq>_time.txt``.

The server zips: GOT-10k's test server takes a zip of the tracker folder itself
(``<seq>/<seq>_001.txt`` and ``<seq>/<seq>_time.txt`` at the zip's root, the
got10k toolkit's ``report`` makes the same); TrackingNet's takes one ``<seq>.txt``
per sequence at the zip's root.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import Optional

import numpy as np

from goturn_caffe.fileio import atomic_path, write_text_atomic
from goturn_caffe.geometry.boxes import parse_numbers

DECIMALS = 4        # the results are scored as read back from the file


class ResultsError(ValueError):
    """An unreadable results file: ``str()`` names the file and the problem."""


def boxes_path(root: Path, dataset, tracker: str, sequence: str) -> Path:
    """The boxes file of ``sequence`` (``dataset``: a :class:`~goturn_caffe.ope.sources.DatasetKind`)."""
    folder = Path(root) / dataset.name / tracker
    if dataset.layout == "got10k":
        return folder / sequence / f"{sequence}_001.txt"
    return folder / f"{sequence}.txt"


def times_path(root: Path, dataset, tracker: str, sequence: str) -> Path:
    folder = Path(root) / dataset.name / tracker
    if dataset.layout == "got10k":
        return folder / sequence / f"{sequence}_time.txt"
    return folder / "times" / f"{sequence}_time.txt"


def quantize(boxes) -> np.ndarray:
    """Boxes as they read back from a results file."""
    return np.round(np.asarray(boxes, dtype=np.float64), DECIMALS)


def write_results(boxes_file: Path, boxes, times: Optional[list] = None,
                  times_file: Optional[Path] = None) -> None:
    """Write the boxes (``(N, 4)`` x,y,w,h) and their per-frame seconds, atomically;
    times first, so a boxes file on disk always has its times."""
    if times is not None and times_file is not None:
        write_text_atomic(times_file, "".join(f"{t:.8f}\n" for t in times))
    write_text_atomic(boxes_file, "".join(",".join(f"{v:.{DECIMALS}f}" for v in row) + "\n"
                                          for row in np.asarray(boxes, dtype=np.float64)))


def read_results(path: Path, frames: Optional[int] = None) -> np.ndarray:
    """A boxes file -> ``(N, 4)`` array (NaN rows kept); ResultsError naming the file
    and line when a line is not 4 numbers, or when it has not ``frames`` lines."""
    path = Path(path)
    try:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
    except OSError as exc:
        raise ResultsError(f"{path}: unreadable results file: {exc.strerror or exc}") from None
    rows = []
    for number, line in enumerate(lines, 1):
        try:
            values = parse_numbers(line)
        except ValueError as exc:
            raise ResultsError(f"{path}:{number}: {exc}") from None
        if len(values) != 4:
            raise ResultsError(f"{path}:{number}: expected x,y,w,h, got {len(values)} values")
        rows.append(values)
    if frames is not None and len(rows) != frames:
        raise ResultsError(f"{path}: {len(rows)} boxes for a sequence of {frames} frames")
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


def read_times(path: Path) -> Optional[list]:
    """Per-frame seconds (None when the file is missing)."""
    path = Path(path)
    if not path.is_file():
        return None
    return [float(v) for line in path.read_text().splitlines() if line.strip()
            for v in parse_numbers(line)[:1] if not math.isnan(v)]


def write_submission(zip_file: Path, members: dict) -> Path:
    """A zip holding ``{name in the zip: file}``, written atomically (deflated)."""
    with atomic_path(zip_file) as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, source in sorted(members.items()):
                archive.write(source, name)
    return Path(zip_file)


def submission_members(root: Path, dataset, tracker: str, sequences: list) -> dict:
    """What the server of ``dataset`` takes for ``tracker``: ``{name in zip: file}``."""
    members = {}
    for sequence in sequences:
        boxes = boxes_path(root, dataset, tracker, sequence)
        if dataset.submission == "got10k":
            members[f"{sequence}/{boxes.name}"] = boxes
            members[f"{sequence}/{sequence}_time.txt"] = times_path(root, dataset, tracker, sequence)
        else:
            members[f"{sequence}.txt"] = boxes
    return members
