"""What a tracking run leaves behind: the boxes file, an annotated video, a summary line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from goturn_caffe.boxes import Box

BOX_COLOUR = (0, 255, 0)       # BGR: the tracker
TRUTH_COLOUR = (0, 0, 255)     # BGR: the ground truth


def format_box(box: Box) -> str:
    """``x,y,w,h`` with two decimals: the VOT / OTB results format."""
    return ",".join(f"{v:.2f}" for v in box.to_xywh())


class TrackWriter:
    """Writes boxes (and frames) as tracking goes, into temp files renamed at the end.

    ``close(complete=False)`` still renames what was written, so a run stopped
    midway keeps its output so far, and no half-written file is ever left
    under the final name while the run is going.
    """

    def __init__(self, boxes_path, video_path: Optional[str] = None, show: bool = False,
                 fps: float = 30.0, ground_truth: Optional[list] = None):
        self.boxes_path = Path(boxes_path)
        self.boxes_path.parent.mkdir(parents=True, exist_ok=True)
        self._boxes_tmp = self.boxes_path.with_name(f".{self.boxes_path.name}.partial")
        self._boxes_file = open(self._boxes_tmp, "w")
        self.video_path = Path(video_path) if video_path else None
        self._video_tmp = (self.video_path.with_name(f".partial.{self.video_path.name}")
                           if self.video_path else None)
        self._video = None
        self.fps, self.show, self.ground_truth = fps, show, ground_truth
        self.count = 0
        self.overlaps: list = []

    def add(self, index: int, frame, box: Box) -> None:
        self._boxes_file.write(format_box(box) + "\n")
        self.count += 1
        truth = self.ground_truth[index] if self.ground_truth and index < len(self.ground_truth) else None
        if truth is not None:
            self.overlaps.append(box.iou(truth))
        if frame is None or not (self.video_path or self.show):
            return
        canvas = frame.copy()
        if truth is not None:
            cv2.rectangle(canvas, _corner(truth, 0), _corner(truth, 1), TRUTH_COLOUR, 1)
        cv2.rectangle(canvas, _corner(box, 0), _corner(box, 1), BOX_COLOUR, 2)
        cv2.putText(canvas, f"#{index}", (5, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, BOX_COLOUR, 1)
        if self.video_path:
            if self._video is None:
                fourcc = cv2.VideoWriter_fourcc(*("mp4v" if self.video_path.suffix == ".mp4" else "MJPG"))
                self._video = cv2.VideoWriter(str(self._video_tmp), fourcc, self.fps,
                                              (canvas.shape[1], canvas.shape[0]))
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


def _corner(box: Box, which: int) -> tuple:
    return (int(round(box.x1)), int(round(box.y1))) if which == 0 else \
        (int(round(box.x2)), int(round(box.y2)))


def summary_line(sequence, result, writer: TrackWriter) -> str:
    iou = f"mean IoU {writer.mean_iou:.3f} with the ground truth" if writer.mean_iou is not None \
        else "no ground truth"
    video = f", video {writer.video_path}" if writer.video_path else ""
    return (f"{sequence.name}: {len(result.boxes)} frames, {iou}; "
            f"{result.network_fps:.1f} fps network only, {result.end_to_end_fps:.1f} fps end to end; "
            f"boxes {writer.boxes_path}{video}")
