"""Tracking one video to files: what ``tools/track.py`` and ``tools/demo.py`` do.

:func:`open_input` opens a video, image folder or VOT/OTB sequence and finds
the initial box (errors name the first frame's file); :func:`input_problems`
lists what is wrong with its ground truth; :func:`tracking_weights` picks the
weights (falling back to the demonstration model, said so); :func:`check_outputs`
refuses, before anything is loaded or tracked, outputs that cannot be written
or that would overwrite an input; :func:`track_input` runs a tracker through it,
writing the boxes file (and optionally an annotated video and a live window) as
it goes, with progress, and returns the summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from goturn_caffe.fileio import same_file
from goturn_caffe.geometry.boxes import Box
from goturn_caffe.model.net import MODELS_DIR
from goturn_caffe.paths import OUTPUT_DIR, REPO_ROOT, SAMPLE_DIR
from goturn_caffe.track.api import choose_model
from goturn_caffe.track.base import check_init_box
from goturn_caffe.track.builder import default_weights
from goturn_caffe.track.goturn import track_sequence
from goturn_caffe.track.output import (
    FrameProgress,
    TrackWriter,
    check_gui,
    check_output_file,
    check_video_path,
    gui_problem,
    select_box,
    summary_line,
)
from goturn_caffe.track.sequences import SequenceError, open_sequence, parse_box

DEFAULT_INPUT = SAMPLE_DIR / "vot" / "car"


@dataclass
class TrackingInput:
    """An opened sequence, its decoded first frame, the frames after it, and the initial box."""
    sequence: object
    first: np.ndarray
    frames: Iterator
    box: Box


def initial_box(sequence, first_frame, box_text: Optional[str] = None, select: bool = False) -> Box:
    """``box_text`` (x,y,w,h), else the sequence's first ground-truth box, else
    one drawn with the mouse (``select``, or no ground truth; needs a display)."""
    if box_text:
        return parse_box(box_text)
    if not select and sequence.ground_truth and sequence.ground_truth[0] is not None:
        return sequence.ground_truth[0]
    if select or not sequence.ground_truth:
        problem = gui_problem()
        if problem and select:
            raise SequenceError(f"--select needs a window, but {problem}: pass --box x,y,w,h")
        if problem:
            raise SequenceError(f"{sequence.source}: no ground truth to start from, and no window "
                                f"to draw a box in ({problem}): pass --box x,y,w,h")
        return select_box(first_frame)
    raise SequenceError(f"{sequence.source}: the first frame has no ground-truth box; pass --box")


def open_input(path, box_text: Optional[str] = None, select: bool = False) -> TrackingInput:
    """Open ``path`` and check the initial box against its first frame (SequenceError /
    ValueError with a one-line message)."""
    sequence = open_sequence(path)
    frames = sequence.frames()
    first = next(frames, None)
    if first is None:
        why = "; ".join(reason for _, reason in sequence.frame_problems.entries[:1])
        raise SequenceError(f"{first_frame_name(sequence)}: the first frame cannot be read"
                            f"{' (' + why + ')' if why else ''}")
    box = initial_box(sequence, first, box_text, select)
    try:
        check_init_box(box, first, "--box" if box_text else "the first ground-truth box")
    except ValueError as exc:
        raise SequenceError(f"{first_frame_name(sequence)}: {exc}") from None
    return TrackingInput(sequence, first, frames, box)


def first_frame_name(sequence) -> str:
    """The file of the first frame (an image folder's first image, or the video)."""
    return str(sequence.frame_paths[0]) if sequence.frame_paths else str(sequence.source)


def input_problems(source: TrackingInput, most: int = 5) -> list:
    """The ground truth's problems (bad lines), one line each, at most ``most`` and a count."""
    entries = source.sequence.problems.entries
    lines = [f"{where}: {reason}" for where, reason in entries[:most]]
    if len(entries) > most:
        lines.append(f"... and {len(entries) - most} more ground-truth problems "
                     f"({source.sequence.problems.summary()})")
    return lines


def tracking_weights(weights=None, model_format: str = "goturn", log=print, models_dir=None) -> Path:
    """The weights a tracking run loads: ``weights``, else the first model of
    ``model_format`` in :func:`~goturn_caffe.track.api.choose_model`'s order (for
    the authors' layout: your trained model, then the demonstration model of
    ``make demo``, said in one line by ``log``).  ValueError saying how to get a
    model when there is none."""
    if weights is not None:
        return Path(weights)
    default = default_weights(model_format)
    if models_dir is not None:
        default = Path(models_dir) / default.relative_to(MODELS_DIR)
    choice = choose_model(models_dir, model_format)
    if choice is not None:
        if choice.untrained:
            log(f"no {_relative(default)}: using the DEMONSTRATION model of `make demo` "
                f"({_relative(choice.weights)}; trained briefly on the bundled sample, not the "
                "paper's model)")
        return choice.weights
    if model_format == "opencv":
        raise ValueError(f"{_relative(default)}: no such weights file; `make model` downloads "
                         "OpenCV's trained GOTURN there")
    raise ValueError(f"{_relative(default)}: no such weights file; train one (tools/train.py), "
                     "run `make demo` for a demonstration model, or `make model` and "
                     "--model-format opencv for OpenCV's trained GOTURN")


def _relative(path: Path) -> str:
    try:
        return str(Path(path).relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def check_outputs(source: TrackingInput, output=None, save_video=None, show: bool = False,
                  model_files=()) -> None:
    """Everything about the outputs that can be checked before tracking: not a folder,
    a video format OpenCV writes, a window for ``show``, and never an input of the run
    (a frame, the ground truth, the video, ``model_files``: writing it would destroy it).
    ValueError naming the file."""
    outputs = {"--output": check_output_file(output or default_output(source.sequence), "--output")}
    if save_video:
        outputs["--save-video"] = check_video_path(save_video)
    if show:
        check_gui("--show")
    inputs = [(path, "an input of the sequence") for path in source.sequence.input_files]
    inputs += [(path, "a model file") for path in model_files if path is not None]
    for option, path in outputs.items():
        for other, what in inputs:
            if same_file(path, other):
                raise ValueError(f"{path}: {option} would overwrite {what} ({other}); "
                                 "choose another file")
    if save_video and same_file(outputs["--output"], outputs["--save-video"]):
        raise ValueError(f"{save_video}: --output and --save-video are the same file")


def skipped_line(skipped: list, problems) -> str:
    """One line on the frames that could not be read: how many, which, and why."""
    indices = f"{skipped[:10]}{' ...' if len(skipped) > 10 else ''}"
    why = "; ".join(f"{Path(where).name}: {reason}" for where, reason in problems.entries[:3])
    more = f"; {problems.summary()}" if len(problems) > 3 else ""
    return (f"skipped {len(skipped)} frame{'s' if len(skipped) > 1 else ''} that could not be "
            f"read (kept the last box): frames {indices}{': ' + why if why else ''}{more}")


def default_output(sequence) -> Path:
    return OUTPUT_DIR / "track" / f"{sequence.name}.txt"


def track_input(tracker, source: TrackingInput, output=None, save_video: Optional[str] = None,
                show: bool = False, progress=None) -> str:
    """Track ``source`` with ``tracker``; the boxes go to ``output`` (default
    output/track/<sequence>.txt) one line per frame.  Returns the summary (one
    line, plus one on frames that could not be read).  ``progress``: a stream
    for :class:`~goturn_caffe.track.output.FrameProgress` (None: none).  When
    tracking stops early (a frame error: ValueError; Ctrl-C: KeyboardInterrupt)
    the boxes so far are kept and the error says where."""
    sequence = source.sequence
    output = Path(output or default_output(sequence))
    writer = TrackWriter(output, save_video, show, sequence.fps, sequence.ground_truth,
                         frame_size=(source.first.shape[1], source.first.shape[0]))
    meter = FrameProgress(sequence.name, len(sequence), progress) if progress else None

    def on_box(index, frame, box):
        writer.add(index, frame, box)
        if meter is not None:
            meter.update()

    try:
        result = track_sequence(tracker, chain([source.first], source.frames), source.box,
                                on_box=on_box)
    except ValueError as exc:
        kept = writer.close(complete=False)
        raise ValueError(f"stopped ({exc}); the {kept} boxes so far are in {output}") from exc
    except KeyboardInterrupt:
        kept = writer.close(complete=False)
        raise KeyboardInterrupt(f"the {kept} boxes so far are in {output}") from None
    finally:
        if meter is not None:
            meter.close()
    writer.close(complete=True)
    lines = [summary_line(sequence, result, writer)]
    if result.skipped:
        lines.append(skipped_line(result.skipped, sequence.frame_problems))
    return "\n".join(lines)
