"""tools/eval_vot2014.py end to end: results layout, summary, plot, rerun, errors."""

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from vot_fixtures import write_vot_dataset

REPO_ROOT = Path(__file__).resolve().parents[1]
TOOL = REPO_ROOT / "tools" / "eval_vot2014.py"


def load_tool():
    spec = importlib.util.spec_from_file_location("eval_vot2014", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_help_explains_the_options():
    completed = subprocess.run([sys.executable, str(TOOL), "--help"], capture_output=True, text=True)
    assert completed.returncode == 0
    for option in ("--tracker", "--dataset", "--output", "--sequences", "--experiments", "--weights"):
        assert option in completed.stdout


def test_static_and_kcf_end_to_end_then_rerun_skips(tmp_path, capsys):
    dataset = write_vot_dataset(tmp_path / "vot", num_frames=30)
    output = tmp_path / "out"
    args = ["--tracker", "static,kcf", "--dataset", str(dataset), "--output", str(output),
            "--experiments", "baseline", "--no-efo"]
    assert load_tool().main(args) == 0
    assert "GOTURN (Ours) (paper, Table 2)" in capsys.readouterr().out
    for tracker in ("static", "kcf"):
        for sequence in ("legacy", "modern"):
            path = output / tracker / "baseline" / sequence / f"{sequence}_001.txt"
            lines = path.read_text().split()
            assert len(lines) == 30 and lines[0] == "1"
    summary = json.loads((output / "summary.json").read_text())
    trackers = summary["experiments"]["baseline"]["trackers"]
    # the 20 px square moves 2 px a frame: the static box loses it (no shared pixel at frame 10)
    assert trackers["static"]["per_sequence"]["legacy"]["failures"] == 2.0
    assert trackers["kcf"]["failures"] < trackers["static"]["failures"]
    assert trackers["kcf"]["accuracy"] > trackers["static"]["accuracy"]
    ranks = summary["experiments"]["baseline"]["ranks"]
    # two short sequences: too few samples for a significant difference, ranks shared or split
    assert set(ranks) == {"static", "kcf"}
    assert ranks["kcf"]["overall"] <= ranks["static"]["overall"]
    assert ranks["kcf"]["overall"] + ranks["static"]["overall"] == 3
    assert (output / "summary.md").read_text().startswith("# VOT2014 protocol results")
    assert (output / "ar_plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    finished = {p: p.stat().st_mtime_ns for p in output.rglob("*.txt")}
    assert load_tool().main(args) == 0
    assert {p: p.stat().st_mtime_ns for p in output.rglob("*.txt")} == finished


def test_bad_arguments_give_one_line_errors(tmp_path, capsys):
    tool = load_tool()
    write_vot_dataset(tmp_path / "vot", num_frames=4)
    for args, message in [
            (["--tracker", "nope", "--dataset", str(tmp_path)], "unknown nope"),
            (["--dataset", str(tmp_path / "absent")], "no such folder"),
            (["--dataset", str(tmp_path), "--experiments", "grayscale"], "unknown experiment"),
            (["--dataset", str(tmp_path / "vot"), "--sequences", "car", "--output", str(tmp_path)],
             "unknown sequence")]:
        assert tool.main(args) == 2
        err = capsys.readouterr().err
        assert err.startswith("eval_vot2014.py: ") and message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("data, other, frames", [("bundled", "turning", 60 + 50),
                                                  ("shared", "bag", 252 + 196)])
def test_acceptance_command_on_a_vot_subset(data, other, frames, toolkit_vot, tmp_path):
    from conftest import shared_data_dir

    root = toolkit_vot if data == "bundled" else shared_data_dir() / "vot"
    if not root.is_dir():
        pytest.skip(f"shared data {root} not present (the bundled dataset ran instead)")
    completed = subprocess.run(
        [sys.executable, str(TOOL), "--tracker", "static", "--dataset", str(root),
         "--output", str(tmp_path), "--sequences", f"car,{other}", "--no-efo"],
        capture_output=True, text=True, cwd=REPO_ROOT)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert (tmp_path / "static" / "baseline" / "car" / "car_003.txt").is_file()
    assert not (tmp_path / "static" / "baseline" / "car" / "car_004.txt").exists()
    assert (tmp_path / "static" / "region_noise" / other / f"{other}_015.txt").is_file()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["sequences"] == ["car", other] and summary["frames"] == frames


def test_goturn_is_imported_only_when_chosen():
    code = ("import sys; from goturn_caffe.track.builder import build_tracker; "
            "[build_tracker(n) for n in ('static', 'kcf', 'csrt')]; "
            "import goturn_caffe.vot.evaluate, goturn_caffe.vot.trax_server; "
            "print('goturn_caffe.track.goturn' in sys.modules, 'caffe' in sys.modules)")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert completed.stdout.split() == ["False", "False"]


def test_evaluate_goturn_returns_the_dataset_numbers(tmp_path, monkeypatch):
    """The ablation tool's entry point, with the static tracker standing in for GOTURN."""
    from goturn_caffe.track.reference import StaticTracker
    from goturn_caffe.vot import evaluate as evaluate_module

    options = {}

    def fake_create(name, **kwargs):
        options.update(kwargs, name=name)
        return StaticTracker()

    monkeypatch.setattr(evaluate_module, "build_tracker", fake_create)
    monkeypatch.setenv("GOTURN_CAFFE_CACHE", str(tmp_path / "cache"))
    dataset = write_vot_dataset(tmp_path / "vot", num_frames=30)
    deploy, weights = tmp_path / "deploy.prototxt", tmp_path / "w.caffemodel"
    deploy.write_text("deploy")
    weights.write_bytes(b"weights")
    scores = evaluate_module.evaluate_goturn(deploy, weights, dataset, tmp_path / "out",
                                             sequences=["modern"], gpu=1)
    assert options == {"name": "goturn", "deploy": str(deploy), "weights": str(weights), "gpu": 1}
    # the static box loses the square 10 frames after every (re)initialisation, inside the
    # burn-in: no frame counts for accuracy, which is then 0 (as in the toolkit)
    assert scores["frames"] == 30 and scores["failures"] == 2.0 and scores["accuracy"] == 0.0
    assert (tmp_path / "out" / "goturn" / "baseline" / "modern" / "modern_003.txt").is_file()


def test_without_scipy_scores_are_written_and_ranks_wait_for_a_rerun(tmp_path, monkeypatch, capsys):
    """The packed GPU runtime has no scipy: A/R scores still come out, ranks say why
    they are missing, and a rerun where scipy is ranks the same results."""
    dataset = write_vot_dataset(tmp_path / "vot", num_frames=30)
    output = tmp_path / "out"
    args = ["--tracker", "static,kcf", "--dataset", str(dataset), "--output", str(output),
            "--experiments", "baseline", "--no-efo"]
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "scipy", None)
        patch.setitem(sys.modules, "scipy.stats", None)
        patch.setitem(sys.modules, "matplotlib", None)
        assert load_tool().main(args) == 0
    baseline = json.loads((output / "summary.json").read_text())["experiments"]["baseline"]
    assert set(baseline["trackers"]) == {"static", "kcf"} and baseline["ranks"] == {}
    assert "scipy is not installed" in baseline["ranks_skipped"]
    assert "Ranks: not computed (scipy is not installed" in (output / "summary.md").read_text()
    assert not (output / "ar_plot.png").exists()
    capsys.readouterr()
    assert load_tool().main(args) == 0  # scipy importable again: same results, now ranked
    rescored = json.loads((output / "summary.json").read_text())["experiments"]["baseline"]
    assert set(rescored["ranks"]) == {"static", "kcf"} and "ranks_skipped" not in rescored
    assert rescored["trackers"]["kcf"]["accuracy"] == baseline["trackers"]["kcf"]["accuracy"]


# ---- what produced a results folder (issue 17, item 1) ------------------------------------
SAMPLE_CAR = REPO_ROOT / "data" / "sample" / "vot" / "car"


def one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    assert captured.err.startswith("eval_vot2014.py: ") and len(captured.err.splitlines()) == 1, captured.err
    assert "Traceback" not in captured.err
    return captured.err


def file_bytes(root: Path) -> dict:
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def digest_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GOTURN_CAFFE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "digests.json"


@pytest.fixture
def tiny_goturn(caffe, tmp_path_factory):
    from vot_fixtures import write_tiny_goturn

    folder = tmp_path_factory.mktemp("tiny_goturn")
    deploy, first = write_tiny_goturn(folder, seed=0)
    _, second = write_tiny_goturn(folder, seed=1)
    return deploy, first, second


def test_rerun_with_other_weights_is_refused_and_name_gives_its_own_folder(tiny_goturn, digest_cache,
                                                                           tmp_path, capsys):
    from vot_fixtures import write_car_excerpts

    deploy, first, second = tiny_goturn
    dataset = write_car_excerpts(tmp_path / "vot", SAMPLE_CAR, starts=(1,), frames=4)
    output = tmp_path / "out"
    common = ["--tracker", "goturn", "--deploy", str(deploy), "--dataset", str(dataset),
              "--output", str(output), "--experiments", "baseline", "--no-efo"]
    assert load_tool().main(common + ["--weights", str(first)]) == 0
    recorded = json.loads((output / "goturn" / "identity.json").read_text())
    assert recorded["identity"]["weights_sha256"] == hashlib.sha256(first.read_bytes()).hexdigest()
    assert recorded["identity"]["seed"] == 2014 and recorded["files"]["weights"] == str(first)
    before = file_bytes(output)
    capsys.readouterr()

    assert load_tool().main(common + ["--weights", str(second)]) == 2
    err = one_line_error(capsys)
    assert str(output / "goturn") in err and "--name" in err and "weights_sha256" in err
    assert file_bytes(output) == before        # nothing of the two runs mixed, summary untouched

    assert load_tool().main(common + ["--weights", str(second), "--name", "goturn_b"]) == 0
    trackers = json.loads((output / "summary.json").read_text())["experiments"]["baseline"]["trackers"]
    assert set(trackers) == {"goturn", "goturn_b"}
    # the same identity resumes: nothing is rerun
    results = {p: p.stat().st_mtime_ns for p in output.rglob("*.txt")}
    assert load_tool().main(common + ["--weights", str(first)]) == 0
    assert {p: p.stat().st_mtime_ns for p in output.rglob("*.txt")} == results


def test_rerun_with_another_seed_or_without_a_record_is_refused(tmp_path, capsys):
    dataset = write_vot_dataset(tmp_path / "vot", num_frames=6)
    output = tmp_path / "out"
    args = ["--tracker", "static", "--dataset", str(dataset), "--output", str(output),
            "--experiments", "baseline", "--no-efo"]
    assert load_tool().main(args) == 0
    capsys.readouterr()
    assert load_tool().main(args + ["--seed", "7"]) == 2
    assert "seed 7 (recorded: 2014)" in one_line_error(capsys)
    (output / "static" / "identity.json").unlink()      # results from before identities existed
    assert load_tool().main(args) == 2
    assert "no record of what produced them" in one_line_error(capsys)


def test_weights_digests_are_cached_by_path_size_and_time(tmp_path, monkeypatch):
    from goturn_caffe import fileio

    hashed = []
    real = fileio.file_digest
    monkeypatch.setattr(fileio, "file_digest", lambda path, algorithm="sha256": hashed.append(path)
                        or real(path, algorithm))
    weights, cache = tmp_path / "w.caffemodel", tmp_path / "cache.json"
    weights.write_bytes(b"first weights")
    expected = hashlib.sha256(b"first weights").hexdigest()
    assert fileio.cached_digest(weights, cache_file=cache) == expected
    assert fileio.cached_digest(weights, cache_file=cache) == expected and len(hashed) == 1
    weights.write_bytes(b"other weights")          # same size, new modification time
    os.utime(weights, ns=(0, 10**18))
    assert fileio.cached_digest(weights, cache_file=cache) == hashlib.sha256(b"other weights").hexdigest()
    assert len(hashed) == 2
    cache.write_text("not json")                   # a damaged cache only costs a rehash
    assert fileio.cached_digest(weights, cache_file=cache) == hashlib.sha256(b"other weights").hexdigest()


def test_missing_default_or_truncated_weights_give_one_line(tiny_goturn, digest_cache, tmp_path,
                                                            monkeypatch, capsys):
    from goturn_caffe.track import builder

    deploy, weights, _ = tiny_goturn
    dataset = write_vot_dataset(tmp_path / "vot", num_frames=4)
    output = tmp_path / "out"
    args = ["--tracker", "goturn", "--dataset", str(dataset), "--output", str(output),
            "--experiments", "baseline", "--no-efo"]
    absent_default = tmp_path / "models" / "goturn.caffemodel"
    monkeypatch.setattr(builder, "TRAINED_MODEL", absent_default)
    truncated = tmp_path / "truncated.caffemodel"
    truncated.write_bytes(weights.read_bytes()[:300])
    for extra, message in [(["--weights", str(tmp_path / "absent.caffemodel")],
                            f"{tmp_path / 'absent.caffemodel'}: no such weights file"),
                           ([], f"{absent_default}: no such weights file"),
                           (["--weights", str(truncated), "--deploy", str(deploy)], str(truncated))]:
        assert load_tool().main(args + extra) == 2
        assert message in one_line_error(capsys)
        assert not output.exists() or not any(output.rglob("*")), sorted(output.rglob("*"))
    assert truncated.read_bytes() == weights.read_bytes()[:300]


def test_compare_folder_must_exist_and_hold_results(tmp_path, capsys):
    dataset = write_vot_dataset(tmp_path / "vot", num_frames=4)
    empty = tmp_path / "empty"
    empty.mkdir()
    for folder, message in [(tmp_path / "nonexistent", "no such results folder"),
                            (empty, "holds no VOT results")]:
        assert load_tool().main(["--dataset", str(dataset), "--output", str(tmp_path / "out"),
                                 "--compare", str(folder), "--no-efo"]) == 2
        err = one_line_error(capsys)
        assert str(folder) in err and message in err
        assert not (tmp_path / "out").exists()


def test_planned_work_is_printed_at_start(tmp_path, capsys):
    dataset = write_vot_dataset(tmp_path / "vot", num_frames=8)
    args = ["--tracker", "static", "--dataset", str(dataset), "--output", str(tmp_path / "out"), "--no-efo"]
    assert load_tool().main(args) == 0
    out = capsys.readouterr().out
    # 2 sequences: baseline 3 repetitions each (deterministic), region_noise 15 each
    assert ("planned: 1 tracker(s) x 2 experiment(s) (baseline, region_noise) x 2 sequence(s) "
            "(16 frames) x up to 15 repetitions: 36 repetition(s) to run, 288 frames "
            "(up to 60 if a tracker is not deterministic); 0 repetition(s) already done") in out
    assert load_tool().main(args) == 0
    assert "0 repetition(s) to run, 0 frames; 36 repetition(s) already done" in capsys.readouterr().out


def test_eta_is_announced_from_the_measured_rate(monkeypatch):
    from goturn_caffe.track import workers as runner

    clock = [100.0]
    monkeypatch.setattr(runner.time, "monotonic", lambda: clock[0])
    said = []
    progress = runner.Progress(total=130, show=False, log=said.append)
    clock[0] += 5
    progress.advance(5)
    assert said == []                                   # not measured long enough yet
    clock[0] += 5
    progress.advance(5)                                 # 10 frames in 10 s, 120 left
    assert said == ["ETA: 2 min 00 s for the 120 frames left, at the 1.0 frames/s of the first 10 s"]
    progress.advance(1)
    assert len(said) == 1
    from goturn_caffe.vot.runner import Unit

    unit = Unit("static", "static", "baseline", 0, frames=10, expected=3, at_most=15)
    progress.finished(unit, 5)                          # not deterministic: 2 more repetitions
    assert progress.total == 150
    progress.close()


def test_progress_under_a_pipe_is_plain_lines(monkeypatch):
    import io

    from goturn_caffe.track import workers as runner

    clock = [0.0]
    monkeypatch.setattr(runner.time, "monotonic", lambda: clock[0])
    stream = io.StringIO()                              # not a terminal
    progress = runner.Progress(total=100, stream=stream, log=lambda message: None)
    for _ in range(20):
        clock[0] += 1
        progress.advance(5)
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10 and "\r" not in stream.getvalue()
    assert lines[0] == "tracking: 10/100 frames (10%), 5.0 frames/s, about 18 s left"
    assert lines[-1] == "tracking: 100/100 frames (100%), 5.0 frames/s, about 0 s left"


def test_a_rerun_removes_stale_partial_files(tmp_path):
    from goturn_caffe.fileio import partial_path

    dataset = write_vot_dataset(tmp_path / "vot", num_frames=6)
    output = tmp_path / "out"
    args = ["--tracker", "static", "--dataset", str(dataset), "--output", str(output),
            "--experiments", "baseline", "--no-efo"]
    assert load_tool().main(args) == 0
    before = file_bytes(output)
    stale = [partial_path(output / "static" / "baseline" / "legacy" / "legacy_004.txt"),
             partial_path(output / "summary.json")]
    for path in stale:
        path.write_text("half")
    assert load_tool().main(args) == 0
    assert not any(path.exists() for path in stale)
    assert {k: v for k, v in file_bytes(output).items() if k.suffix == ".txt"} == \
        {k: v for k, v in before.items() if k.suffix == ".txt"}


# ---- --jobs (issue 16) ------------------------------------------------------------------------
def test_jobs_must_be_a_whole_number_of_at_least_one(capsys):
    for value in ("0", "-2", "two"):
        with pytest.raises(SystemExit) as stopped:
            load_tool().main(["--jobs", value])
        assert stopped.value.code == 2
        assert f"--jobs: expected a whole number of at least 1, got '{value}'" in capsys.readouterr().err


def results_files(root: Path) -> dict:
    """Every results file but the per-frame times (seconds differ run to run)."""
    return {k: v for k, v in file_bytes(root).items()
            if k.suffix == ".txt" or k.name == "identity.json"}


def test_jobs_2_writes_the_files_jobs_1_writes(tiny_goturn, digest_cache, tmp_path, capsys):
    from vot_fixtures import write_car_excerpts

    deploy, weights, _ = tiny_goturn
    dataset = write_car_excerpts(tmp_path / "vot", SAMPLE_CAR, starts=(1, 30), frames=5)
    outputs = {}
    for jobs in (1, 2):
        outputs[jobs] = tmp_path / f"jobs{jobs}"
        assert load_tool().main(["--tracker", "static,goturn", "--deploy", str(deploy),
                                 "--weights", str(weights), "--dataset", str(dataset),
                                 "--output", str(outputs[jobs]), "--no-efo", "--jobs", str(jobs)]) == 0
    assert "2 worker processes" in capsys.readouterr().out
    one, two = results_files(outputs[1]), results_files(outputs[2])
    assert len(one) == 2 + 2 * (2 * 3 + 2 * 15) and one == two
    goturn = [v for k, v in one.items() if k.parts[0] == "goturn" and k.parts[1] == "region_noise"]
    assert len(set(goturn)) == len(goturn)          # the noisy repetitions really differ
    scores = [json.loads((outputs[j] / "summary.json").read_text())["experiments"] for j in (1, 2)]
    for experiment in ("baseline", "region_noise"):
        for name in ("static", "goturn"):
            first, second = (s[experiment]["trackers"][name] for s in scores)
            assert (first["accuracy"], first["failures"]) == (second["accuracy"], second["failures"])


def test_a_killed_workers_sequence_is_redone_on_rerun(tmp_path):
    from functools import partial

    from vot_fixtures import dying_tracker

    from goturn_caffe.cli import describe
    from goturn_caffe.fileio import is_partial
    from goturn_caffe.vot.evaluate import evaluate

    dataset = write_vot_dataset(tmp_path / "vot", num_frames=6)
    run = partial(evaluate, [("static", "static")], dataset, experiments=["region_noise"],
                  show_progress=False, log=lambda message: None)
    run(output=tmp_path / "reference")
    expected = results_files(tmp_path / "reference")
    assert len(expected) == 1 + 2 * 15

    output = tmp_path / "out"
    with pytest.raises(ChildProcessError) as died:   # SIGKILL in a repetition's 13th update
        run(output=output, jobs=2, tracker_factory=partial(dying_tracker, str(tmp_path / "marker"), 13))
    assert (tmp_path / "marker").is_file()
    message = describe(died.value)
    assert len(message.splitlines()) == 1 and "rerun" in message and str(output) in message
    kept = {p: p.stat().st_mtime_ns for p in output.rglob("*.txt")}
    assert len(kept) < 2 * 15                        # a sequence was left incomplete
    run(output=output, jobs=2)
    assert results_files(output) == expected
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items())   # finished ones were kept
    assert not [p for p in output.rglob("*") if is_partial(p)]
