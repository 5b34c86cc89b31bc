"""One Tracker interface, one factory (issue 14): every tracker class implements
the interface, and `--model-format opencv` without `--deploy` loads OpenCV's
network in every entry point (tools/track.py, tools/eval_vot2014.py, the TraX
server)."""

import shutil

import cv2
import numpy as np
import pytest
from conftest import REPO_ROOT, load_tool
from vot_fixtures import write_vot_dataset

from goturn_caffe.geometry.boxes import Box
from goturn_caffe.model.net import DEPLOY_PROTOTXT, OPENCV_DEPLOY, OPENCV_MODEL, TRAINED_MODEL
from goturn_caffe.track import builder
from goturn_caffe.track.base import TIMING_KEYS, BatchTracker, Tracker
from goturn_caffe.track.reference import OpenCVTracker, StaticTracker

SAMPLE_CAR = REPO_ROOT / "data" / "sample" / "vot" / "car"
CAR_BOX = Box.from_xywh(6, 166, 43, 27)  # the car's first ground-truth box, in whole pixels


def car_frames(count: int) -> list:
    return [cv2.imread(str(SAMPLE_CAR / f"{i:08d}.jpg")) for i in range(1, count + 1)]


# ---- the interface ------------------------------------------------------------------

def test_every_tracker_class_implements_one_of_the_two_interfaces():
    from goturn_caffe.track.finetune import OnlineFinetuningTracker
    from goturn_caffe.track.goturn import BatchedTracker, GoturnTracker
    from goturn_caffe.track.opencv import OpenCVGoturnTracker

    for cls in (StaticTracker, OpenCVTracker, GoturnTracker, OnlineFinetuningTracker,
                OpenCVGoturnTracker):
        assert issubclass(cls, Tracker) and not issubclass(cls, BatchTracker), cls
        assert not getattr(cls, "__abstractmethods__", None), cls
    assert issubclass(BatchedTracker, BatchTracker) and not issubclass(BatchedTracker, Tracker)
    assert not BatchedTracker.__abstractmethods__
    assert StaticTracker.uses_images is False and GoturnTracker.uses_images is True

    class NoUpdate(Tracker):
        def init(self, frame, box):
            pass

    with pytest.raises(TypeError, match="update"):
        NoUpdate()


@pytest.fixture(scope="module")
def deploy_net(caffe):
    from goturn_caffe.model.net import load_net

    net = load_net(DEPLOY_PROTOTXT)  # random (filler) weights
    net.params["fc8-shapes"][1].data[...] = [2.5, 2.5, 7.5, 7.5]  # the crop's centre box
    return net


def make_tracker(kind: str, deploy_net, opencv_net) -> Tracker:
    from goturn_caffe.track.finetune import OnlineFinetuningTracker
    from goturn_caffe.track.goturn import GoturnTracker
    from goturn_caffe.track.opencv import OpenCVGoturnTracker

    if kind in ("static", "kcf", "csrt"):
        return builder.build_tracker(kind)
    if kind == "goturn":
        return GoturnTracker(deploy_net)
    if kind == "finetune":
        return OnlineFinetuningTracker(GoturnTracker(deploy_net), augmented_per_pair=1)
    return OpenCVGoturnTracker(opencv_net)


@pytest.mark.parametrize("kind, timed", [("static", False), ("kcf", False), ("csrt", False),
                                         ("goturn", True), ("finetune", True), ("opencv", True)])
def test_each_tracker_follows_the_interface(kind, timed, deploy_net, opencv_model):
    tracker = make_tracker(kind, deploy_net, opencv_model[0])
    assert isinstance(tracker, Tracker)
    frames = car_frames(3)
    tracker.init(frames[0] if tracker.uses_images else None, CAR_BOX)
    assert tracker.last_timing == ({} if timed else None)
    for frame in frames[1:]:
        box = tracker.update(frame if tracker.uses_images else None)
        assert isinstance(box, Box) and box.is_valid()
        if timed:
            assert set(tracker.last_timing) == set(TIMING_KEYS)
            assert all(seconds >= 0 for seconds in tracker.last_timing.values())
            assert tracker.last_timing["network"] > 0
        else:
            assert tracker.last_timing is None
    if kind == "static":
        assert box == CAR_BOX


def test_batch_tracker_from_the_builder(caffe):
    tracker = builder.build_batch_tracker(random_weights=True)
    assert isinstance(tracker, BatchTracker) and not isinstance(tracker, Tracker)
    frames = car_frames(2)
    boxes = [CAR_BOX, Box.from_xywh(200, 100, 80, 60)]
    weights, bias = tracker.net.params["fc8-shapes"]
    weights.data[...], bias.data[...] = 0, [2.5, 2.5, 7.5, 7.5]  # answer: the crop's centre box
    tracker.init_batch([frames[0]] * 2, boxes)
    assert tracker.size == 2
    estimates = tracker.update_batch([frames[1]] * 2)
    assert len(estimates) == 2
    for estimate, box in zip(estimates, boxes):
        assert estimate.as_array() == pytest.approx(box.as_array(), abs=1e-3)
    assert set(tracker.last_timing) == set(TIMING_KEYS)
    with pytest.raises(ValueError, match="random_weights"):
        builder.build_batch_tracker(weights=TRAINED_MODEL, random_weights=True)


# ---- the factory's defaults and refusals ---------------------------------------------

def test_the_factory_owns_the_defaults_of_each_model_format():
    assert builder.default_deploy() == builder.default_deploy("goturn") == DEPLOY_PROTOTXT
    assert builder.default_deploy("opencv") == OPENCV_DEPLOY
    assert OPENCV_DEPLOY.is_file() and 'name: "GOTURN"' in OPENCV_DEPLOY.read_text()
    assert builder.default_weights("goturn") == TRAINED_MODEL
    assert builder.default_weights("opencv") == OPENCV_MODEL
    assert builder.TRACKER_NAMES == ("static", "kcf", "csrt", "goturn")
    assert isinstance(builder.build_tracker("static"), StaticTracker)
    assert isinstance(builder.build_tracker("kcf"), OpenCVTracker)


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "meanshift"}, "unknown tracker 'meanshift'"),
    ({"model_format": "onnx"}, "unknown model format 'onnx'"),
    ({"model_format": "opencv", "finetune": True}, "needs the authors' model layout"),
])
def test_the_factory_refuses_what_it_cannot_build(kwargs, message):
    with pytest.raises(ValueError, match=message):
        builder.build_tracker(**kwargs)


# ---- --model-format opencv without --deploy, in every entry point ---------------------

def assert_opencv_network(tracker, opencv_net) -> None:
    """``tracker`` runs OpenCV's architecture with the weights of the fixture's file."""
    from goturn_caffe.track.opencv import OpenCVGoturnTracker

    assert isinstance(tracker, OpenCVGoturnTracker)
    assert list(tracker.net._layer_names) == list(opencv_net._layer_names)
    assert {"data1", "data2", "out"} <= set(tracker.net.blobs)
    for name, blobs in opencv_net.params.items():
        for loaded, saved in zip(tracker.net.params[name], blobs):
            np.testing.assert_array_equal(loaded.data, saved.data)


def call_through(monkeypatch, owner, name: str, seen: list):
    """Replace ``owner.name`` with a wrapper that records its first argument and calls it."""
    original = getattr(owner, name)

    def wrapper(tracker, *args, **kwargs):
        seen.append(tracker)
        return original(tracker, *args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)


def test_track_py_model_format_opencv_loads_opencvs_network(opencv_model, tmp_path, monkeypatch, capsys):
    net, folder = opencv_model
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(1, 4):
        shutil.copy(SAMPLE_CAR / f"{i:08d}.jpg", frames)
    tool = load_tool("track")
    seen = []
    call_through(monkeypatch, tool, "track_input", seen)
    out = tmp_path / "boxes.txt"
    assert tool.main([str(frames), "--box", "6,166,43,27", "--model-format", "opencv",
                      "--weights", str(folder / "goturn.caffemodel"), "--output", str(out)]) == 0
    (tracker,) = seen
    assert_opencv_network(tracker, net)
    # the boxes written are OpenCV's loop on OpenCV's net with those weights
    from goturn_caffe.track.opencv import OpenCVGoturnTracker

    reference = OpenCVGoturnTracker(net)
    reference.init(car_frames(1)[0], CAR_BOX)
    expected = [CAR_BOX] + [reference.update(frame) for frame in car_frames(3)[1:]]
    written = [tuple(float(v) for v in line.split(",")) for line in out.read_text().splitlines()]
    assert written == [box.to_xywh() for box in expected]


def test_eval_vot2014_model_format_opencv_loads_opencvs_network(opencv_model, tmp_path, monkeypatch,
                                                                 capsys):
    from goturn_caffe.vot import evaluate

    net, folder = opencv_model
    dataset = write_vot_dataset(tmp_path / "vot", num_frames=6)
    seen = []
    call_through(monkeypatch, evaluate, "run_vot_experiment", seen)
    output = tmp_path / "out"
    assert load_tool("eval_vot2014").main(
        ["--tracker", "goturn", "--model-format", "opencv", "--weights", str(folder / "goturn.caffemodel"),
         "--dataset", str(dataset), "--sequences", "modern", "--experiments", "baseline",
         "--output", str(output), "--no-efo"]) == 0
    (tracker,) = seen
    assert_opencv_network(tracker, net)
    assert (output / "goturn" / "baseline" / "modern" / "modern_001.txt").is_file()


def test_trax_server_model_format_opencv_loads_opencvs_network(opencv_model, monkeypatch):
    from goturn_caffe.vot import trax_server

    net, folder = opencv_model
    served = []
    monkeypatch.setattr(trax_server, "serve", lambda tracker, name: served.append((tracker, name)))
    assert trax_server.main(["--tracker", "goturn", "--model-format", "opencv",
                             "--weights", str(folder / "goturn.caffemodel")]) == 0
    ((tracker, name),) = served
    assert name == "goturn_caffe-goturn"
    assert_opencv_network(tracker, net)


def test_the_authors_layout_still_refuses_opencvs_weights(opencv_model, monkeypatch):
    """The check the entry points above pass only with OpenCV's prototxt: with the
    authors' deploy (what --model-format opencv used to load) the same weights fail."""
    from goturn_caffe.model.net import ModelError
    from goturn_caffe.vot import trax_server

    _, folder = opencv_model
    monkeypatch.setattr(trax_server, "serve", lambda tracker, name: None)
    with pytest.raises(ModelError, match="use --model-format opencv"):
        trax_server.main(["--tracker", "goturn", "--model-format", "opencv", "--deploy", str(DEPLOY_PROTOTXT),
                          "--weights", str(folder / "goturn.caffemodel")])

