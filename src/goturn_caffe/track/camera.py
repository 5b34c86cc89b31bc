"""Live input: a camera (``--camera 0``) or a stream (any URL or device
``cv2.VideoCapture`` opens: ``rtsp://...``, ``http://...``, ``/dev/video2``).

A camera does not wait for the tracker.  :class:`LatestFrameReader` reads the
capture in a thread and keeps only the newest frame: when tracking is slower
than the camera, the frames in between are dropped and counted, so memory
stays bounded (at most one frame waiting) and the tracker always works on the
present.  A video *file* given as ``--camera`` goes through the same reader,
but without dropping (a file can wait), so it tracks exactly like the file
input does.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import Callable, Iterator, Optional, Union

import cv2

from goturn_caffe.fileio import check_not_inputs
from goturn_caffe.track.multi import (
    TargetsWriter,
    check_target_boxes,
    output_paths,
    run_targets,
)
from goturn_caffe.track.output import check_gui, select_box
from goturn_caffe.track.sequences import SequenceError

STREAM_PREFIXES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")


def is_live_source(text: str) -> bool:
    """True for a stream URL or a video device (``/dev/video0``): inputs that
    ``open_sequence`` cannot take and the live path can."""
    return text.lower().startswith(STREAM_PREFIXES) or text.startswith("/dev/video")


def live_source(camera: Optional[str], input_text: Optional[str]) -> Optional[str]:
    """What ``tools/track.py`` reads live: ``--camera``, else an INPUT that is a stream
    URL or a device; None for a file or folder input."""
    if camera is not None:
        return camera
    return input_text if input_text and is_live_source(input_text) else None


def camera_name(source: str) -> str:
    """A file-name-safe name for the outputs: ``camera0``, ``video2``, a stream's last part."""
    if source.isdigit():
        return f"camera{source}"
    stem = Path(source.split("?", 1)[0].rstrip("/")).stem
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in stem) or "stream"


@contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Hide what OpenCV's backends (V4L2, FFmpeg) print on stderr while a capture
    opens: the error the user gets is ours, in one line."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def open_capture(source: str):
    """``cv2.VideoCapture`` of ``source``: a camera index (``0``), a device, a URL or
    a video file; SequenceError in one line when it cannot be opened."""
    target: Union[int, str] = int(source) if source.isdigit() else source
    with _quiet_native_stderr():
        capture = cv2.VideoCapture(target)
        opened = capture.isOpened()
    if not opened:
        capture.release()
        what = f"camera {source}" if source.isdigit() else source
        raise SequenceError(f"{what}: cannot be opened (no such camera or device, or a stream "
                            "or file OpenCV cannot read)")
    return capture


def is_file_source(source: str) -> bool:
    return not source.isdigit() and Path(source).is_file()


class LatestFrameReader:
    """Reads ``capture`` in a thread, keeping only the newest frame.

    :meth:`read` returns ``(number, frame)`` -- ``number`` counts every frame the
    capture produced -- waiting for a frame newer than the last one returned, or
    None once the capture has ended.  With ``drop`` (a camera or stream) a frame
    not yet taken is replaced by the next one and counted in :attr:`dropped`;
    without it (a file) the thread waits until the frame is taken.
    """

    def __init__(self, capture, drop: bool = True):
        self.capture, self.drop = capture, drop
        self.produced = 0       # frames read from the capture
        self.dropped = 0        # frames replaced before anyone took them
        self._frame = None      # the waiting frame (at most one)
        self._number = -1
        self._waiting = False
        self._ended = self._stopped = False
        self._error: Optional[BaseException] = None
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="frame-reader", daemon=True)

    def start(self) -> "LatestFrameReader":
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while True:
                ok, frame = self.capture.read()
                with self._cond:
                    if self._stopped:
                        return
                    if not ok:
                        break
                    while self._waiting and not self.drop and not self._stopped:
                        self._cond.wait()
                    if self._stopped:
                        return
                    if self._waiting:
                        self.dropped += 1
                    self._frame, self._number, self._waiting = frame, self.produced, True
                    self.produced += 1
                    self._cond.notify_all()
                    frame = None   # the slot holds the only reference
        except BaseException as exc:   # reported by read(), not lost in the thread
            self._error = exc
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify_all()

    def read(self) -> Optional[tuple]:
        """The next ``(number, frame)``: the newest frame not returned yet; None at the end."""
        with self._cond:
            while not self._waiting and not self._ended and not self._stopped:
                self._cond.wait(0.5)   # a timeout keeps Ctrl-C responsive
            if self._stopped:
                return None
            if self._error is not None and not self._waiting:
                raise SequenceError(f"reading the camera failed: {self._error}")
            if not self._waiting:
                return None
            item = (self._number, self._frame)
            self._frame, self._waiting = None, False
            self._cond.notify_all()
            return item

    def __iter__(self) -> Iterator[tuple]:
        while (item := self.read()) is not None:
            yield item

    def stop(self) -> None:
        """End the frames here: :meth:`read` returns None from now on."""
        with self._cond:
            self._stopped = True
            self._frame, self._waiting = None, False
            self._cond.notify_all()

    def close(self, timeout: float = 2.0) -> None:
        """Stop the thread and release the capture (left to the process exit if a
        blocked read does not return within ``timeout``)."""
        self.stop()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if not self._thread.is_alive():
            self.capture.release()

    def __enter__(self) -> "LatestFrameReader":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


@contextmanager
def ctrl_c_stops(reader: LatestFrameReader) -> Iterator[None]:
    """Inside the block, the first Ctrl-C ends a live run the normal way (``reader``
    stops after the frame being tracked, and the outputs and summary follow); a
    second one interrupts as usual."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def stop(signum, frame):
        reader.stop()
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def track_camera(source: str, boxes: list, build: Callable, select: bool = False, output=None,
                 csv_path=None, save_video=None, show: bool = False, model_files=()) -> str:
    """Track ``boxes`` (or one box drawn with ``select``) from the first frame of the
    camera / stream / file ``source`` until it ends (or Ctrl-C, or ``q`` in the
    window), with the batch tracker ``build()`` returns; outputs as
    :func:`goturn_caffe.track.multi.track_video_targets`, checked before the model
    loads.  Returns the summary, with how many of the camera's frames were dropped
    while the tracker was busy."""
    if not boxes and not select:
        raise SequenceError(f"{source}: a live input has no ground truth to start from: give the "
                            "first box with --box x,y,w,h (or draw it with --select)")
    if not boxes:
        check_gui("--select")
    count, name = len(boxes) or 1, camera_name(source)
    paths = output_paths(output, csv_path, name, count)
    check_not_inputs({"--output": paths, "--csv": [csv_path], "--save-video": [save_video]},
                     ([source] if is_file_source(source) else []) + list(model_files))
    capture = open_capture(source)
    try:
        writer = TargetsWriter(count, paths, csv_path, save_video, show,
                               capture.get(cv2.CAP_PROP_FPS) or 30.0)
    except BaseException:
        capture.release()
        raise
    reader = LatestFrameReader(capture, drop=not is_file_source(source))
    try:
        tracker = build()    # before reading: the first frame is then a fresh one
        first = reader.start().read()
        if first is None:
            raise SequenceError(f"{source}: opened, but no frame came")
        if not boxes:     # --box comes first, as for a file input
            boxes = [select_box(first[1])]
        check_target_boxes(boxes, first[1], source)
        writer.open_video((first[1].shape[1], first[1].shape[0]))
    except BaseException:
        writer.discard()
        reader.close()
        raise
    try:
        with ctrl_c_stops(reader):
            line = run_targets(tracker, chain([first], reader), boxes, writer, name)[1]
        produced, dropped = reader.produced, reader.dropped
    finally:
        reader.close()
    return (f"{line}\n{name}: {dropped} of the {produced} frames read were dropped while the "
            "tracker was busy")
