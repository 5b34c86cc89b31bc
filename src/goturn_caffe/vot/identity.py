"""What produced a tracker's results folder, so that a rerun never mixes two runs.

Every ``<output>/<results name>/`` folder that :func:`goturn_caffe.vot.evaluate.evaluate`
writes holds ``identity.json``: the tracker, the seed of the noisy
initialisations, and for GOTURN the model format, the SHA-256 of the deploy
prototxt and of the weights, the Caffe engine, the backend and online
fine-tuning (for OpenCV's KCF/CSRT, OpenCV's version); and the dataset: each
sequence's name with a digest of its ground truth (:func:`dataset_identity`).
A rerun into the same folder resumes only when its identity is the same;
otherwise it stops before running anything, naming the folder and what
differs (``--name`` gives the new run its own folder).  Sequences are the one
part that may grow: a rerun may add sequences the folder has no results for,
but a sequence whose ground truth differs from the recorded one (another
dataset with the same names) is refused.  Any benchmark with per-sequence
results folders can use the same record.

The digests are content digests (a copied or moved weights file is the same
model) and are remembered by path, size and modification time
(:func:`goturn_caffe.fileio.cached_digest`), so a large model is not hashed on
every run.  File paths are written beside the identity for the reader; they
are not compared.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Optional

from goturn_caffe.fileio import cached_digest, write_json_atomic
from goturn_caffe.model.net import ModelError
from goturn_caffe.track.builder import default_deploy, default_weights

IDENTITY_FILE = "identity.json"
DEFAULT_BACKEND = "caffe"
SEQUENCES = "sequences"         # the identity's {sequence name: ground-truth digest}


def _digest(path: Path, what: str) -> str:
    if not path.is_file():
        raise ModelError(f"{path}: no such {what}")
    return cached_digest(path)


def sequence_digest(video) -> str:
    """SHA-256 of what a sequence's scores rest on: its frame count, each frame's
    image file name and ground truth (the raw region and the box, or none)."""
    frames = [[Path(frame.path).name,
               None if frame.region is None else [float(v) for v in frame.region],
               None if frame.box is None else list(frame.box.to_xywh())]
              for frame in video.frames]
    text = json.dumps([len(frames), frames], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def dataset_identity(videos: list) -> dict:
    """``{sequence name: sequence_digest}`` of the sequences a run scores."""
    return {video.name: sequence_digest(video) for video in videos}


def results_identity(tracker: str, seed: int, options: Optional[dict] = None,
                     videos: Optional[list] = None) -> tuple:
    """``(identity, files)`` of a run of the registry tracker ``tracker`` with the
    :func:`~goturn_caffe.track.builder.build_tracker` ``options`` on ``videos``
    (their :func:`dataset_identity`; left out when None): ``identity`` is what
    must match for results to be shared; ``files`` the paths it came from.
    ModelError naming the file when the deploy or weights file is missing."""
    options = options or {}
    identity, files = {"tracker": tracker, "seed": int(seed)}, {}
    if tracker in ("kcf", "csrt"):
        import cv2

        identity["opencv"] = cv2.__version__
    if tracker == "goturn":
        model_format = options.get("model_format") or "goturn"
        deploy = Path(options.get("deploy") or default_deploy(model_format))
        weights = Path(options.get("weights") or default_weights(model_format))
        identity.update(model_format=model_format,
                        deploy_sha256=_digest(deploy, "prototxt"),
                        weights_sha256=_digest(weights, "weights file"),
                        engine=options.get("engine") or "default",
                        backend=options.get("backend") or DEFAULT_BACKEND,
                        finetune=bool(options.get("finetune")))
        files = {"deploy": str(deploy), "weights": str(weights)}
    if videos is not None:
        identity[SEQUENCES] = dataset_identity(videos)
    return identity, files


def identity_path(folder: Path) -> Path:
    return Path(folder) / IDENTITY_FILE


def holds_results(folder: Path) -> bool:
    """Whether a tracker folder has any trajectory file (``<experiment>/<seq>/<seq>_NNN.txt``)."""
    return any(Path(folder).glob("*/*/*_[0-9][0-9][0-9].txt"))


def read_identity(folder: Path) -> Optional[dict]:
    """The identity recorded in ``folder``; None when there is none (or it is unreadable)."""
    try:
        recorded = json.loads(identity_path(folder).read_text())
    except (OSError, ValueError):
        return None
    return recorded.get("identity") if isinstance(recorded, dict) else None


def _short(value) -> str:
    text = str(value)
    return text[:12] if len(text) == 64 else text


ADVICE = "use --name to give this run its own folder, or another --output"


def check_same_run(folder: Path, recorded: Optional[dict], identity: dict, ignore: tuple = ()) -> None:
    """Refuse (ValueError, one line naming ``folder``) to add results to a folder
    holding results whose ``recorded`` identity is missing (None) or differs from
    ``identity`` in any key but ``ignore``; any benchmark's runner calls it."""
    if recorded is None:
        raise ValueError(f"{folder}: holds results with no record of what produced them "
                         f"({IDENTITY_FILE}), so they cannot be resumed safely; {ADVICE}, "
                         "or delete that folder")
    keys = [k for k in {**recorded, **identity}
            if k not in ignore and recorded.get(k) != identity.get(k)]
    if keys:
        differences = ", ".join(f"{k} {_short(identity.get(k))} (recorded: {_short(recorded.get(k))})"
                                for k in keys)
        raise ValueError(f"{folder}: holds results of another run ({differences}); {ADVICE}")


def check_identity(folder: Path, identity: dict) -> None:
    """Refuse (ValueError, one line naming ``folder``) to add results to a folder
    holding results of another run: another identity, or none recorded."""
    folder = Path(folder)
    if not holds_results(folder):
        return
    recorded = read_identity(folder)
    check_same_run(folder, recorded, identity, ignore=(SEQUENCES,))
    if SEQUENCES in identity:
        known = recorded.get(SEQUENCES)
        if not isinstance(known, dict):
            raise ValueError(f"{folder}: holds results with no record of the dataset they were "
                             f"scored on (made before {IDENTITY_FILE} recorded it); {ADVICE}, "
                             "or delete that folder")
        changed = sorted(name for name, digest in identity[SEQUENCES].items()
                         if name in known and known[name] != digest)
        if changed:
            raise ValueError(f"{folder}: holds results of another dataset: the ground truth of "
                             f"{', '.join(changed)} differs from the one those results were "
                             f"scored on; {ADVICE}")


def merged_identity(recorded: Optional[dict], identity: dict) -> dict:
    """The identity to record after :func:`check_identity` accepted ``identity`` for
    a folder holding ``recorded``: the recorded sequences plus the new ones."""
    if not recorded or SEQUENCES not in identity:
        return identity
    return {**identity, SEQUENCES: {**recorded.get(SEQUENCES, {}), **identity[SEQUENCES]}}


def record_identity(folder: Path, identity: dict, files: dict) -> None:
    """Write ``identity.json`` into ``folder`` (atomically; the same bytes for the same run)."""
    write_json_atomic(identity_path(folder), {"identity": identity, "files": files})


def forget_identity(folder: Path) -> None:
    """Remove ``identity.json`` (and the folder's empty experiment folders, and the
    folder itself when that leaves it empty): for a run that wrote no results."""
    folder = Path(folder)
    identity_path(folder).unlink(missing_ok=True)
    for path in sorted(folder.rglob("*"), key=lambda p: -len(p.parts)) if folder.is_dir() else []:
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
