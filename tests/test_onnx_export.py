"""ONNX export: onnxruntime (and OpenCV's ONNX importer) give Caffe's outputs (issue 10)."""

import contextlib
import io
import sys

import cv2
import numpy as np
import pytest
from conftest import REPO_ROOT

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")

sys.path.insert(0, str(REPO_ROOT / "tools"))
import export_onnx as cli  # noqa: E402

VARIANTS = REPO_ROOT / "prototxt" / "variants"
SAMPLE_CAR = REPO_ROOT / "data" / "sample" / "vot" / "car"
TOLERANCE = 1e-4


def pixel_inputs(batch: int, names=("target", "image"), seed: int = 7) -> dict:
    """Mean-subtracted pixel values: 0..255 minus the BGR mean (104, 117, 123)."""
    rng = np.random.default_rng(seed)
    return {name: rng.uniform(-123, 151, (batch, 3, 227, 227)).astype(np.float32)
            for name in names}


def caffe_outputs(net, inputs: dict) -> dict:
    for name, array in inputs.items():
        net.blobs[name].reshape(*array.shape)
    net.reshape()
    return {name: array.copy() for name, array in net.forward(**inputs).items()}


def session(model) -> "onnxruntime.InferenceSession":
    model = model if isinstance(model, bytes) else str(model)
    return onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def goturn_export(deploy_net_once, tmp_path_factory):
    """The GOTURN deploy net with pycaffe's random filler weights (the session's),
    saved to a .caffemodel and exported from that file; (the net, the ONNX file)."""
    from goturn_caffe.model.net import DEPLOY_PROTOTXT
    from goturn_caffe.model.onnx_export import export_onnx

    folder = tmp_path_factory.mktemp("onnx")
    net = deploy_net_once
    net.save(str(folder / "goturn.caffemodel"))
    export_onnx(DEPLOY_PROTOTXT, folder / "goturn.caffemodel", folder / "goturn.onnx")
    return net, folder / "goturn.onnx"


@pytest.fixture(scope="module")
def goturn_session(goturn_export):
    return session(goturn_export[1])


def real_pair() -> dict:
    """Target and search crops of the bundled VOT car (frames 1 and 2, box of frame 1)."""
    from goturn_caffe.geometry.boxes import Box
    from goturn_caffe.geometry.cropping import crop_and_resize
    from goturn_caffe.geometry.preprocess import preprocess_batch

    box = Box.from_polygon([6, 193, 6, 166, 49, 166, 49, 193])  # groundtruth.txt, frame 1
    frames = [cv2.imread(str(SAMPLE_CAR / f"0000000{i}.jpg")) for i in (1, 2)]
    crops = [crop_and_resize(frame, box)[0] for frame in frames]
    target, image = preprocess_batch(np.stack(crops))
    return {"target": target[None], "image": image[None]}


@pytest.mark.parametrize("batch", [1, 3])
def test_onnxruntime_gives_caffes_fc8(goturn_export, goturn_session, batch):
    net, _ = goturn_export
    inputs = real_pair() if batch == 1 else pixel_inputs(batch)
    expected = caffe_outputs(net, inputs)["fc8"]
    (got,) = goturn_session.run(["fc8"], inputs)
    assert got.shape == expected.shape == (batch, 4)
    assert np.abs(expected).max() > 0.05   # a real signal, far above the tolerance
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE)
    if batch > 1:   # the batch elements differ, so each is really computed on its own input
        assert np.abs(np.diff(expected, axis=0)).max() > 10 * TOLERANCE


def test_exported_file_keeps_names_and_dynamic_batch(goturn_export):
    net, path = goturn_export
    model = onnx.load(str(path))
    graph = model.graph
    assert [i.name for i in graph.input] == ["target", "image"]
    assert [o.name for o in graph.output] == ["fc8"]
    dims = graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [3, 227, 227]
    params = sum(np.prod(t.dims) for t in graph.initializer)
    assert params == sum(b.data.size for blobs in net.params.values() for b in blobs)
    assert sorted(p.name for p in path.parent.iterdir()) == ["goturn.caffemodel", "goturn.onnx"]


def test_opencv_dnn_reads_the_export(goturn_export):
    """OpenCV's ONNX importer (what OpenCV 5 users have) gives Caffe's fc8 too."""
    net, path = goturn_export
    inputs = pixel_inputs(1, seed=3)
    expected = caffe_outputs(net, inputs)["fc8"]
    reader = cv2.dnn.readNetFromONNX(str(path))
    for name, array in inputs.items():
        reader.setInput(array, name)
    np.testing.assert_allclose(reader.forward("fc8"), expected, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("prototxt, names, output", [
    (VARIANTS / "goturn_deploy_fc_layers2.prototxt", ("target", "image"), "fc8"),
    (REPO_ROOT / "prototxt" / "opencv" / "goturn.prototxt", ("data1", "data2"), "out"),
])
def test_variant_and_opencv_architectures(caffe, prototxt, names, output):
    from goturn_caffe.model.net import load_net, read_net_prototxt
    from goturn_caffe.model.onnx_export import net_to_onnx

    net = load_net(prototxt)
    model = net_to_onnx(net, read_net_prototxt(prototxt))
    assert [o.name for o in model.graph.output] == [output]
    inputs = pixel_inputs(1, names)
    expected = caffe_outputs(net, inputs)[output]
    (got,) = session(model.SerializeToString()).run([output], inputs)
    assert np.abs(expected).max() > 0.05
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE)


# A small net with every supported layer type, each with the parameters where
# Caffe's and ONNX's conventions could part: rectangular and dilated
# convolutions, groups, no bias, leaky ReLU, pooling whose Caffe (ceil) size
# differs from ONNX's floor size, floor-mode pooling, an LRN strong enough to
# matter with k != 1, Power with all three terms, a blob used twice (Caffe
# inserts a Split), InnerProduct on 4-D and 2-D blobs, and a Dropout writing
# the output last.
SMALL_NET = """
name: "small"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 13 dim: 11 } } }
layer { name: "conv_a" type: "Convolution" bottom: "data" top: "conv_a"
  convolution_param { num_output: 4 kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 0
    weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "gaussian" std: 0.5 } } }
layer { name: "relu_a" type: "ReLU" bottom: "conv_a" top: "conv_a" relu_param { negative_slope: 0.1 } }
layer { name: "conv_b" type: "Convolution" bottom: "conv_a" top: "conv_b"
  convolution_param { num_output: 6 kernel_size: 3 dilation: 2 pad: 2 group: 2 bias_term: false
    weight_filler { type: "gaussian" std: 0.5 } } }
layer { name: "pool_a" type: "Pooling" bottom: "conv_b" top: "pool_a"
  pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "norm_a" type: "LRN" bottom: "pool_a" top: "norm_a"
  lrn_param { local_size: 3 alpha: 2 beta: 0.6 k: 1.5 } }
layer { name: "pow_a" type: "Power" bottom: "norm_a" top: "pow_a"
  power_param { power: 2 scale: 0.5 shift: 1 } }
layer { name: "both" type: "Concat" bottom: "norm_a" bottom: "pow_a" top: "both" }
layer { name: "pool_b" type: "Pooling" bottom: "both" top: "pool_b"
  pooling_param { pool: MAX kernel_h: 3 kernel_w: 2 stride: 2 ceil_mode: false } }
layer { name: "fc_a" type: "InnerProduct" bottom: "pool_b" top: "fc_a"
  inner_product_param { num_output: 5 bias_term: false weight_filler { type: "gaussian" std: 0.5 } } }
layer { name: "fc_b" type: "InnerProduct" bottom: "fc_a" top: "fc_b"
  inner_product_param { num_output: 3 weight_filler { type: "gaussian" std: 0.5 }
    bias_filler { type: "gaussian" std: 0.5 } } }
layer { name: "drop" type: "Dropout" bottom: "fc_b" top: "fc_b" }
"""


def has_floor_pooling(caffe) -> bool:
    """The PyPI fork's ``ceil_mode`` field; BVLC Caffe always rounds up."""
    return "ceil_mode" in caffe.proto.caffe_pb2.PoolingParameter.DESCRIPTOR.fields_by_name


def small_net(caffe) -> str:
    return SMALL_NET if has_floor_pooling(caffe) else SMALL_NET.replace(" ceil_mode: false", "")


def test_every_layer_mapping_matches_caffe(caffe, tmp_path):
    from goturn_caffe.model.net import load_net, read_net_prototxt
    from goturn_caffe.model.onnx_export import net_to_onnx

    prototxt = tmp_path / "small.prototxt"
    prototxt.write_text(small_net(caffe))
    net = load_net(prototxt)
    # The pooling sizes the comment promises: Caffe's ceil gives 6 columns
    # where floor would give 5; floor mode on pool_b where the tree has it
    # (4 rows, kernel 3, stride 2: floor 1 row, ceil 2).
    assert net.blobs["pool_a"].data.shape == (1, 6, 4, 6)
    assert net.blobs["pool_b"].data.shape == ((1, 12, 1, 3) if has_floor_pooling(caffe) else (1, 12, 2, 3))
    model = net_to_onnx(net, read_net_prototxt(prototxt))
    assert model.graph.node[-1].op_type == "Identity" and model.graph.output[0].name == "fc_b"
    inputs = {"data": np.random.default_rng(1).uniform(-2, 2, (2, 3, 13, 11)).astype(np.float32)}
    expected = caffe_outputs(net, inputs)["fc_b"]
    (got,) = session(model.SerializeToString()).run(["fc_b"], inputs)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_cli_exports_and_checks(caffe, tmp_path):
    from goturn_caffe.model.net import load_net

    prototxt, weights, output = (tmp_path / f"small.{ext}" for ext in ("prototxt", "caffemodel", "onnx"))
    prototxt.write_text(small_net(caffe))
    load_net(prototxt).save(str(weights))
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = cli.main(["--deploy", str(prototxt), "--weights", str(weights),
                           "--output", str(output), "--check", "--batch", "2"])
    assert status == 0 and output.is_file()
    line = next(line for line in stdout.getvalue().splitlines() if line.startswith("fc_b:"))
    assert "(batch 2," in line and 0 <= float(line.split("=")[1].split()[0]) <= TOLERANCE


def test_caffe_pool_sizes_by_hand():
    from goturn_caffe.model.onnx_export import caffe_pool_output_size, pool_end_pad

    assert caffe_pool_output_size(55, 3, 2, 0) == 27       # GOTURN's pool1: (55 - 3) / 2 + 1
    assert caffe_pool_output_size(6, 3, 2, 0) == 3         # ceil(3 / 2) + 1
    assert caffe_pool_output_size(6, 3, 2, 0, ceil_mode=False) == 2
    assert caffe_pool_output_size(2, 3, 3, 1) == 1         # a 2nd window would start in the padding
    assert pool_end_pad(6, 3, 2, 0) == 1                   # windows at 0, 2, 4: the last needs cell 6
    assert pool_end_pad(55, 3, 2, 0) == 0
    assert pool_end_pad(10, 3, 2, 1) == 2                  # 6 windows from -1: the last ends at 11


def test_unsupported_layer_is_named(caffe, tmp_path):
    from goturn_caffe.model.net import ModelError, load_net, read_net_prototxt
    from goturn_caffe.model.onnx_export import net_to_onnx

    prototxt = tmp_path / "softmax.prototxt"
    prototxt.write_text(small_net(caffe).split('layer { name: "fc_b"')[0]
                        + 'layer { name: "prob" type: "Softmax" bottom: "fc_a" top: "prob" }\n')
    with pytest.raises(ModelError, match="layer prob: type Softmax cannot be exported"):
        net_to_onnx(load_net(prototxt), read_net_prototxt(prototxt))


def test_cli_errors_are_one_line_and_write_nothing(goturn_export, tmp_path, capsys):
    _, path = goturn_export
    output = tmp_path / "out.onnx"
    missing = ["--weights", str(tmp_path / "nope.caffemodel"), "--output", str(output)]
    assert cli.main(missing) == 2
    assert "nope.caffemodel: no such weights file" in capsys.readouterr().err
    # GOTURN's weights do not fit the current-frame-only net (fc6 sees half the features)
    mismatched = ["--deploy", str(VARIANTS / "goturn_deploy_current_frame_only.prototxt"),
                  "--weights", str(path.with_suffix(".caffemodel")), "--output", str(output)]
    assert cli.main(mismatched) == 2
    err = capsys.readouterr().err
    assert "layer fc6-new blob 0 has shape (4096, 18432)" in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
