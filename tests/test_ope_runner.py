"""OPE end to end with the static tracker (its boxes are the first box, so every score
is derived by hand): results layouts, resume, identity records, server zips, workers,
the CLI's one-line errors."""

import os
import zipfile
from pathlib import Path

import pytest
from new_dataset_fixtures import make_got10k_split, make_lasot_sequence, make_trackingnet_sequence
from ope_fixtures import make_otb_folder

from goturn_caffe.ope.evaluate import evaluate


def load_tool():
    from conftest import load_tool

    return load_tool("eval_ope")


def otb_set(root: Path) -> Path:
    make_otb_folder(root, "SeqA", [(10, 10, 20, 20), (10, 10, 20, 20), (20, 10, 20, 20)])
    make_otb_folder(root, "SeqB", [(5, 5, 10, 10), (40, 40, 10, 10)])
    return root


def run(dataset, output, kind=None, trackers=(("static", "static"),), **options):
    log = []
    summary = evaluate(list(trackers), dataset, output, kind, show_progress=False, log=log.append, **options)
    return summary, log


def test_otb_layout_scores_by_hand(tmp_path):
    summary, log = run(otb_set(tmp_path / "data"), tmp_path / "out")
    assert summary["dataset"] == "OTB" and summary["scorer"] == "otb"
    assert any(line.startswith("planned: 1 tracker(s) x 2 sequence(s): 2 to run (5 frames)") for line in log)
    folder = tmp_path / "out" / "results" / "OTB" / "static"
    assert (folder / "SeqA.txt").read_text() == "10.0000,10.0000,20.0000,20.0000\n" * 3
    assert len((folder / "times" / "SeqA_time.txt").read_text().split()) == 3
    # SeqA: IoU 1, 1, 200/600 -> AUC (20 + 20 + 7) / 63, errors 0, 0, 10 -> precision 1;
    # SeqB: IoU 1, 0 -> AUC 20 / 42, errors 0, 49.5 -> precision 1/2; the mean over sequences:
    scores = summary["trackers"]["static"]
    assert scores["auc"] == pytest.approx((47 / 63 + 20 / 42) / 2)
    assert scores["precision"] == pytest.approx(0.75)
    markdown = (tmp_path / "out" / "summary.md").read_text()
    assert "## OTB" in markdown and "| static | 0.611 | 0.750 |" in markdown
    assert (tmp_path / "out" / "scores" / "OTB.json").is_file()
    if summary["files"].get("success_plot"):
        assert Path(summary["files"]["success_plot"]).stat().st_size > 0


def test_resume_and_identity(tmp_path):
    data, out = otb_set(tmp_path / "data"), tmp_path / "out"
    run(data, out)
    folder = out / "results" / "OTB" / "static"
    (folder / "SeqB.txt").unlink()
    stamp = (folder / "SeqA.txt").stat().st_mtime_ns
    _, log = run(data, out)
    assert any("1 to run (2 frames), 1 already done" in line for line in log)
    assert (folder / "SeqA.txt").stat().st_mtime_ns == stamp and (folder / "SeqB.txt").is_file()
    with pytest.raises(ValueError, match=r"holds results of another run \(tracker kcf \(recorded: static\)"):
        run(data, out, trackers=[("static", "kcf")])
    (data / "SeqA" / "groundtruth_rect.txt").write_text("10,10,20,20\n10,10,20,20\n30,10,20,20\n")
    with pytest.raises(ValueError, match=r"1 sequence\(s\) made on another ground truth \(SeqA\)"):
        run(data, out)
    (folder / "identity.json").unlink()
    with pytest.raises(ValueError, match="no record of what produced them"):
        run(data, out)


def test_got10k_val_by_hand(tmp_path):
    make_got10k_split(tmp_path, "val", {
        "GOT-10k_Val_000001": {"boxes": [(10, 10, 20, 20), (10, 10, 20, 20), (60, 40, 20, 20)],
                               "cover": [8, 8, 4]},
        "GOT-10k_Val_000002": {"boxes": [(5, 5, 10, 10), (5, 5, 10, 20), (5, 5, 10, 10)],
                               "cover": [8, 0, 8], "absence": [0, 1, 0]}})
    summary, log = run(tmp_path / "val", tmp_path / "out")
    assert summary["dataset"] == "GOT-10k_val" and summary["scorer"] == "got10k"
    folder = tmp_path / "out" / "results" / "GOT-10k_val" / "static" / "GOT-10k_Val_000001"
    assert sorted(p.name for p in folder.iterdir()) == ["GOT-10k_Val_000001_001.txt",
                                                        "GOT-10k_Val_000001_time.txt"]
    # pooled frames 2.. with cover > 0: IoU 1; the box clipped to 60,40,4,8 in the 64x48 image: 0;
    # (frame 2 of the second sequence has cover 0: dropped) IoU 1
    scores = summary["trackers"]["static"]
    assert scores["frames"] == 3 and scores["ao"] == pytest.approx(2 / 3)
    assert scores["sr50"] == pytest.approx(2 / 3) and scores["sr75"] == pytest.approx(2 / 3)
    assert "GOT-10k rule" in summary["rule"]


def test_server_zips(tmp_path):
    make_got10k_split(tmp_path / "got", "test", {
        "GOT-10k_Test_000001": {"boxes": [(10, 10, 20, 20)] * 3},
        "GOT-10k_Test_000002": {"boxes": [(5, 5, 10, 10)] * 2}})
    summary, _ = run(tmp_path / "got", tmp_path / "out", kind="got10k-test")
    zip_file = Path(summary["submissions"]["static"])
    assert zip_file.name == "GOT-10k_test_static.zip" and summary["trackers"] == {}
    with zipfile.ZipFile(zip_file) as archive:
        assert sorted(archive.namelist()) == [
            "GOT-10k_Test_000001/GOT-10k_Test_000001_001.txt", "GOT-10k_Test_000001/GOT-10k_Test_000001_time.txt",
            "GOT-10k_Test_000002/GOT-10k_Test_000002_001.txt", "GOT-10k_Test_000002/GOT-10k_Test_000002_time.txt"]
        assert archive.read("GOT-10k_Test_000002/GOT-10k_Test_000002_001.txt").decode() == \
            "5.0000,5.0000,10.0000,10.0000\n" * 2
    make_trackingnet_sequence(tmp_path / "tn", "TEST", "seqA", [(1, 2, 3, 4)] * 3, first_line_only=True)
    summary, _ = run(tmp_path / "tn", tmp_path / "out")
    with zipfile.ZipFile(summary["submissions"]["static"]) as archive:
        assert archive.namelist() == ["seqA.txt"]
        assert archive.read("seqA.txt").decode() == "1.0000,2.0000,3.0000,4.0000\n" * 3
    assert "TrackingNet_static.zip" in (tmp_path / "out" / "summary.md").read_text()


def test_lasot_absent_frames(tmp_path):
    make_lasot_sequence(tmp_path, "airplane-1", [(10, 10, 20, 20), (20, 10, 20, 20), (10, 10, 20, 20)],
                        full_occlusion=[0, 0, 1])
    summary, _ = run(tmp_path, tmp_path / "out", kind="lasot")
    scores = summary["trackers"]["static"]
    # frame 3 is absent: no success, still in the denominator: IoU 1 and 1/3 over 3 frames
    assert scores["frames"] == 2 and scores["auc"] == pytest.approx(27 / 63)
    if summary["files"].get("success_plot"):
        assert Path(summary["files"]["norm_precision_plot"]).name == "LaSOT_norm_precision.png"


def test_workers_write_the_same_files(tmp_path):
    data = otb_set(tmp_path / "data")
    run(data, tmp_path / "one")
    run(data, tmp_path / "two", jobs=2)
    for name in ("SeqA.txt", "SeqB.txt", "identity.json"):
        one = (tmp_path / "one" / "results" / "OTB" / "static" / name).read_bytes()
        assert (tmp_path / "two" / "results" / "OTB" / "static" / name).read_bytes() == one


def test_cli(tmp_path, capsys):
    tool = load_tool()
    data = otb_set(tmp_path / "data")
    assert tool.main(["--dataset", str(data), "--output", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "static: success AUC 0.611, precision 0.750" in out and "OTB rule" in out
    (tmp_path / "empty").mkdir()
    for args, message in [
            (["--dataset", str(tmp_path / "empty")], "not a dataset folder this tool reads"),
            (["--dataset", str(data), "--tracker", "nope"], "--tracker: unknown nope"),
            (["--dataset", str(data), "--sequences", "SeqZ"], "--sequences: not in the dataset: SeqZ"),
            (["--dataset", str(tmp_path / "nowhere")], "no such folder")]:
        assert tool.main(args + ["--output", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("eval_ope.py: ") and message in err and "\n" not in err


def test_shared_otb_sample(shared_data, tmp_path):
    summary, _ = run(shared_data / "otb", tmp_path / "out")
    assert summary["dataset"] == "OTB" and summary["sequences"] == ["David", "Man"]
    lines = (tmp_path / "out" / "results" / "OTB" / "static" / "David.txt").read_text().splitlines()
    assert len(lines) == 761 and 0 < summary["trackers"]["static"]["auc"] < 1


def test_otb2013_benchmark_report(tmp_path):
    from ope_fixtures import make_otb_benchmark

    data = make_otb_benchmark(tmp_path / "otb", version="2013")
    summary, _ = run(data, tmp_path / "out")
    assert summary["dataset"] == "OTB2013" and len(summary["sequences"]) == 51
    attributes = summary["trackers"]["static"]["attributes"]
    assert sorted(attributes) == sorted(["IV", "SV", "OCC", "DEF", "MB", "FM", "IPR", "OPR", "OV", "BC", "LR"])
    assert attributes["LR"]["sequences"] == 4     # Deer, Ironman, MotorRolling, Walking2
    markdown = (tmp_path / "out" / "summary.md").read_text()
    assert "GOTURN (published: released C++ GOTURN, run by foolwood/benchmark_results) | 0.444 | 0.620" in markdown
    assert "davheld/GOTURN issue 48" in markdown and "Success AUC per attribute" in markdown
    if summary["files"].get("attribute_plot"):
        assert Path(summary["files"]["attribute_plot"]).stat().st_size > 0


def test_uav123_nan_frames_follow_the_otb_rule(tmp_path):
    from ope_fixtures import make_uav_target

    make_uav_target(tmp_path, "car2", [(10, 10, 20, 20), None, (10, 10, 20, 20)])
    summary, _ = run(tmp_path, tmp_path / "out")
    scores = summary["trackers"]["static"]
    # the NaN frame stays in the denominator: a miss for success, a hit for precision
    assert summary["dataset"] == "UAV123"
    assert scores["auc"] == pytest.approx(40 / 63) and scores["precision"] == 1.0


def test_a_tracker_that_cannot_be_built_leaves_no_trace(tmp_path):
    def broken(name):
        raise ValueError("weights.caffemodel: not a Caffe model")

    with pytest.raises(ValueError, match="not a Caffe model"):
        run(otb_set(tmp_path / "data"), tmp_path / "out", tracker_factory=broken)
    assert not (tmp_path / "out" / "results" / "OTB").exists()
    assert not (tmp_path / "out" / "summary.md").exists()


def test_a_subset_of_the_benchmark_gets_no_published_row(tmp_path):
    from ope_fixtures import make_otb_benchmark

    data = make_otb_benchmark(tmp_path / "otb", version="2013")
    summary, _ = run(data, tmp_path / "out", sequences=["Basketball", "Jogging.2"])
    assert summary["dataset"] == "OTB2013" and summary["sequences"] == ["Basketball", "Jogging.2"]
    assert "published" not in (tmp_path / "out" / "summary.md").read_text()


# ---- an output must not be an input -------------------------------------------------------
@pytest.mark.parametrize("link", ["hard", "symbolic"])
def test_an_output_that_is_a_ground_truth_file_is_refused(link, tmp_path, capsys):
    data = otb_set(tmp_path / "data")
    truth = data / "SeqA" / "groundtruth_rect.txt"
    before = truth.read_bytes()
    out = tmp_path / "out"
    out.mkdir()
    (os.link if link == "hard" else os.symlink)(truth, out / "summary.md")
    assert load_tool().main(["--dataset", str(data), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"eval_ope.py: {out / 'summary.md'}: --output would overwrite an input")
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert truth.read_bytes() == before and sorted(p.name for p in out.iterdir()) == ["summary.md"]


def test_an_output_into_a_frames_folder_linked_from_the_dataset_is_refused(tmp_path, capsys):
    """The dataset links a sequence folder that lives elsewhere: its frames are inputs too."""
    elsewhere = otb_set(tmp_path / "elsewhere")
    data = tmp_path / "data"
    data.mkdir()
    (data / "SeqA").symlink_to(elsewhere / "SeqA", target_is_directory=True)
    out = tmp_path / "out"
    (out / "results" / "OTB").mkdir(parents=True)
    (out / "results" / "OTB" / "static").symlink_to(elsewhere / "SeqA" / "img", target_is_directory=True)
    frame = elsewhere / "SeqA" / "img" / "SeqA.txt"      # where the boxes would go: made a frame
    frame.write_text("a frame the run reads\n")
    assert load_tool().main(["--dataset", str(data), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--output would overwrite an input" in err and len(err.splitlines()) == 1
    assert frame.read_text() == "a frame the run reads\n"
    assert not (out / "summary.md").exists()


def test_an_output_that_is_the_deploy_file_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GOTURN_CAFFE_CACHE", str(tmp_path / "cache"))
    data = otb_set(tmp_path / "data")
    deploy, weights = tmp_path / "deploy.prototxt", tmp_path / "w.caffemodel"
    deploy.write_text("name: 'net'\n")
    weights.write_bytes(b"weights")
    out = tmp_path / "out"
    out.mkdir()
    os.link(deploy, out / "summary.md")
    assert load_tool().main(["--dataset", str(data), "--output", str(out), "--tracker", "goturn",
                             "--deploy", str(deploy), "--weights", str(weights)]) == 2
    err = capsys.readouterr().err
    assert f"--output would overwrite an input of the run ({deploy})" in err
    assert deploy.read_text() == "name: 'net'\n" and not (out / "results").exists()


# ---- workers: BLAS threads, parent death, SIGTERM (the checks of tests/test_vot_jobs.py) --
@pytest.mark.parametrize("variable, expected", [(None, 1), ("2", 2)])
def test_every_tracking_process_uses_the_same_blas_threads(variable, expected, tmp_path, monkeypatch):
    from worker_checks import check_one_blas_thread_count

    data = otb_set(tmp_path / "data")

    def run_ope(jobs, factory, output):
        run(data, output, jobs=jobs, tracker_factory=factory)

    check_one_blas_thread_count(run_ope, variable, expected, tmp_path, monkeypatch)


@pytest.fixture(params=[2])
def running_ope(request, tmp_path):
    """eval_ope.py --jobs N (default 2) with trackers that never finish."""
    from worker_checks import gated_run

    data = otb_set(tmp_path / "data")
    with gated_run("eval_ope", "ope", ["--dataset", str(data), "--output", str(tmp_path / "out")],
                   request.param, tmp_path / "gate") as running:
        yield running


def test_workers_die_when_the_parent_is_killed(running_ope):
    from worker_checks import check_killed_parent_takes_its_workers

    check_killed_parent_takes_its_workers(*running_ope)


@pytest.mark.parametrize("running_ope", [1, 2], indirect=True)
def test_sigterm_ends_the_run_with_one_line(running_ope, tmp_path):
    from worker_checks import check_sigterm_ends_with_one_line

    check_sigterm_ends_with_one_line(*running_ope, "eval_ope", tmp_path / "out")
    assert not list((tmp_path / "out").rglob("*.txt"))     # nothing finished, nothing half-written
