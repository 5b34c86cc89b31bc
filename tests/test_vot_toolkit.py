"""Our results against the official VOT toolkit (PyPI vot-toolkit 0.9.0): the same
failures and accuracies from its own analysis functions, its reader, its TraX
runtime.  They run on a dataset made from the bundled sample (the real car
excerpt, and generated VOT2016 / VOT2015 style sequences with rotated polygons:
conftest.toolkit_vot), and again on the shared VOT subset where it is present."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from goturn_caffe.datasets.vot import load_vot, load_vot_sequence
from goturn_caffe.vot.analysis import score_sequence
from goturn_caffe.vot.experiment import EXPERIMENTS, ground_truth, run_vot_experiment
from goturn_caffe.vot.results import repetition_paths

REPO_ROOT = Path(__file__).resolve().parents[1]




@pytest.fixture(scope="module")
def static_results(vot_root, tmp_path_factory):
    """The static baseline on every sequence (baseline) and on car (region_noise)."""
    root = vot_root
    videos = load_vot(root)
    truths = [ground_truth(v) for v in videos]
    output = tmp_path_factory.mktemp("vot_static")
    from goturn_caffe.track.reference import StaticTracker

    run_vot_experiment(StaticTracker(), "static", videos, EXPERIMENTS["baseline"], output, truths=truths,
                       show_progress=False)
    car = [i for i, v in enumerate(videos) if v.name == "car"]
    run_vot_experiment(StaticTracker(), "static", [videos[i] for i in car], EXPERIMENTS["region_noise"],
                       output, truths=[truths[i] for i in car], show_progress=False)
    return root, videos, truths, output


def test_static_baseline_on_car_is_deterministic_and_fails(static_results, tmp_path):
    root, videos, truths, output = static_results
    index = [v.name for v in videos].index("car")
    first = score_sequence(output, "static", "baseline", videos[index], truths[index])
    from goturn_caffe.track.reference import StaticTracker

    run_vot_experiment(StaticTracker(), "static", [videos[index]], EXPERIMENTS["baseline"], tmp_path,
                       show_progress=False)
    second = score_sequence(tmp_path, "static", "baseline", videos[index], ground_truth(videos[index]))
    assert (first.accuracy, first.failures) == (second.accuracy, second.failures)
    assert first.failures > 0 and 0 < first.accuracy < 1
    assert first.repetitions == 3          # deterministic: stopped after 3 identical runs
    assert [p.read_text() for p in repetition_paths(output, "static", "baseline", "car")] == \
        [p.read_text() for p in repetition_paths(tmp_path, "static", "baseline", "car")]


def test_toolkit_scores_our_results_files_the_same(static_results):
    dataset = pytest.importorskip("vot.dataset")
    from vot.analysis.supervised import compute_accuracy, count_failures
    from vot.region.io import read_trajectory

    root, videos, truths, output = static_results
    checked = 0
    for experiment in ("baseline", "region_noise"):
        for video, truth in zip(videos, truths):
            ours = score_sequence(output, "static", experiment, video, truth)
            if ours is None:
                continue
            sequence = dataset.load_sequence(str(root / video.name))
            paths = repetition_paths(output, "static", experiment, video.name)
            trajectories = [read_trajectory(str(p)) for p in paths]
            accuracy = np.mean([compute_accuracy(t, sequence)[0] for t in trajectories])
            failures = np.mean([count_failures(t)[0] for t in trajectories])
            assert ours.failures == failures, (experiment, video.name)
            assert ours.accuracy == pytest.approx(accuracy, abs=1e-3), (experiment, video.name)
            assert ours.accuracy == pytest.approx(accuracy, abs=1e-9)  # in fact identical
            checked += 1
    assert checked == len(videos) + 1


def test_failure_frames_match_the_toolkit_loop(static_results):
    """The toolkit's supervised loop (multirun.SupervisedExperiment), written out with
    its own overlap, for a static box (the min/max box of the ground truth at each
    (re)initialisation): the same failure frames as our run."""
    dataset = pytest.importorskip("vot.dataset")
    from vot.region import calculate_overlap
    from vot.region.shapes import Rectangle

    root, videos, _, output = static_results
    for video in videos:
        sequence = dataset.load_sequence(str(root / video.name))
        expected, frame = [], 0
        while frame < len(sequence):
            points = np.array(sequence.groundtruth(frame).points())
            x, y = points.min(axis=0)
            w, h = points.max(axis=0) - points.min(axis=0)
            box = Rectangle(x, y, w, h)
            frame += 1
            while frame < len(sequence):
                if calculate_overlap(box, sequence.groundtruth(frame), sequence.size) <= 0:
                    expected.append(frame)
                    frame += 5
                    break
                frame += 1
        path = repetition_paths(output, "static", "baseline", video.name)[0]
        lines = path.read_text().split()
        assert [i for i, line in enumerate(lines) if line == "2"] == expected, video.name


def test_trax_entry_point_runs_under_the_toolkit(tmp_path):
    pytest.importorskip("trax")
    dataset = pytest.importorskip("vot.dataset")
    from vot.tracker import ObjectStatus, Registry
    from vot_fixtures import write_vot_dataset

    write_vot_dataset(tmp_path / "data", num_frames=6)
    (tmp_path / "trackers.ini").write_text(
        f"[static_trax]\nlabel = static\nprotocol = trax\n"
        f"command = {sys.executable} {REPO_ROOT / 'tools' / 'vot_trax.py'} --tracker static\n")
    tracker = Registry([str(tmp_path)])["static_trax"]
    sequence = dataset.load_sequence(str(tmp_path / "data" / "modern"))
    ours = load_vot_sequence(tmp_path / "data" / "modern")
    expected = ours.frames[0].box.to_xywh()
    with tracker.runtime() as runtime:
        runtime.initialize(sequence.frame(0), [ObjectStatus(sequence.groundtruth(0), {})])
        for frame in range(1, 4):
            status, _ = runtime.update(sequence.frame(frame), [])
            region = status[0].region
            assert (region.x, region.y, region.width, region.height) == pytest.approx(expected)


def test_vot_analysis_cli_reads_our_results_folder(static_results, tmp_path):
    """``vot analysis`` (stack vot2014, baseline) on a workspace holding our results
    folder reports our dataset-level accuracy and failures."""
    pytest.importorskip("vot")
    import shutil
    import subprocess

    from goturn_caffe.vot.analysis import overall_scores

    root, videos, truths, output = static_results
    workspace = tmp_path / "workspace"
    subprocess.run([sys.executable, "-m", "vot", "initialize", "vot2014", "--workspace", str(workspace),
                    "--nodownload"], check=True, capture_output=True)
    (workspace / "sequences").rmdir()
    (workspace / "sequences").symlink_to(root)
    shutil.copytree(output / "static" / "baseline", workspace / "results" / "static" / "baseline")
    (workspace / "trackers.ini").write_text(
        f"[static]\nlabel = static\nprotocol = trax\n"
        f"command = {sys.executable} {REPO_ROOT / 'tools' / 'vot_trax.py'} --tracker static\n")
    subprocess.run([sys.executable, "-m", "vot", "analysis", "--workspace", str(workspace), "static",
                    "--format", "json"], check=True, capture_output=True)
    report = json.loads(next((workspace / "analysis").glob("*.json")).read_text())
    (average, ), (cumulative, ) = report["results"]["baseline"]["results"]
    accuracy, failures_per_sequence = average[:2]
    ours = overall_scores([score_sequence(output, "static", "baseline", v, t)
                           for v, t in zip(videos, truths)])
    assert accuracy == pytest.approx(ours["accuracy"], abs=1e-9)
    assert failures_per_sequence == pytest.approx(ours["failures_per_sequence"], abs=1e-9)
    assert cumulative[0] == ours["failures"]
    assert average[2][0] == pytest.approx(ours["reliability"], abs=1e-9)     # A-R plot robustness
