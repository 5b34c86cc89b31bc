"""The paper's experiments as one-flag runs: train a variant, score it with the
VOT protocol, and write a table beside the paper's numbers.

Each experiment (an :class:`Ablation`) is a change to the network (:class:`~goturn_caffe.model.netspec.NetOptions`)
or to the data layer (its param_str keys) relative to the full method:

    full, l2_loss, uniform_crops, images_only, videos_only      (Table 1)
    current_frame_only                                          (Figure 7)
    fc_layers=2|3|4                                             (Figure 16)
    train_videos=N                                              (Figure 9)
    augmented_per_batch=K                                       (Figure 17)

Overall error is the paper's 1 - (A + R) / 2 with R = exp(-S F / N), the VOT
reliability (:func:`goturn_caffe.vot.analysis.reliability`) of F failures in N
frames at S = 30 frames, F and N summed over the dataset: failures per sequence
unweighted, not length-weighted as in the VOT summary's A-R plot (an assumption:
the paper cites the VOT measures without restating R's formula).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Optional

from goturn_caffe.config import AUTHORS
from goturn_caffe.fileio import write_json_atomic, write_text_atomic
from goturn_caffe.model.netspec import NetOptions
from goturn_caffe.vot.analysis import reliability

# Table 1 of the paper: (overall, accuracy, robustness) errors.
PAPER_TABLE1 = {
    "full": (0.24, 0.39, 0.10),
    "l2_loss": (0.43, 0.69, 0.17),
    "uniform_crops": (0.30, 0.48, 0.13),
    "images_only": (0.35, 0.54, 0.16),
    "videos_only": (0.29, 0.44, 0.13),
}
PAPER_ROW_NAMES = {"full": "Full method", "l2_loss": "L2 loss",
                   "uniform_crops": "No motion smoothness", "images_only": "Image training only",
                   "videos_only": "Video training only"}
FIXED = {"full": {}, "l2_loss": {"loss": "l2"}, "uniform_crops": {"smooth_motion": False},
         "images_only": {"mix": "images"}, "videos_only": {"mix": "videos"},
         "current_frame_only": {"current_frame_only": True}}
PARAMETERISED = {"fc_layers": "fc_layers", "train_videos": "max_videos",
                 "augmented_per_batch": "augmented_per_pair"}
NET_KEYS = {"loss", "current_frame_only", "fc_layers"}


@dataclass(frozen=True)
class Ablation:
    """One of the paper's experiments: a variant of the network and/or the data layer."""

    name: str                         # e.g. "l2_loss", "fc_layers=2"
    net: NetOptions = field(default_factory=NetOptions)
    data: dict = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return self.name.replace("=", "")


def parse_ablation(text: str, batch_size: int = AUTHORS.batch_size) -> Ablation:
    """``"l2_loss"`` or ``"fc_layers=2"`` -> Ablation; ValueError listing the choices."""
    name, _, value = text.partition("=")
    choices = sorted(FIXED) + [f"{k}=N" for k in PARAMETERISED]
    if name in FIXED and not value:
        changes = FIXED[name]
    elif name in PARAMETERISED and value:
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"experiment {text!r}: {value!r} is not a whole number") from None
        changes = {PARAMETERISED[name]: number}
    else:
        raise ValueError(f"unknown experiment {text!r}; choose one of: {', '.join(choices)}")
    net = NetOptions(batch_size=batch_size, **{k: v for k, v in changes.items() if k in NET_KEYS})
    data = {k: v for k, v in changes.items() if k not in NET_KEYS}
    return Ablation(text, net, data)


def overall_errors(accuracy: float, failures: int, frames: int) -> tuple:
    """(overall, accuracy, robustness) errors of the paper's Table 1 (``failures`` and
    ``frames``: over the whole dataset)."""
    robustness = reliability(failures, frames)
    return (1 - (accuracy + robustness) / 2, 1 - accuracy, 1 - robustness)


def deploy_prototxt(experiment: Ablation, folder: Path) -> Path:
    """The deploy net of the experiment's variant, written into ``folder``."""
    from goturn_caffe.model.netspec import build_net

    return write_text_atomic(folder / "deploy.prototxt",
                             str(build_net(replace(experiment.net, batch_size=1), train=False)))


def results_table(rows: list) -> str:
    """Markdown: ours beside the paper's Table 1 (where the paper has the row)."""
    lines = ["| experiment | overall error | accuracy error | robustness error | failures | "
             "paper overall / accuracy / robustness |", "|---|---|---|---|---|---|"]
    for row in rows:
        base = row["experiment"].split("=")[0]
        paper = PAPER_TABLE1.get(row["experiment"]) if base == row["experiment"] else None
        paper_text = " / ".join(f"{v:.2f}" for v in paper) if paper else "(figure only)"
        lines.append(f"| {row['experiment']} | {row['overall_error']:.3f} | "
                     f"{row['accuracy_error']:.3f} | {row['robustness_error']:.3f} | "
                     f"{int(row['failures'])} | {paper_text} |")
    return "\n".join(lines) + "\n"


def run_ablation(experiment: Ablation, output: Path, train_config: dict, dataset: str,
                 sequences: Optional[list] = None, gpu: Optional[int] = None, log=print) -> dict:
    """Train the variant into ``output/<slug>/train``, score it on ``dataset``."""
    from goturn_caffe.train.training import TrainConfig, train
    from goturn_caffe.vot.evaluate import evaluate_goturn

    folder = output / experiment.slug
    folder.mkdir(parents=True, exist_ok=True)
    config = TrainConfig(output=str(folder / "train"), gpu=gpu, net=experiment.net,
                         data=dict(train_config.get("data", {}), **experiment.data),
                         **{k: v for k, v in train_config.items() if k != "data"})
    log(f"[{experiment.name}] training: {experiment.net} data {config.data}")
    summary = train(config, log=lambda m: log(f"[{experiment.name}] {m}"))
    log(f"[{experiment.name}] scoring {summary['model']} on {dataset}")
    scores = evaluate_goturn(deploy_prototxt(experiment, folder), summary["model"], dataset,
                             folder / "vot", sequences=sequences, gpu=gpu)
    overall, accuracy_error, robustness_error = overall_errors(
        scores["accuracy"], scores["failures"], scores["frames"])
    row = {"experiment": experiment.name, "overall_error": overall,
           "accuracy_error": accuracy_error, "robustness_error": robustness_error,
           "failures": scores["failures"], "frames": scores["frames"],
           "accuracy": scores["accuracy"], "seed": config.data.get("seed", AUTHORS.seed),
           "config": {"net": asdict(experiment.net), "train": asdict(config)},
           "training": summary}
    write_json_atomic(folder / "result.json", row)
    return row
