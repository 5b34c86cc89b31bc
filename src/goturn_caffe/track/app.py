"""Tracking one video to files: what ``tools/track.py`` and ``tools/demo.py`` do.

:func:`open_input` opens a video, image folder or VOT/OTB sequence and finds
the initial box (errors name the first frame's file); :func:`input_problems`
lists what is wrong with its ground truth; :func:`tracking_model` picks the
model (in the one order of :func:`~goturn_caffe.track.api.choose_model`; the
demonstration model is said so); :func:`check_outputs`
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

from goturn_caffe.fileio import check_not_inputs
from goturn_caffe.geometry.boxes import Box
from goturn_caffe.model.net import MODELS_DIR
from goturn_caffe.paths import OUTPUT_DIR, REPO_ROOT, SAMPLE_DIR
from goturn_caffe.track.api import ModelChoice, choose_model, resolve_model
from goturn_caffe.track.base import check_init_box
from goturn_caffe.track.builder import default_deploy, default_weights
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


def tracking_model(weights=None, model_format: Optional[str] = None, log=print,
                   models_dir=None) -> ModelChoice:
    """The model a tracking run loads: ``weights`` (in ``model_format``, default the
    authors' layout), else the first model in :func:`~goturn_caffe.track.api.choose_model`'s
    order -- the one order of every tool, the demo and the API: your trained model,
    OpenCV's (``make model``), the demonstration model of ``make demo`` (said in one
    line by ``log``) -- of ``model_format`` only when it is given.  ValueError saying
    how to get a model when there is none."""
    if weights is not None:
        return resolve_model(weights, model_format)
    choice = choose_model(models_dir, model_format)
    if choice is not None:
        if choice.untrained:
            default = _in_models_dir(default_weights(), models_dir)
            log(f"no {_relative(default)}: using the DEMONSTRATION model of `make demo` "
                f"({_relative(choice.weights)}; trained briefly on the bundled sample, not the "
                "paper's model)")
        return choice
    default = _in_models_dir(default_weights(model_format or "goturn"), models_dir)
    if model_format == "opencv":
        raise ValueError(f"{_relative(default)}: no such weights file; `make model` downloads "
                         "OpenCV's trained GOTURN there")
    raise ValueError(f"{_relative(default)}: no such weights file; train one (tools/train.py), "
                     "run `make demo` for a demonstration model, or `make model` for OpenCV's "
                     "trained GOTURN")


def _in_models_dir(path: Path, models_dir=None) -> Path:
    return Path(models_dir) / path.relative_to(MODELS_DIR) if models_dir is not None else path


def model_files(weights=None, deploy=None, model_format: Optional[str] = None, models_dir=None) -> list:
    """The model files a tracking run reads, the defaults resolved (what no output may
    overwrite): the weights :func:`tracking_model` picks (with none there, the file
    it looks for), and the deploy prototxt of their layout.  Never raises for a
    missing model: the run says so when it loads it."""
    choice = choose_model(models_dir, model_format) if weights is None else None
    if choice is not None:
        weights, model_format = choice.weights, choice.model_format
    model_format = model_format or "goturn"
    weights = weights if weights is not None else _in_models_dir(default_weights(model_format), models_dir)
    return [Path(weights), Path(deploy) if deploy is not None else default_deploy(model_format)]


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
    check_not_inputs(outputs, list(source.sequence.input_files) + list(model_files))


def skipped_line(skipped: list, problems) -> str:
    """One line on the frames that could not be read: how many, which, and why."""
    indices = f"{skipped[:10]}{' ...' if len(skipped) > 10 else ''}"
    why = "; ".join(f"{Path(where).name}: {reason}" for where, reason in problems.entries[:3])
    more = f"; {problems.summary()}" if len(problems) > 3 else ""
    return (f"skipped {len(skipped)} frame{'s' if len(skipped) > 1 else ''} that could not be "
            f"read (kept the last box): frames {indices}{': ' + why if why else ''}{more}")


def ended_early_line(sequence) -> str:
    """One line on a video that ended before its last frame ('' when it did not): the
    boxes written are right, but the frames after the end have none."""
    if not sequence.ended_early:
        return ""
    read, expected = sequence.ended_early
    return (f"{sequence.source}: the video ended after {read} of the {expected} frames its header "
            f"counts (a cut-off or damaged file): frames {read}..{expected - 1} could not be read "
            "and have no box")


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
    except OSError:     # an output that cannot be written (a full disk): nothing half-written
        writer.discard()
        raise
    finally:
        if meter is not None:
            meter.close()
    writer.close(complete=True)
    lines = [summary_line(sequence, result, writer)]
    if result.skipped:
        lines.append(skipped_line(result.skipped, sequence.frame_problems))
    return "\n".join(lines + [line for line in [ended_early_line(sequence)] if line])
