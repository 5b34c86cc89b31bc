"""What a tracking run leaves behind: the boxes file, an annotated video, a summary line.

Every output is checked before the first frame is tracked (a folder where a file
belongs, a video format OpenCV cannot write, a live window OpenCV cannot open),
so a bad option never costs a whole run.  Outputs create their parent folders.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from goturn_caffe.fileio import partial_path
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


class TrackWriter:
    """Writes boxes (and frames) as tracking goes, into hidden partial files renamed
    at the end.

    Every output is checked, and the video writer opened, here, before any frame
    is tracked (ValueError naming the file).  The boxes file is flushed every
    :data:`FLUSH_EVERY` frames, so after a crash (even ``kill -9``) its partial
    file holds the boxes so far; a rerun with the same outputs replaces the
    partials it left.  ``close(complete=False)`` still renames what was written,
    so a run stopped midway keeps its output so far, and no half-written file is
    ever left under the final name while the run is going.
    """

    def __init__(self, boxes_path, video_path: Optional[str] = None, show: bool = False,
                 fps: float = 30.0, ground_truth: Optional[list] = None,
                 frame_size: Optional[tuple] = None):
        self.boxes_path = check_output_file(boxes_path, "--output")
        self.video_path = check_video_path(video_path) if video_path else None
        if show:
            check_gui("--show")
        self._boxes_tmp = partial_path(self.boxes_path)
        self._video_tmp = partial_path(self.video_path) if self.video_path else None
        self._video, self._video_size = None, None
        self.fps, self.show, self.ground_truth = fps, show, ground_truth
        self.count = 0
        self.overlaps: list = []
        self.static_overlaps: list = []   # the initial box's, on the same frames (a baseline)
        self._first_box: Optional[Box] = None
        self.boxes_path.parent.mkdir(parents=True, exist_ok=True)
        self._boxes_file = open(self._boxes_tmp, "w")
        if self.video_path and frame_size:
            try:
                self._open_video(frame_size)
            except ValueError:
                self._boxes_file.close()
                self._boxes_tmp.unlink(missing_ok=True)
                raise

    def _open_video(self, frame_size: tuple) -> None:
        """The video writer at ``frame_size`` (width, height), on the partial file."""
        self.video_path.parent.mkdir(parents=True, exist_ok=True)
        fourcc = cv2.VideoWriter_fourcc(*VIDEO_CODECS[self.video_path.suffix.lower()])
        self._video = cv2.VideoWriter(str(self._video_tmp), fourcc, self.fps, tuple(frame_size))
        if not self._video.isOpened():
            self._video = None
            self._video_tmp.unlink(missing_ok=True)
            raise ValueError(f"{self.video_path}: OpenCV cannot write this video "
                             f"({VIDEO_CODECS[self.video_path.suffix.lower()]} codec)")
        self._video_size = tuple(frame_size)

    def add(self, index: int, frame, box: Box) -> None:
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
        if frame is None or not (self.video_path or self.show):
            return
        canvas = frame.copy()
        if truth is not None:
            cv2.rectangle(canvas, _corner(truth, 0), _corner(truth, 1), TRUTH_COLOUR, 1)
        cv2.rectangle(canvas, _corner(box, 0), _corner(box, 1), BOX_COLOUR, 2)
        cv2.putText(canvas, f"#{index}", (5, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, BOX_COLOUR, 1)
        if self.video_path:
            if self._video is None:
                self._open_video((canvas.shape[1], canvas.shape[0]))
            if (canvas.shape[1], canvas.shape[0]) != self._video_size:  # a frame of another size
                canvas = cv2.resize(canvas, self._video_size, interpolation=cv2.INTER_AREA)
            self._video.write(canvas)
        if self.show:
            cv2.imshow("GOTURN", canvas)
            cv2.waitKey(1)

    def close(self, complete: bool = True) -> int:
        self._boxes_file.close()
        os.replace(self._boxes_tmp, self.boxes_path)
        if self._video is not None:
            self._video.release()
            os.replace(self._video_tmp, self.video_path)
        return self.count

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
