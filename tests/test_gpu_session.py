"""`tools/gpu_session.sh`: the whole GPU session as a CPU dry run (--cpu), with tiny sizes.

The stages that need no GPU must pass on the CPU; the ones that need one (cuDNN,
NCCL) must fail cleanly: recorded with their exit status and reason, the next
stage run.  The time caps are set generously here: this checks what the stages
do, not how fast (speed is tools/benchmark.py's business)."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "tools" / "gpu_session.sh"
CAR = REPO_ROOT / "data" / "sample" / "vot" / "car"
STAGES = ["unpack", "doctor", "net_caffe", "net_cudnn", "tracker_caffe", "tracker_cudnn",
          "bench_train", "train", "vot", "nccl"]
NEEDS_GPU = {"net_cudnn", "tracker_cudnn", "nccl"}
TINY = dict(TARGETS="1", FORWARDS="1", STEPS="1", BENCH_ITERS="1", WORKERS="1", BATCH="11",
            TRAIN_SECONDS="0.001", TRAIN_MAX_ITER="50", NCCL_ITERS="1", NCCL_WORKERS="1",
            TRAIN_CONV="0",  # the fc layers only: a CPU iteration without the convolutions' backward
            VOT_EXPERIMENTS="baseline",
            **{f"CAP_{stage.upper()}": "600" for stage in STAGES})


def tiny_vot(folder, frames=8):
    """The bundled car cut to its first ``frames`` frames."""
    car = folder / "car"
    car.mkdir(parents=True)
    for i in range(1, frames + 1):
        shutil.copy(CAR / f"{i:08d}.jpg", car)
    for annotation in [CAR / "groundtruth.txt"] + sorted(CAR.glob("*.label")):
        lines = annotation.read_text().splitlines()[:frames]
        (car / annotation.name).write_text("\n".join(lines) + "\n")
    (folder / "list.txt").write_text("car\n")
    return folder


def run_session(tmp_path, *args, **env):
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHON": sys.executable, "TMPDIR": str(scratch), **env},
                          timeout=1800)


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("session")
    out = tmp_path / "out"
    proc = run_session(tmp_path, "--cpu", str(out), VOT_DATASET=str(tiny_vot(tmp_path / "vot")),
                       **TINY)
    return proc, out, json.loads((out / "summary.json").read_text())


def test_dry_run_records_every_stage_as_the_cpu_mode_expects(caffe, dry_run):
    proc, out, summary = dry_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert summary["mode"] == "cpu" and summary["finished"] and summary["as_expected"]
    assert list(summary["stages"]) == STAGES
    assert summary["caps_total_s"] == 600 * len(STAGES)  # the CAP_* overrides
    unpack = summary["stages"]["unpack"]
    assert unpack["status"] == "skipped" and "no archive given" in unpack["reason"]
    for name in STAGES[1:]:
        stage = summary["stages"][name]
        assert stage["needs_gpu"] == (name in NEEDS_GPU)
        if name in NEEDS_GPU:  # failed cleanly: its own exit status and one-line reason, no timeout
            assert stage["status"] == "failed" and stage["rc"] not in (0, 124, 137), stage
            assert "Traceback" not in (out / "logs" / f"{name}.err").read_text()
        else:
            assert stage["status"] == "ok" and stage["rc"] == 0, stage
        assert (out / "logs" / f"{name}.out").exists() and (out / "logs" / f"{name}.err").exists()
        assert json.loads((out / "logs" / f"{name}.status.json").read_text())["status"] == stage["status"]
    reasons = {name: summary["stages"][name]["reason"] for name in NEEDS_GPU}
    assert "cudnn" in reasons["net_cudnn"] and "cudnn" in reasons["tracker_cudnn"]
    assert "NCCL training" in reasons["nccl"]


def test_dry_run_numbers_come_from_each_stages_own_files(caffe, dry_run):
    _, out, summary = dry_run
    stages = summary["stages"]
    tracker = json.loads((out / "bench" / "tracker_caffe.json").read_text())["tracker"]["cases"]
    n1 = stages["tracker_caffe"]["numbers"]["N=1"]
    assert n1["end_to_end_fps"] == tracker["caffe N=1"]["end_to_end_fps"] > 0
    assert n1["x_paper_gtx680"] == round(n1["end_to_end_fps"] / 100, 2)
    assert n1["x_paper_titan_x"] == round(n1["end_to_end_fps"] / 165, 2)
    goal = summary["goals"]["end_to_end_fps_n1"]
    assert goal["best"] == n1["end_to_end_fps"] and goal["met"] is False and goal["goal"] == 1000
    assert summary["goals"]["targets_x_frames_per_s_n32"]["met"] is None  # N=32 not measured here
    net = json.loads((out / "bench" / "net_caffe.json").read_text())["net"]["cases"]
    assert stages["net_caffe"]["numbers"]["batch 1"]["forward_ms"] == net["caffe batch=1"]["forward_ms"]
    bench = json.loads((out / "bench" / "bench_train.json").read_text())["train"]
    assert stages["bench_train"]["numbers"]["data_keeps_up"] == bench["data_keeps_up"]
    assert summary["goals"]["data_layer_keeps_up"]["met"] == bench["data_keeps_up"]
    assert stages["doctor"]["numbers"]["build"].startswith("CPU only")


def test_dry_run_trains_until_max_seconds_and_tracks_with_that_model(caffe, dry_run):
    _, out, summary = dry_run
    train = json.loads((out / "train" / "summary.json").read_text())
    assert train["stop_reason"] == "max_seconds" and 1 <= train["iterations"] < 50
    assert summary["stages"]["train"]["numbers"]["iterations"] == train["iterations"]
    assert (out / "train" / "loss.csv").read_text().count("\n") == train["iterations"] + 1
    # the model (455 MB) stayed outside OUTDIR, in a work folder deleted at the end
    assert not list(out.rglob("*.caffemodel")) and not list(out.rglob("*.solverstate"))
    assert not list((out.parent / "scratch").glob("goturn-session.*"))
    assert train["model"] in summary["stages"]["vot"]["command"]
    vot = summary["stages"]["vot"]["numbers"]["baseline"]
    assert set(vot) == {"goturn", "static"}
    assert 0 <= vot["goturn"]["accuracy"] <= 1 and vot["goturn"]["failures"] >= 0
    assert (out / "vot" / "goturn" / "baseline" / "car" / "car_001.txt").exists()


def test_a_missing_archive_is_named_and_a_partial_run_leaves_a_summary(caffe, tmp_path):
    out = tmp_path / "out"
    proc = run_session(tmp_path, "--cpu", str(out), str(tmp_path / "no-such-runtime.tar.xz"),
                       STAGES="doctor")
    assert proc.returncode == 1
    summary = json.loads((out / "summary.json").read_text())
    unpack = summary["stages"]["unpack"]
    assert unpack["status"] == "failed"
    assert unpack["reason"].startswith(f"runtime archive not found: {tmp_path / 'no-such-runtime.tar.xz'}")
    assert summary["stages"]["doctor"]["status"] == "ok"  # with .venv's Python instead
    assert [s["status"] for s in summary["stages"].values()].count("not run") == len(STAGES) - 2
    assert not summary["finished"] and not summary["as_expected"]


@pytest.mark.parametrize("args", [[], ["a", "b", "c"], ["--bogus", "out"]])
def test_bad_arguments(tmp_path, args):
    proc = run_session(tmp_path, *args)
    assert proc.returncode == 2 and "usage: tools/gpu_session.sh" in proc.stderr


def test_with_an_archive_the_stages_run_with_its_python(caffe, tmp_path):
    import tarfile

    runtime = tmp_path / "build" / "goturn-runtime"
    runtime.mkdir(parents=True)
    # a stand-in for the packed runtime's run.sh: its "python" is this interpreter
    (runtime / "run.sh").write_text('#!/usr/bin/env bash\n[ "$1" = python ] && shift && '
                                    f'exec {sys.executable} "$@"\nexec "$@"\n')
    (runtime / "run.sh").chmod(0o755)
    archive = tmp_path / "runtime.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        tar.add(runtime, arcname="goturn-runtime")
    # NCCL only in the machine's Python wheels, as pip's nvidia-nccl-cu13 installs it
    wheel_lib = tmp_path / "wheels" / "nvidia" / "nccl" / "lib"
    wheel_lib.mkdir(parents=True)
    (wheel_lib / "libnccl.so.2").write_bytes(b"")
    out = tmp_path / "out"
    proc = run_session(tmp_path, "--cpu", str(out), str(archive), STAGES="doctor",
                       RUNTIME_DIR=str(tmp_path / "rt"), CUDA_HOME=str(tmp_path / "no-cuda"),
                       PYTHONPATH=str(tmp_path / "wheels"), PYTHON="/nonexistent/python")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stages"]["unpack"]["status"] == "ok", summary["stages"]["unpack"]
    assert (tmp_path / "rt" / "goturn-runtime" / "run.sh").exists()
    doctor = summary["stages"]["doctor"]
    assert doctor["status"] == "ok" and doctor["command"].startswith(
        f"{tmp_path / 'rt' / 'goturn-runtime' / 'run.sh'} python -m goturn_caffe.doctor")
    assert f"CUDA libraries from the machine's Python wheels: {wheel_lib}" in \
        (out / "logs" / "unpack.out").read_text()
    assert proc.returncode == 1  # the other stages were not run
