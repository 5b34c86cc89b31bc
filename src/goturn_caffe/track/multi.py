"""Several targets in one video, one batched step per frame (``tools/track.py
--box ... --box ...`` or ``--boxes FILE``), and the files such a run writes.

The targets are numbered 1, 2, ... in the order of ``--box`` / the lines of
``--boxes``.  Outputs (:class:`TargetsWriter`):

- one boxes file per target, ``x,y,w,h`` per frame (VOT / OTB style, the
  initial box first): ``<folder>/target<k>.txt``, or, for a single target, the
  one file asked for;
- and/or one CSV, ``frame,target,x,y,w,h``, one row per target per frame
  (``frame`` counts from 0; on a live input it is the camera's frame number,
  so the frames dropped while the tracker was busy show as gaps);
- an annotated video (and a live window) with every box and its number.

Everything is written to hidden partial files renamed at the end; a run that
stops early (an error, Ctrl-C) keeps what was tracked so far.
"""

from __future__ import annotations

import csv
import os
import time
from itertools import chain
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import cv2
import numpy as np

from goturn_caffe.fileio import check_not_inputs, claim_private_partial, errors_naming
from goturn_caffe.geometry.boxes import Box
from goturn_caffe.paths import OUTPUT_DIR
from goturn_caffe.track.app import ended_early_line, skipped_line
from goturn_caffe.track.base import BatchTracker, check_init_box
from goturn_caffe.track.goturn import track_targets
from goturn_caffe.track.output import (
    FLUSH_EVERY,
    FrameProgress,
    VideoOutput,
    check_gui,
    check_output_file,
    format_box,
)
from goturn_caffe.track.sequences import SequenceError, open_sequence, parse_box

# BGR, one per target (cycled): green, orange, magenta, cyan, yellow, blue, red, white
COLOURS = ((0, 255, 0), (0, 140, 255), (255, 0, 255), (255, 255, 0), (0, 255, 255),
           (255, 80, 0), (0, 0, 255), (255, 255, 255))
CSV_HEADER = ("frame", "target", "x", "y", "w", "h")


# ----------------------------------------------------------------- initial boxes --
def read_boxes_file(path) -> list:
    """``--boxes FILE``: one ``x,y,w,h`` per line (commas or spaces; blank lines and
    ``#`` comments skipped) -> [Box]; SequenceError naming the file and line."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SequenceError(f"{path}: cannot read the boxes file ({exc})") from None
    boxes = []
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            boxes.append(parse_box(text))
        except ValueError as exc:
            detail = str(exc).split(": ", 1)[-1]
            raise SequenceError(f"{path} line {number}: {text!r}: {detail}") from None
    if not boxes:
        raise SequenceError(f"{path}: no boxes in the file (one x,y,w,h per line)")
    return boxes


def target_boxes(box_texts: Optional[Sequence[str]] = None, boxes_file=None) -> list:
    """The initial boxes of ``--box`` (repeated) followed by those of ``--boxes FILE``."""
    boxes = [parse_box(text) for text in box_texts or ()]
    if boxes_file is not None:
        boxes += read_boxes_file(boxes_file)
    return boxes


def check_target_boxes(boxes: Sequence[Box], frame: np.ndarray, source: str = "") -> None:
    """Every initial box against the first frame (ValueError naming the target and input)."""
    where = f"{source}: " if source else ""
    for number, box in enumerate(boxes, 1):
        try:
            check_init_box(box, frame, where=f"target {number}'s box")
        except ValueError as exc:
            raise ValueError(f"{where}{exc}") from None


# ------------------------------------------------------------------------ tracking --
# ------------------------------------------------------------------------- outputs --
def target_paths(output, name: str, count: int, root: Path) -> list:
    """The boxes file of each target: ``output`` itself for one target, else
    ``<output>/target<k>.txt``; ``output`` None: under ``root`` (``<root>/<name>.txt``
    or ``<root>/<name>/target<k>.txt``)."""
    if count == 1:
        return [Path(output) if output else root / f"{name}.txt"]
    folder = Path(output) if output else root / name
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder}: several targets need a folder for --output (one boxes "
                         "file per target), or use --csv FILE")
    return [folder / f"target{k}.txt" for k in range(1, count + 1)]


def draw_targets(frame: np.ndarray, boxes: Sequence[Box], label: str = "") -> np.ndarray:
    """A copy of ``frame`` with each box drawn in its target's colour and numbered,
    and ``label`` (frame number, fps) in the top-left corner."""
    canvas = frame.copy()
    for number, box in enumerate(boxes, 1):
        colour = COLOURS[(number - 1) % len(COLOURS)]
        x1, y1, x2, y2 = (int(round(v)) for v in box.as_array())
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, 2)
        cv2.putText(canvas, str(number), (x1 + 2, max(y1 - 4, 12)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.5, colour, 1, cv2.LINE_AA)
    if label:
        cv2.putText(canvas, label, (5, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, COLOURS[0], 1,
                    cv2.LINE_AA)
    return canvas


class TargetsWriter:
    """Writes each frame's boxes as tracking goes (see the module doc): the boxes
    files ``boxes_paths`` (one per target, or None), the CSV ``csv_path``, the
    video ``video_path``, a live window (``show``, with the frames per second).

    Every output is checked, and with ``frame_size`` the video writer opened,
    here, before anything is tracked (ValueError naming the file); :meth:`discard`
    removes the partial files of a run that never started.
    """

    def __init__(self, count: int, boxes_paths: Optional[Sequence] = None, csv_path=None,
                 video_path=None, show: bool = False, fps: float = 30.0,
                 frame_size: Optional[tuple] = None, title: str = "GOTURN"):
        self.count = count
        self.boxes_paths = [check_output_file(p, "--output") for p in boxes_paths or ()]
        self.csv_path = check_output_file(csv_path, "--csv") if csv_path else None
        self.video = VideoOutput(video_path, fps) if video_path else None
        if show:
            check_gui("--show")
        self.show, self.fps, self.title = show, fps, title
        self.frames = 0
        self._files, self._csv, self._partials = [], None, {}
        self._stamps: list = []
        self.display_fps = 0.0
        try:
            for path in self.boxes_paths:
                self._files.append(self._open_partial(path))
            if self.csv_path:
                self._csv_file = self._open_partial(self.csv_path, newline="")
                self._csv = csv.writer(self._csv_file)
                self._csv.writerow(CSV_HEADER)
            if frame_size:
                self.open_video(frame_size)
        except BaseException:
            self.discard()
            raise

    @property
    def video_path(self) -> Optional[Path]:
        return self.video.path if self.video else None

    def _open_partial(self, path: Path, **options):
        """The text file written for ``path``: a partial file private to this run."""
        self._partials[path] = claim_private_partial(path)
        return open(self._partials[path], "w", **options)

    def _outputs(self) -> list:
        """(final path, open file) of each text output."""
        return list(zip(self.boxes_paths, self._files)) + (
            [(self.csv_path, self._csv_file)] if self._csv else [])

    def open_video(self, size: tuple) -> None:
        """Open the video writer for frames of ``size`` (width, height), if a video is
        asked for and not open yet (ValueError naming the file when OpenCV cannot)."""
        if self.video:
            self.video.open(size)

    def add(self, number: int, frame, boxes: Sequence[Box]) -> bool:
        """Record frame ``number``'s boxes; True when the window's user asked to stop."""
        for path, file, box in zip(self.boxes_paths, self._files, boxes):
            with errors_naming(path):
                file.write(format_box(box) + "\n")
        if self._csv:
            with errors_naming(self.csv_path):
                for target, box in enumerate(boxes, 1):
                    self._csv.writerow([number, target] + format_box(box).split(","))
        self.frames += 1
        if self.frames % FLUSH_EVERY == 0:
            self.flush()
        self._tick()
        if frame is None or not (self.video or self.show):
            return False
        label = f"#{number}" + (f"  {self.display_fps:.1f} fps" if self.show else "")
        canvas = draw_targets(frame, boxes, label)
        if self.video:
            self.video.write(canvas)
        if self.show:
            cv2.imshow(self.title, canvas)
            return (cv2.waitKey(1) & 0xFF) in (ord("q"), 27)
        return False

    def _tick(self) -> None:
        """Frames per second over the last second or so (what the live window shows)."""
        now = time.perf_counter()
        self._stamps = [t for t in self._stamps if now - t < 1.0] + [now]
        if len(self._stamps) > 1:
            self.display_fps = (len(self._stamps) - 1) / (self._stamps[-1] - self._stamps[0])

    def flush(self) -> None:
        for path, file in self._outputs():
            with errors_naming(path):
                file.flush()

    def discard(self) -> None:
        """Close and delete the partial files (the final names are not touched)."""
        for _, file in self._outputs():
            try:
                file.close()
            except OSError:
                pass    # a full disk: the partial goes anyway
        if self.video:
            self.video.discard()
        for partial in self._partials.values():
            partial.unlink(missing_ok=True)

    def close(self) -> None:
        """Close every file and rename it to its final name (also after an early stop);
        the video last, and only when complete (ValueError naming it; the boxes stay)."""
        try:
            for path, file in self._outputs():
                with errors_naming(path):
                    file.close()
                    os.replace(self._partials[path], path)
        except BaseException:
            self.discard()
            raise
        if self.show:
            cv2.destroyAllWindows()
        if self.video:
            try:
                self.video.finish()
            except ValueError as exc:
                raise ValueError(f"{exc}; the boxes are in {self.written(video=False)}") from None

    def written(self, video: bool = True) -> str:
        """Where the outputs are, for the summary line."""
        parts = []
        if self.boxes_paths:
            where = self.boxes_paths[0] if len(self.boxes_paths) == 1 else \
                f"{self.boxes_paths[0].parent}/target1..{len(self.boxes_paths)}.txt"
            parts.append(f"boxes {where}")
        if self.csv_path:
            parts.append(f"CSV {self.csv_path}")
        if self.video_path and video:
            parts.append(f"video {self.video_path}")
        return ", ".join(parts)


def run_targets(tracker: BatchTracker, frames: Iterable, boxes: Sequence[Box],
                writer: TargetsWriter, name: str, total: Optional[int] = None) -> tuple:
    """:func:`track_targets` into ``writer``, with progress on stderr (``total``
    frames when known); returns ``(result, summary line)``.  Stopped early (a frame
    error, Ctrl-C) the outputs so far are kept and the error says where."""
    progress = FrameProgress(name, total)

    def on_boxes(number, frame, current):
        progress.update()
        return writer.add(number, frame, current)

    try:
        result = track_targets(tracker, frames, boxes, on_boxes=on_boxes)
    except ValueError as exc:
        progress.close()
        writer.close()
        raise ValueError(f"stopped ({exc}); the {writer.frames} frames so far are in "
                         f"{writer.written()}") from exc
    except KeyboardInterrupt:
        progress.close()
        writer.close()
        raise KeyboardInterrupt(f"the {writer.frames} frames so far are in {writer.written()}") \
            from None
    except OSError:     # an output that cannot be written (a full disk): nothing half-written
        progress.close()
        writer.discard()
        raise
    progress.close()
    writer.close()
    line = (f"{name}: {len(boxes)} target(s), {len(result.boxes)} frames; "
            f"{result.network_fps:.1f} fps network only, {result.end_to_end_fps:.1f} fps end to "
            f"end; {writer.written()}")
    return result, line


def output_paths(output, csv_path, name: str, count: int) -> list:
    """The boxes files of a run: ``--output`` (a file for one target, a folder for
    several), by default under output/track/ -- none when only ``--csv`` is asked for."""
    if csv_path and not output:
        return []
    return target_paths(output, name, count, OUTPUT_DIR / "track")


def track_video_targets(path, boxes: Sequence[Box], build: Callable[[], BatchTracker],
                        output=None, csv_path=None, save_video=None, show: bool = False,
                        model_files: Sequence = ()) -> str:
    """Track ``boxes`` (targets 1..N; none: the sequence's first ground-truth box)
    through the video, image folder or sequence folder ``path`` with the batch
    tracker ``build()`` returns, built once the input and the outputs are checked
    (no output may be an input of the run: a frame, the ground truth, the video,
    ``model_files``: the model files with the defaults resolved, and any other file
    read, such as a ``--boxes`` file).  Returns the summary, with a line on frames
    that could not be read and on a video that ended early."""
    sequence = open_sequence(path)
    frames = sequence.frames()
    first = next(frames, None)
    if first is None:
        raise SequenceError(f"{path}: the first frame cannot be read")
    if not boxes:
        truth = sequence.ground_truth
        if not truth or truth[0] is None:
            raise SequenceError(f"{path}: no ground-truth box in the first frame; pass --box")
        boxes = [truth[0]]
    check_target_boxes(boxes, first, str(path))
    paths = output_paths(output, csv_path, sequence.name, len(boxes))
    check_not_inputs({"--output": paths, "--csv": [csv_path], "--save-video": [save_video]},
                     list(sequence.input_files) + list(model_files))
    writer = TargetsWriter(len(boxes), paths, csv_path, save_video, show, sequence.fps,
                           frame_size=(first.shape[1], first.shape[0]))
    try:
        tracker = build()
    except BaseException:
        writer.discard()
        raise
    numbered = chain([(0, first)], enumerate(frames, 1))
    result, line = run_targets(tracker, numbered, boxes, writer, sequence.name, len(sequence))
    if result.skipped:
        line += "\n" + skipped_line(result.skipped, sequence.frame_problems)
    if sequence.ended_early:
        line += "\n" + ended_early_line(sequence)
    return line
