"""What a results folder records about the run that made it (issue 21): the dataset,
and every option that changes the boxes."""

import json
from pathlib import Path

import pytest
from vot_fixtures import polygon_line, square_frames, write_vot_dataset, write_vot_sequence

from goturn_caffe.track.reference import StaticTracker
from goturn_caffe.vot.evaluate import evaluate
from goturn_caffe.vot.identity import read_identity, results_identity


def static_factory(name):
    return StaticTracker()


def quiet(message):
    pass


@pytest.fixture
def model_files(tmp_path, monkeypatch):
    monkeypatch.setenv("GOTURN_CAFFE_CACHE", str(tmp_path / "cache"))
    files = {}
    for name, text in [("deploy", "deploy one"), ("other_deploy", "deploy two"),
                       ("weights", "weights one"), ("other_weights", "weights two")]:
        files[name] = tmp_path / f"{name}.bin"
        files[name].write_text(text)
    return files


BASE = {"model_format": "goturn", "engine": "default", "backend": "caffe", "finetune": False}


@pytest.mark.parametrize("key, value", [("backend", "onnxruntime"), ("engine", "caffe"),
                                        ("finetune", True), ("model_format", "opencv"),
                                        ("deploy", "other_deploy"), ("weights", "other_weights")])
def test_every_goturn_option_that_changes_the_boxes_changes_the_identity(key, value, model_files):
    options = dict(BASE, deploy=str(model_files["deploy"]), weights=str(model_files["weights"]))
    changed = dict(options, **{key: str(model_files[value]) if key in ("deploy", "weights")
                               else value})
    assert results_identity("goturn", 2014, options)[0] != results_identity("goturn", 2014, changed)[0]
    assert results_identity("goturn", 2014, options)[0] == results_identity("goturn", 2014, dict(options))[0]


def test_a_rerun_with_another_backend_is_refused(model_files, tmp_path):
    """The planted bug that dropped ``backend`` from the identity resumed an ONNX run
    into a Caffe run's folder; here the second run must stop before running anything."""
    dataset = write_vot_dataset(tmp_path / "vot", num_frames=6)
    output = tmp_path / "out"

    def run(backend):
        return evaluate([("goturn", "goturn")], dataset, output, ["baseline"],
                        tracker_options=dict(BASE, deploy=str(model_files["deploy"]),
                                             weights=str(model_files["weights"]), backend=backend),
                        show_progress=False, log=quiet, tracker_factory=static_factory)

    run("caffe")
    assert read_identity(output / "goturn")["backend"] == "caffe"
    with pytest.raises(ValueError, match=r"holds results of another run \(backend onnxruntime "
                                         r"\(recorded: caffe\)\)"):
        run("onnxruntime")


def another_dataset(root, shift: int = 3):
    """The same sequence names as write_vot_dataset, the square a few pixels lower."""
    images, regions = square_frames(6)
    lines = [polygon_line((x, y + shift, w, h)) for x, y, w, h in regions]
    write_vot_sequence(root, "legacy", images, lines, "vot2014")
    write_vot_sequence(root, "modern", images, lines, "vot2016")
    (root / "list.txt").write_text("legacy\nmodern\n")
    return root


def test_another_dataset_with_the_same_names_is_refused(tmp_path):
    """Before: the second dataset reused the first one's results (0 repetitions run)
    and its scores were the first dataset's."""
    first = write_vot_dataset(tmp_path / "first", num_frames=6)
    second = another_dataset(tmp_path / "second")
    output = tmp_path / "out"
    run = dict(experiments=["baseline"], show_progress=False, log=quiet)
    evaluate([("static", "static")], first, output, **run)
    recorded = read_identity(output / "static")
    assert sorted(recorded["sequences"]) == ["legacy", "modern"]
    assert all(len(digest) == 64 for digest in recorded["sequences"].values())
    with pytest.raises(ValueError, match="holds results of another dataset: the ground truth of "
                                         "legacy, modern differs"):
        evaluate([("static", "static")], second, output, **run)
    assert read_identity(output / "static") == recorded
    evaluate([("static_second", "static")], second, output, **run)    # its own folder: fine


def test_new_sequences_may_join_a_folder(tmp_path, capsys):
    dataset = write_vot_dataset(tmp_path / "vot", num_frames=6)
    images, regions = square_frames(6, step=1)
    write_vot_sequence(dataset, "slow", images, [polygon_line(r) for r in regions])
    (dataset / "list.txt").write_text("legacy\nmodern\nslow\n")
    output = tmp_path / "out"
    run = dict(experiments=["baseline"], show_progress=False, log=quiet)
    evaluate([("static", "static")], dataset, output, sequences=["legacy"], **run)
    assert sorted(read_identity(output / "static")["sequences"]) == ["legacy"]
    summary = evaluate([("static", "static")], dataset, output, **run)
    assert sorted(read_identity(output / "static")["sequences"]) == ["legacy", "modern", "slow"]
    assert summary["sequences"] == ["legacy", "modern", "slow"]
    assert len(list((output / "static" / "baseline").glob("*/*_00[1-3].txt"))) == 3 * 3


def test_a_folder_recorded_before_datasets_were_is_refused(tmp_path):
    dataset = write_vot_dataset(tmp_path / "vot", num_frames=6)
    output = tmp_path / "out"
    run = dict(experiments=["baseline"], show_progress=False, log=quiet)
    evaluate([("static", "static")], dataset, output, **run)
    record = output / "static" / "identity.json"
    old = json.loads(record.read_text())
    del old["identity"]["sequences"]
    record.write_text(json.dumps(old))
    with pytest.raises(ValueError, match="no record of the dataset they were scored on"):
        evaluate([("static", "static")], dataset, output, **run)


@pytest.mark.parametrize("written", ["summary.json", "ar_plot.png", "goturn/identity.json"])
def test_an_output_that_is_an_input_is_refused(written, model_files, tmp_path):
    """A summary or an identity record written over the weights (here a hard link to
    them) would destroy the model; nothing runs and nothing is written."""
    import os

    dataset = write_vot_dataset(tmp_path / "vot", num_frames=6)
    output = tmp_path / "out"
    target = output / written
    target.parent.mkdir(parents=True)
    os.link(model_files["weights"], target)
    with pytest.raises(ValueError, match=f"{target}: --output would overwrite an input of the run"):
        evaluate([("goturn", "goturn")], dataset, output, ["baseline"],
                 tracker_options=dict(BASE, deploy=str(model_files["deploy"]),
                                      weights=str(model_files["weights"])),
                 show_progress=False, log=quiet, tracker_factory=static_factory)
    assert model_files["weights"].read_text() == "weights one"
    assert sorted(p.relative_to(output) for p in output.rglob("*") if p.is_file()) == [Path(written)]
