"""The GOTURN NetSpec (issue 3): the checked-in prototxts are the generator's,
the layers are the authors' (shared/REFERENCE.md), shapes and the parameter
count match numbers derived here by hand, and every variant runs."""

import dataclasses
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO_ROOT

from goturn_caffe.model import netspec
from goturn_caffe.model.netspec import VARIANTS, NetOptions, build_net, build_solver, generated_files

PROTOTXT = REPO_ROOT / "prototxt"

# CaffeNet's convolutions, from REFERENCE.md: (name, num_output, kernel, stride, pad, group).
CONVS = [("conv1", 96, 11, 4, 0, 1), ("conv2", 256, 5, 1, 2, 2), ("conv3", 384, 3, 1, 1, 1),
         ("conv4", 384, 3, 1, 1, 2), ("conv5", 256, 3, 1, 1, 2)]
STREAM = ["conv1", "relu1", "pool1", "norm1", "conv2", "relu2", "pool2", "norm2",
          "conv3", "relu3", "conv4", "relu4", "conv5", "relu5", "pool5"]
HEAD = ["concat", "fc6-new", "relu6", "drop6", "fc7-new", "relu7", "drop7",
        "fc7-newb", "relu7b", "drop7b", "fc8-shapes"]
LOSS = ["neg", "flatten", "subtract", "abssum"]
FC_TOPS = {"fc6-new": "fc6", "fc7-new": "fc7", "fc7-newb": "fc7b", "fc8-shapes": "fc8"}


def layers_of(proto) -> dict:
    return {layer.name: layer for layer in proto.layer}


# ---------------------------------------------------------------- generated files --

def test_checked_in_prototxts_equal_the_generator():
    files = generated_files()
    assert {"goturn_train.prototxt", "goturn_deploy.prototxt", "goturn_solver.prototxt"} <= set(files)
    assert {f"variants/goturn_train_{name}.prototxt" for name in VARIANTS} <= set(files)
    for rel, text in files.items():
        assert (PROTOTXT / rel).read_text() == text, f"prototxt/{rel} is stale: run `make prototxt`"


def test_check_command_accepts_the_repository_and_flags_a_stale_copy(tmp_path, capsys):
    done = subprocess.run([sys.executable, "-m", "goturn_caffe.model.netspec", "--check", str(PROTOTXT)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert netspec.main(["--write", str(tmp_path)]) == 0
    written = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.prototxt")}
    assert written == set(generated_files())
    assert not list(tmp_path.rglob("*.tmp"))
    assert netspec.main(["--check", str(tmp_path)]) == 0
    deploy = tmp_path / "goturn_deploy.prototxt"
    deploy.write_text(deploy.read_text().replace("dropout_ratio: 0.5", "dropout_ratio: 0.4"))
    (tmp_path / "variants" / "goturn_train_l2_loss.prototxt").unlink()
    capsys.readouterr()
    assert netspec.main(["--check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "goturn_deploy.prototxt" in out and "goturn_train_l2_loss.prototxt" in out
    assert "goturn_train.prototxt" not in out


# ------------------------------------------------------------ the authors' layers --

def test_training_net_has_the_authors_layers_and_wiring(caffe):
    proto = build_net(NetOptions(), train=True)
    assert [layer.name for layer in proto.layer] == \
        ["data"] + STREAM + [name + "_p" for name in STREAM] + HEAD + LOSS
    layers = layers_of(proto)
    data = layers["data"]
    assert list(data.top) == ["target", "image", "bbox"]
    assert json.loads(data.python_param.param_str)["batch_size"] == 50
    assert list(layers["conv1"].bottom) == ["target"] and list(layers["conv1_p"].bottom) == ["image"]
    concat = layers["concat"]
    assert list(concat.bottom) == ["pool5", "pool5_p"] and list(concat.top) == ["pool5_concat"]
    assert concat.concat_param.axis == 1
    assert list(layers["fc6-new"].bottom) == ["pool5_concat"]
    for name, top in FC_TOPS.items():
        assert list(layers[name].top) == [top]
    assert list(layers["fc8-shapes"].bottom) == ["fc7b"]
    for name in ("relu6", "drop6", "relu7", "drop7", "relu7b", "drop7b"):
        assert list(layers[name].bottom) == list(layers[name].top)  # in place, as the authors'
    # The L1 loss from stock layers: loss = ASUM(fc8 + (-1 * bbox)), weight 1.
    neg = layers["neg"]
    assert (neg.type, list(neg.bottom), list(neg.top)) == ("Power", ["bbox"], ["bbox_neg"])
    assert (neg.power_param.power, neg.power_param.scale, neg.power_param.shift) == (1, -1, 0)
    assert (layers["flatten"].type, list(layers["flatten"].top)) == ("Flatten", ["bbox_neg_flat"])
    subtract = layers["subtract"]
    assert subtract.type == "Eltwise" and list(subtract.bottom) == ["fc8", "bbox_neg_flat"]
    assert subtract.eltwise_param.operation == caffe.params.Eltwise.SUM
    assert not subtract.eltwise_param.coeff  # plain sum: the Power layer did the negation
    loss = layers["abssum"]
    assert loss.type == "Reduction" and list(loss.top) == ["loss"]
    assert loss.reduction_param.operation == caffe.params.Reduction.ASUM
    assert list(loss.loss_weight) == [1] and loss.reduction_param.axis == 0  # a SUM over the batch


def test_learning_rates_fillers_and_layer_parameters_are_the_authors(caffe):
    layers = layers_of(build_net(NetOptions(), train=True))
    for suffix in ("", "_p"):
        for name, num_output, kernel, stride, pad, group in CONVS:
            layer = layers[name + suffix]
            conv = layer.convolution_param
            assert (conv.num_output, list(conv.kernel_size), list(conv.stride) or [1],
                    list(conv.pad) or [0], conv.group) == (num_output, [kernel], [stride], [pad], group)
            assert conv.weight_filler.type == "gaussian" and conv.weight_filler.std == pytest.approx(0.01)
            # Frozen, but still with the weight decay multipliers of the authors' file.
            assert [(p.lr_mult, p.decay_mult) for p in layer.param] == [(0, 1), (0, 0)]
            assert not any(p.name for p in layer.param)  # the streams share nothing
        for idx in (1, 2, 5):
            pool = layers[f"pool{idx}{suffix}"].pooling_param
            assert (pool.pool, pool.kernel_size, pool.stride) == (caffe.params.Pooling.MAX, 3, 2)
        for idx in (1, 2):
            lrn = layers[f"norm{idx}{suffix}"].lrn_param
            assert (lrn.local_size, lrn.alpha, lrn.beta) == (5, pytest.approx(1e-4), pytest.approx(0.75))
    for name, (width, std, bias) in {"fc6-new": (4096, 0.005, 1), "fc7-new": (4096, 0.005, 1),
                                     "fc7-newb": (4096, 0.005, 1), "fc8-shapes": (4, 0.01, 0)}.items():
        layer = layers[name]
        fc = layer.inner_product_param
        assert fc.num_output == width
        assert (fc.weight_filler.type, fc.weight_filler.std) == ("gaussian", pytest.approx(std))
        assert (fc.bias_filler.type, fc.bias_filler.value) == ("constant", bias)
        assert [(p.lr_mult, p.decay_mult) for p in layer.param] == [(10, 1), (20, 0)]
    for name in ("drop6", "drop7", "drop7b"):
        assert layers[name].dropout_param.dropout_ratio == pytest.approx(0.5)


def test_solver_is_the_authors(caffe):
    from google.protobuf import text_format

    solver = caffe.proto.caffe_pb2.SolverParameter()
    text_format.Merge((PROTOTXT / "goturn_solver.prototxt").read_text(), solver)
    assert solver == build_solver("prototxt/goturn_train.prototxt")
    assert solver.net == "prototxt/goturn_train.prototxt"
    assert solver.base_lr == pytest.approx(1e-6) and solver.lr_policy == "step"
    assert solver.gamma == pytest.approx(0.1) and solver.stepsize == 100000
    assert solver.momentum == pytest.approx(0.9) and solver.weight_decay == pytest.approx(5e-4)
    assert (solver.snapshot, solver.display, solver.random_seed) == (50000, 20, 800)
    assert solver.max_iter == 500000  # the batches the authors' Step(1) loop really ran
    assert not solver.HasField("solver_mode")  # CPU or GPU is chosen at run time


# ------------------------------------------------------------ shapes and counts --

def conv_output(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


def pool_output(size: int) -> int:
    return math.ceil((size - 3) / 2) + 1  # Caffe pools with ceil, kernel 3 stride 2


def test_pool5_is_256x6x6_per_stream_and_the_concat_18432(deploy_net):
    size = 227
    for name, _, kernel, stride, pad, _ in CONVS:
        size = conv_output(size, kernel, stride, pad)
        if name in ("conv1", "conv2", "conv5"):
            size = pool_output(size)
    assert size == 6  # 227 -> 55 -> 27 -> 27 -> 13 -> 13 -> 13 -> 13 -> 6
    assert deploy_net.blobs["pool5"].data.shape == (1, 256, size, size)
    assert deploy_net.blobs["pool5_p"].data.shape == (1, 256, size, size)
    assert deploy_net.blobs["pool5_concat"].data.shape == (1, 512, 6, 6)
    assert deploy_net.params["fc6-new"][0].data.shape == (4096, 2 * 256 * 6 * 6) == (4096, 18432)
    assert deploy_net.blobs["fc8"].data.shape == (1, 4)
    assert list(deploy_net.inputs) == ["target", "image"]


def test_parameter_count_from_the_layer_shapes(deploy_net):
    from goturn_caffe.model.net import parameter_count

    expected_shapes = {}
    channels = 3
    for name, out, kernel, _, _, group in CONVS:
        for suffix in ("", "_p"):
            expected_shapes[name + suffix] = [(out, channels // group, kernel, kernel), (out,)]
        channels = out
    inputs = 2 * 256 * 6 * 6
    for name, out in (("fc6-new", 4096), ("fc7-new", 4096), ("fc7-newb", 4096), ("fc8-shapes", 4)):
        expected_shapes[name] = [(out, inputs), (out,)]
        inputs = out
    assert {name: [b.data.shape for b in blobs] for name, blobs in deploy_net.params.items()} == \
        expected_shapes
    conv = sum(out * (cin // group) * k * k + out for (_, out, k, _, _, group), cin
               in zip(CONVS, [3, 96, 256, 384, 384]))
    fc = sum(cin * out + out for cin, out in ((18432, 4096), (4096, 4096), (4096, 4096), (4096, 4)))
    assert conv == 34944 + 307456 + 885120 + 663936 + 442624
    assert parameter_count(deploy_net) == 2 * conv + fc


# ------------------------------------------------------------------ the variants --

def run_training_net(caffe, options: NetOptions, folder, seed=0):
    """Build ``options``' training net fed by Input layers (batch 1), run one
    forward and backward on random inputs; returns the net."""
    options = dataclasses.replace(options, batch_size=1)
    path = folder / "train.prototxt"
    path.write_text(str(build_net(options, train=True, python_data=False)))
    net = caffe.Net(str(path), caffe.TRAIN)
    rng = np.random.default_rng(seed)
    net.blobs["target"].data[...] = rng.normal(0, 50, net.blobs["target"].data.shape)
    net.blobs["image"].data[...] = rng.normal(0, 50, net.blobs["image"].data.shape)
    net.blobs["bbox"].data[...] = rng.uniform(-3, 3, (1, 4, 1, 1))
    net.forward()
    net.backward()
    return net


@pytest.mark.parametrize("name", list(VARIANTS))  # GOTURN itself: test_net_weights.py
def test_every_variant_runs_forward_and_backward(caffe, tmp_path, name):
    options = VARIANTS[name]
    net = run_training_net(caffe, options, tmp_path)
    error = net.blobs["fc8"].data.astype(np.float64) - net.blobs["bbox"].data.reshape(1, 4)
    loss = float(net.blobs["loss"].data)
    if options.loss == "l2":  # Reduction SUMSQ: the plain sum of squares, no 1/2
        assert loss == pytest.approx(np.sum(error ** 2), rel=1e-5)
        np.testing.assert_allclose(net.blobs["fc8"].diff, 2 * error, rtol=1e-5)
    else:
        assert loss == pytest.approx(np.sum(np.abs(error)), rel=1e-5)
        np.testing.assert_array_equal(net.blobs["fc8"].diff, np.sign(error))
    fc_names = [n for n in net.params if not n.startswith("conv")]
    assert fc_names == ["fc6-new", "fc7-new", "fc7-newb", "fc7-newc"][:options.fc_layers] + ["fc8-shapes"]
    streams = 1 if options.current_frame_only else 2
    assert net.params["fc6-new"][0].data.shape == (4096, streams * 256 * 6 * 6)
    assert ("conv1" in net.params) == (not options.current_frame_only) and "conv1_p" in net.params
    # Frozen convolutions get no gradient at all; trainable ones do.
    conv_grad = max(np.abs(net.params[n][0].diff).max() for n in net.params if n.startswith("conv"))
    assert (conv_grad > 0) == options.train_conv
    lr_mults = {p.lr_mult for layer in build_net(options, train=True).layer
                if layer.type == "Convolution" for p in layer.param}
    assert lr_mults == ({1, 2} if options.train_conv else {0})
    if options.deploy_differs:  # the checked-in deploy prototxt builds and maps to 4 outputs
        from goturn_caffe.model.net import load_net

        deploy = load_net(PROTOTXT / "variants" / f"goturn_deploy_{name}.prototxt")
        assert list(deploy.inputs) == (["image"] if options.current_frame_only else ["target", "image"])
        assert deploy.forward()["fc8"].shape == (1, 4)
        assert list(deploy.params) == list(net.params)
