"""tools/eval_vot2014.py --jobs (issue 21): the same files for every --jobs, --name in
workers, and workers that die with their parent (goturn_caffe.track.workers).  The
checks of one BLAS thread count, of parent death and of SIGTERM take the run as an
argument: tests/test_ope_runner.py makes the same ones on tools/eval_ope.py."""

import json
import os
from pathlib import Path

import pytest
from vot_fixtures import write_vot_dataset
from worker_checks import (
    check_killed_parent_takes_its_workers,
    check_one_blas_thread_count,
    check_sigterm_ends_with_one_line,
    gated_run,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_CAR = REPO_ROOT / "data" / "sample" / "vot" / "car"


def load_tool():
    from conftest import load_tool

    return load_tool("eval_vot2014")


def results_files(root: Path) -> dict:
    """Every results file but the per-frame times (seconds differ run to run)."""
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and (p.suffix == ".txt" or p.name == "identity.json")}


# ---- the same files for every --jobs ------------------------------------------------------
def test_a_thread_sensitive_net_writes_the_same_files_for_jobs_1_and_2(caffe, tmp_path, monkeypatch,
                                                                      capsys):
    """The tiny net's convolution gives other float sums with 1 and 2 OpenBLAS threads
    (so did the real net: 34 of 36 files differed in the 4th decimal when jobs 1 used
    every core and each of 2 workers half of them)."""
    from vot_fixtures import write_car_excerpts, write_tiny_conv_goturn

    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOTURN_CAFFE_CACHE", str(tmp_path / "cache"))
    deploy, weights = write_tiny_conv_goturn(tmp_path / "net")
    dataset = write_car_excerpts(tmp_path / "vot", SAMPLE_CAR, starts=(1, 30), frames=5)
    outputs = {}
    for jobs in (1, 2):
        outputs[jobs] = tmp_path / f"jobs{jobs}"
        assert load_tool().main(["--tracker", "goturn", "--deploy", str(deploy), "--weights",
                                 str(weights), "--dataset", str(dataset), "--output",
                                 str(outputs[jobs]), "--no-efo", "--jobs", str(jobs)]) == 0
    capsys.readouterr()
    one, two = results_files(outputs[1]), results_files(outputs[2])
    assert len(one) == 1 + 2 * (3 + 15)
    assert [k for k in one if one[k] != two.get(k)] == []
    noisy = [v for k, v in one.items() if k.parts[1] == "region_noise"]
    assert len(set(noisy)) == len(noisy)            # real boxes, not one repeated file


@pytest.mark.parametrize("variable, expected", [(None, 1), ("2", 2)])
def test_every_tracking_process_uses_the_same_blas_threads(variable, expected, tmp_path, monkeypatch):
    from goturn_caffe.vot.evaluate import evaluate

    dataset = write_vot_dataset(tmp_path / "vot", num_frames=4)

    def run(jobs, factory, output):
        evaluate([("static", "static")], dataset, output, ["baseline"], show_progress=False,
                 log=lambda message: None, jobs=jobs, tracker_factory=factory)

    check_one_blas_thread_count(run, variable, expected, tmp_path, monkeypatch)


def test_tracking_threads_come_from_the_user_or_are_one():
    from goturn_caffe.track.workers import tracking_threads

    assert tracking_threads({}) == 1
    assert tracking_threads({"OPENBLAS_NUM_THREADS": "4", "OMP_NUM_THREADS": "2"}) == 4
    assert tracking_threads({"OMP_NUM_THREADS": "3"}) == 3
    assert tracking_threads({"OPENBLAS_NUM_THREADS": "many", "OMP_NUM_THREADS": "0"}) == 1


# ---- --name -------------------------------------------------------------------------------
def test_name_with_jobs_writes_into_the_named_folder(tmp_path, capsys):
    dataset = write_vot_dataset(tmp_path / "vot", num_frames=6)
    output = tmp_path / "out"
    assert load_tool().main(["--tracker", "static", "--name", "mine", "--dataset", str(dataset),
                             "--output", str(output), "--experiments", "baseline", "--no-efo",
                             "--jobs", "2"]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in output.iterdir() if p.is_dir()) == ["mine"]
    assert len(list((output / "mine" / "baseline").glob("*/*_00[1-3].txt"))) == 2 * 3
    summary = json.loads((output / "summary.json").read_text())
    assert set(summary["experiments"]["baseline"]["trackers"]) == {"mine"}


@pytest.mark.parametrize("name", ["../x", "a/b", "..", ".", "", " padded", "/abs"])
def test_name_must_be_a_plain_folder_name(name, tmp_path, capsys):
    dataset = write_vot_dataset(tmp_path / "vot", num_frames=4)
    output = tmp_path / "out"
    assert load_tool().main(["--tracker", "static", "--name", name, "--dataset", str(dataset),
                             "--output", str(output), "--no-efo"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("eval_vot2014.py: --name") and len(err.splitlines()) == 1, err
    assert "plain folder name" in err and "Traceback" not in err
    assert not output.exists() and not (tmp_path / "x").exists()


# ---- workers die with their parent --------------------------------------------------------


@pytest.fixture(params=[2])
def running_eval(request, tmp_path):
    """eval_vot2014.py --jobs N (default 2) with trackers that never finish."""
    dataset = write_vot_dataset(tmp_path / "vot", num_frames=8)
    with gated_run("eval_vot2014", "vot", ["--tracker", "static", "--dataset", str(dataset),
                                           "--output", str(tmp_path / "out"), "--experiments",
                                           "baseline", "--no-efo"],
                   request.param, tmp_path / "gate") as running:
        yield running


def test_workers_die_when_the_parent_is_killed(running_eval):
    check_killed_parent_takes_its_workers(*running_eval)


@pytest.mark.parametrize("running_eval", [1, 2], indirect=True)
def test_sigterm_stops_the_workers_and_ends_with_one_line(running_eval, tmp_path):
    check_sigterm_ends_with_one_line(*running_eval, "eval_vot2014", tmp_path / "out")


def test_the_watchdog_notices_a_parent_that_is_gone():
    from goturn_caffe.track.workers import watch_parent

    orphaned = []
    not_my_parent = os.getppid() + 1 if os.getppid() + 1 != os.getpid() else os.getppid() + 2
    watch_parent(not_my_parent, interval=0.01, orphaned=lambda: orphaned.append(True))
    assert orphaned == [True]
