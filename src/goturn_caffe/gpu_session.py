"""The summary of a ``tools/gpu_session.sh`` run: one JSON file from the stages' records.

``tools/gpu_session.sh OUTDIR`` runs the GPU benchmark session stage by stage
(unpack, doctor, benchmarks, training, VOT, NCCL).  Before it starts it writes
the plan, ``OUTDIR/logs/stages.tsv`` (``name<TAB>cap seconds<TAB>needs a GPU``
per line, in order); after each stage, ``OUTDIR/logs/<stage>.status.json``
(status, exit code, seconds, the reason of a failure).  This module turns those
records, and the JSON each stage wrote, into ``OUTDIR/summary.json``::

    python -m goturn_caffe.gpu_session OUTDIR

It is rerun after every stage, so a session killed half-way still leaves a
summary of what finished; stages not reached are listed as ``not run``.  The
key numbers of each stage (fps and shares per engine and N, forward times,
solver iterations/s fed against bare, training iterations and loss, VOT
accuracy and failures, the NCCL run) are copied out of that stage's own JSON,
and the session's goals are checked against them.

Standard library only (beside :mod:`goturn_caffe.fileio`): it must also run
with a machine's own Python when the session's runtime did not unpack.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from goturn_caffe.fileio import write_json_atomic

# The paper's speeds (GTX 680, Titan X) and the session's goals.
PAPER_FPS = {"gtx680": 100.0, "titan_x": 165.0}
GOAL_FPS_N1 = 1000.0
GOAL_TARGET_FRAMES_N32 = 5000.0
OK_STATUSES = ("ok", "skipped")


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def read_plan(outdir: Path) -> list:
    """[(stage, cap seconds, needs a GPU)] from ``logs/stages.tsv``."""
    plan = []
    path = outdir / "logs" / "stages.tsv"
    for line in path.read_text().splitlines() if path.exists() else []:
        fields = line.split("\t")
        if len(fields) == 3 and fields[1].isdigit():
            plan.append((fields[0], int(fields[1]), fields[2] == "1"))
    return plan


# ------------------------------------------------------ numbers per stage --
def doctor_numbers(outdir: Path, _stage: str) -> dict:
    text = (outdir / "logs" / "doctor.out").read_text(errors="replace")
    numbers = {}
    build = re.search(r"^build:\s+(.+)$", text, re.M)
    if build:
        numbers["build"] = build.group(1).strip()
    forward = re.search(r"one forward in ([\d.]+) ms", text)
    if forward:
        numbers["first_forward_ms"] = float(forward.group(1))
    return numbers


def net_numbers(outdir: Path, stage: str) -> dict:
    data = read_json(outdir / "bench" / f"{stage}.json") or {}
    cases = data.get("net", {}).get("cases", {})
    return {f"batch {c['batch']}": {"forward_ms": c["forward_ms"],
                                    "forward_with_input_copy_ms": c["forward_with_input_copy_ms"]}
            for c in cases.values()}


def tracker_numbers(outdir: Path, stage: str) -> dict:
    data = read_json(outdir / "bench" / f"{stage}.json") or {}
    numbers = {}
    for case in data.get("tracker", {}).get("cases", {}).values():
        entry = {key: case[key] for key in ("end_to_end_fps", "end_to_end_ms", "network_ms",
                                            "preprocess_ms", "network_share", "preprocess_share",
                                            "targets_x_frames_per_s", "with_jpeg_decode_fps")
                 if key in case}
        if case["targets"] == 1:
            entry.update({f"x_paper_{gpu}": round(case["end_to_end_fps"] / fps, 2)
                          for gpu, fps in PAPER_FPS.items()})
        numbers[f"N={case['targets']}"] = entry
    return numbers


def bench_train_numbers(outdir: Path, stage: str) -> dict:
    data = (read_json(outdir / "bench" / f"{stage}.json") or {}).get("train")
    if not data:
        return {}
    numbers = {key: data[key] for key in ("engine", "batch_size", "workers", "iterations",
                                          "solver_waiting_for_data_share",
                                          "data_layer_examples_per_s", "bare_examples_per_s",
                                          "data_keeps_up") if key in data}
    numbers["bare_iterations_per_s"] = round(1 / data["bare_s_per_iter"], 3)
    numbers["fed_iterations_per_s"] = round(1 / data["with_data_layer_s_per_iter"], 3)
    return numbers


def train_numbers(outdir: Path, stage: str) -> dict:
    summary = read_json(outdir / stage / "summary.json")
    if not summary:
        return {}
    numbers = {key: summary.get(key) for key in ("iterations", "final_iter", "stop_reason",
                                                 "max_seconds", "loss_first", "loss_last",
                                                 "seconds_per_iter", "examples_per_s", "nccl_ranks")}
    if summary.get("seconds_per_iter"):
        numbers["iterations_per_s"] = round(1 / summary["seconds_per_iter"], 3)
    return numbers


def vot_numbers(outdir: Path, stage: str) -> dict:
    summary = read_json(outdir / stage / "summary.json")
    if not summary:
        return {}
    numbers = {"sequences": summary.get("sequences"), "frames": summary.get("frames")}
    for experiment, data in summary.get("experiments", {}).items():
        numbers[experiment] = {name: {"accuracy": scores.get("accuracy"),
                                      "failures": scores.get("failures"), "fps": scores.get("fps")}
                               for name, scores in data.get("trackers", {}).items()}
    return numbers


def numbers_of(outdir: Path, stage: str) -> dict:
    """The key numbers of ``stage`` from what it wrote ({} when it wrote nothing readable)."""
    kind = stage.split("_")[0]
    parse = {"doctor": doctor_numbers, "net": net_numbers, "tracker": tracker_numbers,
             "bench": bench_train_numbers, "train": train_numbers, "nccl": train_numbers,
             "vot": vot_numbers}.get(kind)
    try:
        return parse(outdir, stage) if parse else {}
    except (OSError, KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        return {"unreadable": f"{type(exc).__name__}: {exc}"}


# ------------------------------------------------------------------ goals --
def goals(stages: dict) -> dict:
    """The session's goals against the measured numbers (``met`` None: not measured)."""
    n1 = [(case["end_to_end_fps"], name) for name, stage in stages.items()
          if name.startswith("tracker_") for n, case in stage.get("numbers", {}).items()
          if n == "N=1" and "end_to_end_fps" in case]
    n32 = [(case["targets_x_frames_per_s"], name) for name, stage in stages.items()
           if name.startswith("tracker_") for n, case in stage.get("numbers", {}).items()
           if n == "N=32" and "targets_x_frames_per_s" in case]
    fps, fps_stage = max(n1) if n1 else (None, None)
    rate, rate_stage = max(n32) if n32 else (None, None)
    keeps_up = stages.get("bench_train", {}).get("numbers", {}).get("data_keeps_up")
    return {
        "end_to_end_fps_n1": {"goal": GOAL_FPS_N1, "best": fps, "stage": fps_stage,
                              "met": None if fps is None else fps >= GOAL_FPS_N1,
                              **{f"x_paper_{gpu}": None if fps is None else round(fps / paper, 2)
                                 for gpu, paper in PAPER_FPS.items()}},
        "targets_x_frames_per_s_n32": {"goal": GOAL_TARGET_FRAMES_N32, "best": rate,
                                       "stage": rate_stage,
                                       "met": None if rate is None else rate >= GOAL_TARGET_FRAMES_N32},
        "data_layer_keeps_up": {"met": keeps_up},
    }


def summarize(outdir) -> dict:
    outdir = Path(outdir)
    session = read_json(outdir / "logs" / "session.json") or {}
    stages = {}
    for name, cap, needs_gpu in read_plan(outdir):
        record = read_json(outdir / "logs" / f"{name}.status.json")
        if record is None:
            stages[name] = {"status": "not run", "cap_s": cap, "needs_gpu": needs_gpu}
            continue
        record.update(cap_s=cap, needs_gpu=needs_gpu,
                      logs=[f"logs/{name}.out", f"logs/{name}.err"])
        if record.get("status") == "ok":
            record["numbers"] = numbers_of(outdir, name)
        stages[name] = record
    dry_run = session.get("mode") == "cpu"
    done = [s for s in stages.values() if s["status"] != "not run"]
    if dry_run:  # the stages that need a GPU must fail, and fail cleanly (not by timing out)
        expected = all((s["status"] == "failed") if s["needs_gpu"] else s["status"] in OK_STATUSES
                       for s in stages.values())
    else:
        expected = all(s["status"] in OK_STATUSES for s in stages.values())
    return {**session, "updated": time.strftime("%Y-%m-%d %H:%M:%S"),
            "finished": len(done) == len(stages) and bool(stages),
            "as_expected": expected and bool(stages),
            "seconds": round(sum(s.get("seconds", 0) for s in done), 1),
            "caps_total_s": sum(s["cap_s"] for s in stages.values()),
            "stages": stages, "goals": goals(stages)}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("usage: python -m goturn_caffe.gpu_session OUTDIR   (a tools/gpu_session.sh output "
              "folder)", file=sys.stderr)
        return 2
    summary = summarize(argv[0])
    write_json_atomic(Path(argv[0]) / "summary.json", summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
