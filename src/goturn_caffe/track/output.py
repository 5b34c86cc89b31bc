"""What a tracking run leaves behind: the boxes file, an annotated video, a summary line.

Every output is checked before the first frame is tracked (a folder where a file
belongs, a video format OpenCV cannot write, a live window OpenCV cannot open),
so a bad option never costs a whole run.  Outputs create their parent folders.
Each is written to a partial file private to the run
(:func:`goturn_caffe.fileio.private_partial_path`) and renamed at the end; the
video only once it holds every frame it was given (:class:`VideoOutput`).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from goturn_caffe.fileio import claim_private_partial, errors_naming
from goturn_caffe.geometry.boxes import Box

BOX_COLOUR = (0, 255, 0)       # BGR: the tracker
TRUTH_COLOUR = (0, 0, 255)     # BGR: the ground truth
VIDEO_CODECS = {".mp4": "mp4v", ".avi": "MJPG"}   # --save-video suffix -> fourcc
FLUSH_EVERY = 10               # frames between flushes of the boxes file


def gui_problem() -> Optional[str]:
    """Why OpenCV cannot open a window here (None when it can): an OpenCV built
    without a GUI backend (the opencv-python-headless wheel), or no display."""
    info = cv2.getBuildInformation()
    gui = next((line.split(":", 1)[1].strip() for line in info.splitlines()
                if line.strip().startswith("GUI:")), "")
    if gui.upper() == "NONE":
        return (f"OpenCV {cv2.__version__} is built without a GUI (the opencv-python-headless "
                "wheel); install opencv-python in its place to open windows")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        return "no display (DISPLAY is not set)"
    return None


def check_gui(option: str) -> None:
    """ValueError naming ``option`` (``--show``, ``--select``) when no window can open."""
    problem = gui_problem()
    if problem:
        raise ValueError(f"{option} needs a window, but {problem}")


def select_box(frame) -> Box:
    """A box drawn with the mouse on ``frame`` (needs a window: :func:`check_gui` first)."""
    x, y, w, h = cv2.selectROI("GOTURN: draw the target, then ENTER", frame, False)
    cv2.destroyAllWindows()
    return Box.from_xywh(x, y, w, h)


def check_output_file(path, option: str) -> Path:
    """An output file name that can be written: not a folder (ValueError naming it)."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: is a folder; {option} takes a file name")
    return path


def check_video_path(path) -> Path:
    """A ``--save-video`` name with a suffix OpenCV can write (ValueError otherwise)."""
    path = check_output_file(path, "--save-video")
    if path.suffix.lower() not in VIDEO_CODECS:
        raise ValueError(f"{path}: cannot write a {path.suffix or 'suffix-less'} video; "
                         f"use {' or '.join(VIDEO_CODECS)}")
    return path


def format_box(box: Box) -> str:
    """``x,y,w,h`` with two decimals: the VOT / OTB results format."""
    return ",".join(f"{v:.2f}" for v in box.to_xywh())


class VideoOutput:
    """An annotated video, written to a private partial file and renamed to ``path``
    only when it is complete: OpenCV's writer fails silently (a full disk, the
    file-size limit), so :meth:`finish` opens the file again and counts its frames.
    A video that is not complete is deleted and the file already at ``path``, if
    any, stays (ValueError naming ``path``)."""

    def __init__(self, path, fps: float = 30.0):
        self.path = check_video_path(path)
        self.fps = fps
        self.codec = VIDEO_CODECS[self.path.suffix.lower()]
        self.partial: Optional[Path] = None     # named when the video opens
        self.size: Optional[tuple] = None
        self.frames = 0
        self._writer = None

    def open(self, size: tuple) -> None:
        """Start the video at ``size`` (width, height): ValueError naming the file when
        OpenCV cannot write it.  Opening again does nothing."""
        if self._writer is not None:
            return
        self.partial = claim_private_partial(self.path)
        writer = cv2.VideoWriter(str(self.partial), cv2.VideoWriter_fourcc(*self.codec), self.fps,
                                 tuple(size))
        if not writer.isOpened():
            self.partial.unlink(missing_ok=True)
            raise ValueError(f"{self.path}: OpenCV cannot write this video ({self.codec} codec)")
        self._writer, self.size = writer, tuple(size)

    def write(self, canvas: np.ndarray) -> None:
        """One frame (opening the video at its size if needed; a frame of another size
        is scaled to the first one's)."""
        self.open((canvas.shape[1], canvas.shape[0]))
        if (canvas.shape[1], canvas.shape[0]) != self.size:
            canvas = cv2.resize(canvas, self.size, interpolation=cv2.INTER_AREA)
        self._writer.write(canvas)
        self.frames += 1

    def discard(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self.partial is not None:
            self.partial.unlink(missing_ok=True)

    def finish(self) -> None:
        """Close the video and rename it to :attr:`path` once it holds every frame; else
        delete it and raise a ValueError naming :attr:`path` (what is there stays)."""
        if self._writer is None:
            return
        self._writer.release()
        self._writer = None
        found = video_frame_count(self.partial)
        if found != self.frames:
            self.partial.unlink(missing_ok=True)
            raise ValueError(f"{self.path}: the video could not be written completely ({found} of "
                             f"its {self.frames} frames readable: a full disk or the file-size "
                             "limit?); it was not saved, and the file already there, if any, is unchanged")
        os.replace(self.partial, self.path)


def video_frame_count(path) -> int:
    """The frames a video file says it holds (0 when OpenCV cannot open it)."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return 0
    capture = cv2.VideoCapture(str(path))
    try:
        return int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    finally:
        capture.release()


class TrackWriter:
    """Writes boxes (and frames) as tracking goes, into hidden partial files renamed
    at the end.

    Every output is checked, and the video writer opened, here, before any frame
    is tracked (ValueError naming the file).  The boxes file is flushed every
    :data:`FLUSH_EVERY` frames, so after a crash (even ``kill -9``) its partial
    file holds the boxes so far; a rerun with the same outputs deletes the
    partials the crashed run left.  The partial files are private to the run, so
    two runs onto one output never mix their lines.  ``close(complete=False)``
    still renames what was written, so a run stopped midway keeps its output so
    far, and no half-written file is ever left under the final name while the run
    is going.  A write that fails (a full disk) raises an OSError naming the file.
    """

    def __init__(self, boxes_path, video_path: Optional[str] = None, show: bool = False,
                 fps: float = 30.0, ground_truth: Optional[list] = None,
                 frame_size: Optional[tuple] = None):
        self.boxes_path = check_output_file(boxes_path, "--output")
        self.video = VideoOutput(video_path, fps) if video_path else None
        if show:
            check_gui("--show")
        self.fps, self.show, self.ground_truth = fps, show, ground_truth
        self.count = 0
        self.overlaps: list = []
        self.static_overlaps: list = []   # the initial box's, on the same frames (a baseline)
        self._first_box: Optional[Box] = None
        self._boxes_tmp = claim_private_partial(self.boxes_path)
        self._boxes_file = open(self._boxes_tmp, "w")
        if self.video and frame_size:
            try:
                self.video.open(frame_size)
            except ValueError:
                self._boxes_file.close()
                self._boxes_tmp.unlink(missing_ok=True)
                raise

    @property
    def video_path(self) -> Optional[Path]:
        return self.video.path if self.video else None

    def add(self, index: int, frame, box: Box) -> None:
        with errors_naming(self.boxes_path):
            self._boxes_file.write(format_box(box) + "\n")
            self.count += 1
            if self.count % FLUSH_EVERY == 0:
                self._boxes_file.flush()
        truth = self.ground_truth[index] if self.ground_truth and index < len(self.ground_truth) else None
        if self._first_box is None:
            self._first_box = box
        if truth is not None:
            self.overlaps.append(box.iou(truth))
            self.static_overlaps.append(self._first_box.iou(truth))
        if frame is None or not (self.video or self.show):
            return
        canvas = frame.copy()
        if truth is not None:
            cv2.rectangle(canvas, _corner(truth, 0), _corner(truth, 1), TRUTH_COLOUR, 1)
        cv2.rectangle(canvas, _corner(box, 0), _corner(box, 1), BOX_COLOUR, 2)
        cv2.putText(canvas, f"#{index}", (5, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, BOX_COLOUR, 1)
        if self.video:
            self.video.write(canvas)
        if self.show:
            cv2.imshow("GOTURN", canvas)
            cv2.waitKey(1)

    def close(self, complete: bool = True) -> int:
        """Rename the boxes file, then the video (a ValueError naming the video when it
        is incomplete: the boxes are kept all the same).  Returns the boxes written."""
        try:
            with errors_naming(self.boxes_path):
                self._boxes_file.close()
                os.replace(self._boxes_tmp, self.boxes_path)
        except BaseException:
            self.discard()
            raise
        if self.video:
            try:
                self.video.finish()
            except ValueError as exc:
                raise ValueError(f"{exc}; the {self.count} boxes are in {self.boxes_path}") from None
        return self.count

    def discard(self) -> None:
        """Close and delete the partial files (after a failed write: the final names keep
        what they had)."""
        try:
            self._boxes_file.close()
        except OSError:
            pass    # the write that failed again on the way out: the partial goes anyway
        self._boxes_tmp.unlink(missing_ok=True)
        if self.video:
            self.video.discard()

    @property
    def mean_iou(self) -> Optional[float]:
        return float(np.mean(self.overlaps)) if self.overlaps else None

    @property
    def static_iou(self) -> Optional[float]:
        """The mean IoU of a box that never moves from the initial one, on the same
        frames as :attr:`mean_iou`: the floor a tracker must beat."""
        return float(np.mean(self.static_overlaps)) if self.static_overlaps else None


def _corner(box: Box, which: int) -> tuple:
    return (int(round(box.x1)), int(round(box.y1))) if which == 0 else \
        (int(round(box.x2)), int(round(box.y2)))


class FrameProgress:
    """Progress of a tracking run on ``stream`` (default stderr), with frames/s end to end.

    On a terminal a tqdm bar; otherwise (a pipe, a log file) one plain line every
    tenth of the run (every ``every`` frames), never tqdm's cursor movements.
    """

    def __init__(self, name: str, total: Optional[int] = None, stream=None,
                 every: Optional[int] = None):
        self.stream = stream if stream is not None else sys.stderr
        self.name, self.count = name, 0
        self.total = total if total and total > 0 else None   # a stream's count may be -1
        self._start = time.perf_counter()
        self._bar = None
        isatty = getattr(self.stream, "isatty", None)
        if isatty is not None and isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc=name, unit="frame", file=self.stream,
                             dynamic_ncols=True)
        self.every = every or max(1, (self.total or 500) // 10)

    @property
    def fps(self) -> float:
        elapsed = time.perf_counter() - self._start
        return self.count / elapsed if elapsed > 0 else 0.0

    def update(self, *_) -> None:
        """One more frame (takes and ignores ``on_box``'s arguments)."""
        self.count += 1
        if self._bar is not None:
            self._bar.update(1)
        elif self.count % self.every == 0 or self.count == self.total:
            of = f"/{self.total} frames ({100 * self.count / self.total:.0f}%)" if self.total \
                else " frames"
            print(f"{self.name}: {self.count}{of}, {self.fps:.1f} fps", file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def summary_line(sequence, result, writer: TrackWriter) -> str:
    iou = (f"mean IoU {writer.mean_iou:.3f} with the ground truth (a static box: "
           f"{writer.static_iou:.3f})") if writer.mean_iou is not None else "no ground truth"
    video = f", video {writer.video_path}" if writer.video_path else ""
    return (f"{sequence.name}: {len(result.boxes)} frames, {iou}; "
            f"{result.network_fps:.1f} fps network only, {result.end_to_end_fps:.1f} fps end to end; "
            f"boxes {writer.boxes_path}{video}")
