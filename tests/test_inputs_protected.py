"""No tool writes an output onto a file its run reads (issue 21): the one shared check,
fileio.check_not_inputs, through links, `..` and hard links, and every tool that writes a
file calling it with every input, the defaults resolved first.

Each refusal asserts the one line, exit status 2 and the input byte-identical afterwards; the
checks run before anything is loaded, so no model or Caffe is needed."""

import hashlib
import os
import shutil

import pytest
from conftest import REPO_ROOT, load_tool

from goturn_caffe.fileio import check_not_inputs, same_file

SAMPLE_CAR = REPO_ROOT / "data" / "sample" / "vot" / "car"


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def car(tmp_path):
    """The first 3 frames of the bundled car sequence and their ground truth."""
    folder = tmp_path / "car"
    folder.mkdir()
    for i in range(1, 4):
        shutil.copy(SAMPLE_CAR / f"{i:08d}.jpg", folder)
    lines = (SAMPLE_CAR / "groundtruth.txt").read_text().splitlines()[:3]
    (folder / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    return folder


def run_tool(name, args, capsys):
    """``tools/<name>.py`` in process: (status, stderr)."""
    status = load_tool(name).main([str(a) for a in args])
    return status, capsys.readouterr().err


def assert_refused(result, tool, *named):
    status, err = result
    assert status == 2, err
    assert len(err.splitlines()) == 1 and err.startswith(f"{tool}: ") and "Traceback" not in err, err
    for text in named:
        assert text in err, err


# ---- the shared check ----------------------------------------------------------------------
def test_every_name_of_an_input_file_is_refused_and_other_files_are_not(tmp_path):
    model = tmp_path / "model.caffemodel"
    model.write_bytes(b"455 MB of weights")
    (tmp_path / "symlink.txt").symlink_to(model)
    os.link(model, tmp_path / "hardlink.txt")
    names = [model, tmp_path / "symlink.txt", tmp_path / "hardlink.txt",
             tmp_path / "not_yet" / ".." / "model.caffemodel",   # `out/../`: `out` made on writing
             tmp_path / "." / "model.caffemodel"]
    for name in names:
        with pytest.raises(ValueError, match=r"--csv would overwrite an input of the run .*model\."
                                             r"caffemodel.*choose another file"):
            check_not_inputs({"--csv": name}, [None, model])
    check_not_inputs({"--csv": tmp_path / "boxes.csv", "--output": None}, [None, model])
    check_not_inputs({"--output": [tmp_path / "a.txt", tmp_path / "b.txt"]}, [model])
    with pytest.raises(ValueError, match="--output and --save-video are the same file"):
        check_not_inputs({"--output": [tmp_path / "a.avi"], "--save-video": tmp_path / "x" / ".." /
                          "a.avi"}, [])
    assert model.read_bytes() == b"455 MB of weights"


def test_a_hard_link_is_the_same_file(tmp_path):
    """Only the inode says so: the paths resolve to two different names (the planted bug of
    issue 21 drops this comparison)."""
    original = tmp_path / "frame.jpg"
    original.write_bytes(b"jpeg")
    os.link(original, tmp_path / "other_name.jpg")
    assert (tmp_path / "other_name.jpg").resolve() != original.resolve()
    assert same_file(tmp_path / "other_name.jpg", original)
    assert not same_file(tmp_path / "absent.jpg", original)
    (tmp_path / "copy.jpg").write_bytes(b"jpeg")
    assert not same_file(tmp_path / "copy.jpg", original)


def test_an_input_folder_protects_the_files_in_it(tmp_path):
    """A dataset root is an input: an existing file in it (by any name) may not be replaced;
    a new file beside its files may be written."""
    root = tmp_path / "alov"
    (root / "video").mkdir(parents=True)
    frame = root / "video" / "00000001.jpg"
    frame.write_bytes(b"jpeg")
    os.link(frame, tmp_path / "linked.jpg")
    for output in (frame, tmp_path / "linked.jpg", root / "video" / ".." / "video" / "00000001.jpg"):
        with pytest.raises(ValueError, match="would overwrite an input of the run"):
            check_not_inputs({"--json": output}, [root])
    check_not_inputs({"--json": root / "new.json"}, [root])
    (tmp_path / "unrelated.json").write_bytes(b"{}")
    check_not_inputs({"--json": tmp_path / "unrelated.json"}, [root])


# ---- track.py: the defaults resolved before the check --------------------------------------
@pytest.fixture
def default_model(tmp_path, monkeypatch):
    """A checkout whose models/goturn.caffemodel and deploy prototxt are in tmp_path (so a
    failing check cannot destroy the real ones): (weights, deploy)."""
    from goturn_caffe.model.net import DEMO_MODEL, MODELS_DIR, OPENCV_MODEL, TRAINED_MODEL
    from goturn_caffe.track import api, app

    models = tmp_path / "models"
    monkeypatch.setattr(api, "MODELS_DIR", models)
    for name, path in [("TRAINED_MODEL", TRAINED_MODEL), ("DEMO_MODEL", DEMO_MODEL),
                       ("OPENCV_MODEL", OPENCV_MODEL)]:
        monkeypatch.setattr(api, name, models / path.relative_to(MODELS_DIR))
    weights = models / TRAINED_MODEL.relative_to(MODELS_DIR)
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"the authors' 455 MB model")
    deploy = tmp_path / "prototxt" / "goturn_deploy.prototxt"
    deploy.parent.mkdir()
    deploy.write_text("name: 'GOTURN'\n")
    monkeypatch.setattr(app, "default_deploy", lambda model_format="goturn": deploy)
    return weights, deploy


@pytest.mark.parametrize("option", ["--csv", "--output"])
@pytest.mark.parametrize("which", ["weights", "deploy"])
def test_track_py_multi_target_outputs_onto_the_default_model_files_are_refused(
        option, which, default_model, car, tmp_path, capsys):
    target = default_model[0 if which == "weights" else 1]
    before = digest(target)
    args = [car, "--box", "10,10,20,20", "--box", "30,30,20,20", "--csv", tmp_path / "boxes.csv"]
    if option == "--csv":
        args[-1] = target
    else:   # one target: --output is the boxes file
        args = [car, "--box", "10,10,20,20", "--csv", tmp_path / "boxes.csv", "--output", target]
    assert_refused(run_tool("track", args, capsys), "track.py", f"{option} would overwrite",
                   target.name)
    assert digest(target) == before and not (tmp_path / "boxes.csv").exists()


def test_track_py_single_target_output_onto_the_default_deploy_is_refused(default_model, car,
                                                                          capsys):
    weights, deploy = default_model
    before = digest(deploy)
    assert_refused(run_tool("track", [car, "--output", deploy], capsys), "track.py",
                   "--output would overwrite", deploy.name)
    assert digest(deploy) == before


def test_track_py_csv_onto_its_boxes_file_or_a_hard_link_to_a_frame_is_refused(car, tmp_path,
                                                                            capsys):
    weights = tmp_path / "w.caffemodel"
    weights.write_bytes(b"w")
    boxes = tmp_path / "boxes.txt"
    boxes.write_text("10,10,20,20\n30,30,20,20\n")
    assert_refused(run_tool("track", [car, "--boxes", boxes, "--csv", boxes, "--weights", weights],
                            capsys), "track.py", "--csv would overwrite", "boxes.txt")
    assert boxes.read_text() == "10,10,20,20\n30,30,20,20\n"
    os.link(car / "00000002.jpg", tmp_path / "linked.csv")
    before = digest(car / "00000002.jpg")
    assert_refused(run_tool("track", [car, "--box", "10,10,20,20", "--csv", tmp_path / "linked.csv",
                                      "--weights", weights], capsys),
                   "track.py", "--csv would overwrite", "00000002.jpg")
    assert_refused(run_tool("track", [car, "--output", tmp_path / "linked.csv", "--weights", weights],
                            capsys), "track.py", "--output would overwrite", "00000002.jpg")
    assert digest(car / "00000002.jpg") == before


# ---- export_onnx.py, benchmark.py, make_init_weights.py ------------------------------------
@pytest.fixture
def model_files(tmp_path):
    weights, deploy = tmp_path / "w.caffemodel", tmp_path / "d.prototxt"
    weights.write_bytes(b"weights")
    deploy.write_text("name: 'GOTURN'\n")
    return weights, deploy


@pytest.mark.parametrize("onto", ["weights", "deploy", "dotdot", "hardlink"])
def test_export_onnx_output_onto_its_model_files_is_refused(onto, model_files, tmp_path, capsys):
    weights, deploy = model_files
    os.link(weights, tmp_path / "linked.onnx")
    output = {"weights": weights, "deploy": deploy, "dotdot": tmp_path / "out" / ".." / "w.caffemodel",
              "hardlink": tmp_path / "linked.onnx"}[onto]
    before = {path: digest(path) for path in model_files}
    assert_refused(run_tool("export_onnx", ["--weights", weights, "--deploy", deploy,
                                            "--output", output], capsys),
                   "export_onnx.py", "--output would overwrite")
    assert {path: digest(path) for path in model_files} == before
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("onto", ["00000002.jpg", "groundtruth.txt", "weights"])
def test_benchmark_json_onto_what_it_measures_is_refused(onto, car, model_files, tmp_path, capsys):
    weights = model_files[0]
    target = weights if onto == "weights" else car / onto
    before = digest(target)
    # refused before the (minutes-long) timing starts: no Caffe is needed to see it
    assert_refused(run_tool("benchmark", ["tracker", "--sequence", car, "--weights", weights,
                                          "--json", target], capsys),
                   "benchmark.py", "--json would overwrite", target.name)
    assert digest(target) == before


def test_benchmark_stages_name_what_they_read(car, model_files):
    from argparse import Namespace

    from goturn_caffe.benchmarks import compare, data, net, preprocess, tracker, train
    from goturn_caffe.benchmarks.common import stage_inputs
    from goturn_caffe.model.net import DEPLOY_PROTOTXT

    weights = model_files[0]
    read = stage_inputs(tracker, Namespace(sequence=str(car), weights=str(weights)))
    assert {str(p) for p in read} >= {str(car / "00000001.jpg"), str(car / "groundtruth.txt"),
                                      str(weights), str(DEPLOY_PROTOTXT)}
    assert stage_inputs(net, Namespace()) == [DEPLOY_PROTOTXT]
    assert stage_inputs(compare, Namespace(steps=0, sequence=str(car))) == [DEPLOY_PROTOTXT]
    roots = Namespace(alov="A", det="D", otb=None, no_alov=False, no_det=True)
    assert stage_inputs(data, roots) == stage_inputs(train, roots) == ["A"]
    assert stage_inputs(preprocess, roots) == []


@pytest.mark.parametrize("onto", ["caffenet", "hardlink", "cached"])
def test_make_init_weights_output_onto_caffenet_is_refused(onto, tmp_path, capsys):
    caffenet = tmp_path / "bvlc_reference_caffenet.caffemodel"
    caffenet.write_bytes(b"233 MB of CaffeNet")
    os.link(caffenet, tmp_path / "init.caffemodel")
    args = {"caffenet": ["--caffenet", caffenet, "--output", caffenet],
            "hardlink": ["--caffenet", caffenet, "--output", tmp_path / "init.caffemodel"],
            # no --caffenet: the one the download puts in --cache is read
            "cached": ["--cache", tmp_path, "--output", caffenet]}[onto]
    assert_refused(run_tool("make_init_weights", args, capsys), "make_init_weights.py",
                   "--output would overwrite", caffenet.name)
    assert caffenet.read_bytes() == b"233 MB of CaffeNet"
