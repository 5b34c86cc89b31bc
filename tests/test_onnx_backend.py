"""--backend onnxruntime (issue 16): the same tracking code on an ONNX export of the
weights gives Caffe's boxes; the export is cached beside the weights, reused while they
stay the same (with no Caffe needed) and remade when they change.

The net is the authors' deploy net with 32-wide hidden fc layers (every layer type and
name of GOTURN, 30 MB of weights instead of 450), with random He-scaled weights and fc8
set to the crop's centre box plus a content-dependent term of a few pixels, so that
boxes move from frame to frame and a backend difference would carry over."""

import importlib.util
import shutil

import cv2
import numpy as np
import pytest
from conftest import REPO_ROOT

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from goturn_caffe.caffe_env import CaffeUnavailable  # noqa: E402
from goturn_caffe.fileio import file_digest  # noqa: E402
from goturn_caffe.geometry.boxes import Box  # noqa: E402
from goturn_caffe.model import onnx_backend, onnx_export  # noqa: E402

SAMPLE_CAR = REPO_ROOT / "data" / "sample" / "vot" / "car"
FRAMES = 5
CAR_BOX = Box.from_xywh(6, 166, 43, 27)            # groundtruth.txt, frame 1
CROP_CENTRE_BOX = np.array([2.5, 2.5, 7.5, 7.5])   # the previous box, in the crop's [0, 10] units
HIDDEN = 32


def car_frames(count=FRAMES):
    return [cv2.imread(str(SAMPLE_CAR / f"{i:08d}.jpg")) for i in range(1, count + 1)]


def small_deploy(path):
    from google.protobuf import text_format

    from goturn_caffe.model.net import DEPLOY_PROTOTXT, read_net_prototxt

    param = read_net_prototxt(DEPLOY_PROTOTXT)
    for layer in param.layer:
        if layer.type == "InnerProduct" and layer.name != "fc8-shapes":
            layer.inner_product_param.num_output = HIDDEN
    path.write_text(text_format.MessageToString(param))
    return path


def crop_pair(frames, box):
    from goturn_caffe.geometry.cropping import crop_and_resize
    from goturn_caffe.geometry.preprocess import preprocess_batch

    target, image = preprocess_batch(np.stack([crop_and_resize(f, box)[0] for f in frames[:2]]))
    return {"target": target[None], "image": image[None]}


def randomize(net, seed, spread=0.4):
    """He-scaled random weights, zero biases; fc8: the centre box plus ~``spread``
    (crop units, std) that depends on what the crops show."""
    rng = np.random.default_rng(seed)
    for blobs in net.params.values():
        weights = blobs[0].data
        weights[...] = rng.standard_normal(weights.shape) * np.sqrt(2 / np.prod(weights.shape[1:]))
        blobs[1].data[...] = 0
    fc8_weights, fc8_bias = net.params["fc8-shapes"]
    net.forward(**crop_pair(car_frames(2), CAR_BOX))
    hidden = net.blobs[net.bottom_names["fc8-shapes"][0]].data
    fc8_weights.data[...] *= spread / (np.sqrt(2) * np.sqrt(np.mean(hidden ** 2)) + 1e-12)
    fc8_bias.data[...] = CROP_CENTRE_BOX


def write_weights(deploy, path, seed):
    from goturn_caffe.model.net import load_net

    net = load_net(deploy)
    randomize(net, seed)
    net.save(str(path))
    return net


@pytest.fixture(scope="module")
def model(caffe, tmp_path_factory):
    """(deploy prototxt, weights) of the small net with random weights."""
    folder = tmp_path_factory.mktemp("small_goturn")
    deploy = small_deploy(folder / "deploy.prototxt")
    write_weights(deploy, folder / "small.caffemodel", seed=3)
    return deploy, folder / "small.caffemodel"


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("GOTURN_CAFFE_CACHE", str(tmp_path / "cache"))   # digests.json


def as_arrays(boxes):
    return np.array([b.as_array() for b in boxes])


def test_onnxruntime_tracks_like_caffe(model):
    from goturn_caffe.track.builder import build_batch_tracker, build_tracker
    from goturn_caffe.track.goturn import track_sequence

    deploy, weights = model
    frames = car_frames()
    single = {backend: as_arrays(track_sequence(build_tracker("goturn", deploy, weights,
                                                              backend=backend), frames,
                                                CAR_BOX).boxes)
              for backend in ("caffe", "onnxruntime")}
    assert np.abs(single["onnxruntime"] - single["caffe"]).max() < 1e-3
    assert np.abs(single["caffe"] - CAR_BOX.as_array()).max() > 2     # the boxes do move

    # several targets, one batched forward per frame (the batch axis of the export)
    boxes = [CAR_BOX, Box.from_xywh(200, 100, 80, 60), Box.from_xywh(400, 50, 30, 90)]
    batched = {}
    for backend in ("caffe", "onnxruntime"):
        tracker = build_batch_tracker(deploy, weights, backend=backend)
        tracker.init_batch([frames[0]] * 3, boxes)
        batched[backend] = np.stack([as_arrays(tracker.update_batch([frame] * 3))
                                     for frame in frames[1:]])
    assert np.abs(batched["onnxruntime"] - batched["caffe"]).max() < 1e-3
    assert np.abs(batched["caffe"][:, 0] - single["caffe"][1:]).max() < 1e-3


def test_the_export_is_cached_beside_the_weights(model, tmp_path, monkeypatch):
    deploy = model[0]
    weights = tmp_path / "model.caffemodel"
    shutil.copy(model[1], weights)
    cache = tmp_path / "model.caffemodel.onnx"
    exports = []
    real_export = onnx_backend.export_for
    monkeypatch.setattr(onnx_backend, "export_for",
                        lambda *args: exports.append(args[2]) or real_export(*args))
    inputs = crop_pair(car_frames(2), CAR_BOX)

    def fc8(net):
        for name, array in inputs.items():
            net.blobs[name].data[...] = array
        return net.forward()["fc8"].copy()

    first = onnx_backend.cached_export(deploy, weights)
    assert exports == [cache] and cache.is_file()
    assert first.metadata["goturn_caffe.weights_sha256"] == file_digest(weights)
    stamp = cache.stat().st_mtime_ns

    def no_caffe(*_, **__):
        raise CaffeUnavailable("pycaffe is not importable")

    with monkeypatch.context() as patch:   # unchanged weights: reused, Caffe not needed
        patch.setattr(onnx_export, "load_net", no_caffe)
        again = onnx_backend.cached_export(deploy, weights)
    assert exports == [cache] and cache.stat().st_mtime_ns == stamp
    assert np.array_equal(fc8(again), fc8(first))

    caffe_net = write_weights(deploy, weights, seed=4)     # new weights, same file name and size
    changed = onnx_backend.cached_export(deploy, weights)
    assert exports == [cache, cache]
    assert changed.metadata["goturn_caffe.weights_sha256"] == file_digest(weights)
    expected = fc8(caffe_net)
    assert np.abs(fc8(changed) - expected).max() < 1e-4
    assert np.abs(fc8(first) - expected).max() > 0.01

    cache.write_bytes(cache.read_bytes()[:1000])          # a truncated cache is made again
    onnx_backend.cached_export(deploy, weights)
    assert len(exports) == 3
    assert np.abs(fc8(onnx_backend.load_onnx_file(cache)) - expected).max() < 1e-4

    write_weights(deploy, weights, seed=5)
    with monkeypatch.context() as patch:   # stale cache and no Caffe: one line saying so
        patch.setattr(onnx_export, "load_net", no_caffe)
        with pytest.raises(CaffeUnavailable, match=r"model\.caffemodel: .*needs pycaffe"):
            onnx_backend.cached_export(deploy, weights)


@pytest.fixture
def track_tool():
    spec = importlib.util.spec_from_file_location("track_tool", REPO_ROOT / "tools" / "track.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_track_py_backend_onnxruntime(model, track_tool, tmp_path, capsys):
    from goturn_caffe.track.builder import build_tracker
    from goturn_caffe.track.goturn import track_sequence

    deploy, weights = model
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(1, FRAMES + 1):
        shutil.copy(SAMPLE_CAR / f"{i:08d}.jpg", folder)
    out = tmp_path / "boxes.txt"
    assert track_tool.main([str(folder), "--box", "6,166,43,27", "--deploy", str(deploy),
                            "--weights", str(weights), "--backend", "onnxruntime",
                            "--output", str(out)]) == 0
    written = np.array([[float(v) for v in line.split(",")] for line in out.read_text().splitlines()])
    caffe_boxes = track_sequence(build_tracker("goturn", deploy, weights), car_frames(), CAR_BOX).boxes
    assert written == pytest.approx(np.array([b.to_xywh() for b in caffe_boxes]), abs=0.006)
    capsys.readouterr()

    bogus = tmp_path / "bogus.onnx"
    bogus.write_bytes(b"not a model")
    for args, message in [(["--gpu", "0"], "runs on the CPU"),
                          (["--finetune"], "needs --backend caffe"),
                          (["--engine", "caffe"], "leave --engine default"),
                          (["--weights", str(bogus)], "bogus.onnx: not an ONNX model")]:
        argv = ([str(folder), "--box", "6,166,43,27", "--deploy", str(deploy), "--weights",
                 str(weights), "--backend", "onnxruntime", "--output", str(tmp_path / "x.txt")]
                + args)
        assert track_tool.main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
        assert not (tmp_path / "x.txt").exists()


def test_another_deploy_prototxt_makes_the_export_again(model, tmp_path, monkeypatch):
    """Same weights, a deploy that computes something else (LRN's alpha doubled: the
    weights still fit): the cached export of the first deploy must not be used."""
    from google.protobuf import text_format

    from goturn_caffe.model.net import load_net, read_net_prototxt

    deploy, weights = model[0], tmp_path / "model.caffemodel"
    shutil.copy(model[1], weights)
    other = read_net_prototxt(deploy)
    lrn = [layer for layer in other.layer if layer.type == "LRN"]
    assert lrn
    for layer in lrn:
        layer.lrn_param.alpha *= 2
    other_deploy = tmp_path / "other_deploy.prototxt"
    other_deploy.write_text(text_format.MessageToString(other))
    exports = []
    real_export = onnx_backend.export_for
    monkeypatch.setattr(onnx_backend, "export_for",
                        lambda *args: exports.append(args[0]) or real_export(*args))
    inputs = crop_pair(car_frames(2), CAR_BOX)

    def fc8(net):
        for name, array in inputs.items():
            net.blobs[name].data[...] = array
        return net.forward()["fc8"].copy()

    first = fc8(onnx_backend.cached_export(deploy, weights))
    second = onnx_backend.cached_export(other_deploy, weights)
    assert exports == [deploy, other_deploy]  # made again for the other prototxt
    assert second.metadata["goturn_caffe.deploy_sha256"] == file_digest(other_deploy)
    expected = fc8(load_net(other_deploy, weights))
    assert np.abs(fc8(second) - expected).max() < 1e-4
    assert np.abs(first - expected).max() > 1e-3  # the two deploys do differ
    onnx_backend.cached_export(other_deploy, weights)
    assert len(exports) == 2  # and that export is then reused
