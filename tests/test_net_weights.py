"""GOTURN's loss, solver step, weight files and initial weights (issue 3).

The GOTURN net has 114 M parameters: each big net is built once per module,
batches are 1-2 and the fc checks of the solver step read samples of the
blobs, so that the file runs in about half a minute on a 2-core CPU."""

import contextlib
import filecmp
import hashlib
import io
import runpy
import socket
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import REPO_ROOT
from test_netspec import CONVS

from goturn_caffe.model.net import DEPLOY_PROTOTXT, ModelError, load_net, read_caffemodel
from goturn_caffe.model.netspec import NetOptions, build_caffenet_net, build_net, build_solver

VARIANTS_DIR = REPO_ROOT / "prototxt" / "variants"
TOOL = REPO_ROOT / "tools" / "make_init_weights.py"
BATCH = 2
CONV_NAMES = [name for name, *_ in CONVS]
FC_NAMES = ["fc6-new", "fc7-new", "fc7-newb", "fc8-shapes"]
FC_MULTS = [(10, 1), (20, 0)]  # (lr_mult, decay_mult) of fc weights and biases, REFERENCE.md


def random_inputs(net, seed: int) -> dict:
    """Crops like the tracker's (mean-subtracted pixels) and labels around 0,
    so that fc8 - bbox takes both signs."""
    rng = np.random.default_rng(seed)
    inputs = {name: rng.normal(0, 50, net.blobs[name].data.shape).astype(np.float32)
              for name in ("target", "image") if name in net.blobs}
    if "bbox" in net.blobs:
        inputs["bbox"] = rng.uniform(-3, 3, net.blobs["bbox"].data.shape).astype(np.float32)
    for name, value in inputs.items():
        net.blobs[name].data[...] = value
    return inputs


def fill_randomly(net, seed: int) -> None:
    """Every parameter blob of ``net`` set to random values, not its fillers'."""
    rng = np.random.default_rng(seed)
    for blobs in net.params.values():
        for blob in blobs:
            values = blob.data  # a view of the blob
            values[...] = rng.standard_normal(values.shape, dtype=np.float32)
            values *= 0.01


# ------------------------------------------------------------- loss and solver --

@pytest.fixture(scope="module")
def solver(caffe, tmp_path_factory):
    """SGD with the authors' solver on the training net fed by Input layers (batch 2)."""
    folder = tmp_path_factory.mktemp("solver")
    net_path = folder / "train.prototxt"
    net_path.write_text(str(build_net(NetOptions(batch_size=BATCH), train=True, python_data=False)))
    solver_path = folder / "solver.prototxt"
    solver_path.write_text(str(build_solver(str(net_path), snapshot_prefix=str(folder / "snap"))))
    solver = caffe.SGDSolver(str(solver_path))
    random_inputs(solver.net, seed=1)
    return solver


def test_loss_is_the_sum_of_absolute_errors_and_its_gradient_the_sign(solver):
    net = solver.net
    net.forward()
    fc8 = net.blobs["fc8"].data.astype(np.float64)
    error = fc8 - net.blobs["bbox"].data.reshape(BATCH, 4)
    assert fc8.shape == (BATCH, 4) and (error > 0).any() and (error < 0).any()
    assert float(net.blobs["loss"].data) == pytest.approx(np.abs(error).sum(), rel=1e-6)
    net.backward()
    np.testing.assert_array_equal(net.blobs["fc8"].diff, np.sign(error))


def bits(array):
    return array.view(np.uint32)


def probe(array, picks):
    """The values of ``array`` at flat indices ``picks`` (a copy: fancy indexing)."""
    return array.reshape(-1)[picks]


def test_one_solver_step_moves_only_the_fc_layers_by_lr_times_gradient_plus_decay(caffe, solver):
    net = solver.net
    assert solver.iter == 0  # momentum history still zero
    rng = np.random.default_rng(6)
    # fc6-new alone has 75 M weights: the fc checks read 300 000 random entries of each blob.
    picks = {name: [rng.integers(0, b.data.size, min(b.data.size, 300_000)) for b in net.params[name]]
             for name in FC_NAMES}
    # The gradient of the very forward the solver will run: same inputs, and
    # the same dropout masks by seeding Caffe's RNG identically.
    caffe.set_random_seed(5)
    net.forward()
    loss = float(net.blobs["loss"].data)
    net.clear_param_diffs()
    net.backward()
    conv_names = CONV_NAMES + [name + "_p" for name in CONV_NAMES]
    conv_before = {name: [b.data.copy() for b in net.params[name]] for name in conv_names}
    assert not any(b.diff.any() for name in conv_names for b in net.params[name])  # not back-propagated
    grads = {name: [probe(b.diff, p) for b, p in zip(net.params[name], picks[name])] for name in FC_NAMES}
    before = {name: [probe(b.data, p) for b, p in zip(net.params[name], picks[name])] for name in FC_NAMES}
    caffe.set_random_seed(5)
    solver.step(1)
    assert float(net.blobs["loss"].data) == loss  # the same forward, dropout masks included
    for name in conv_names:
        for blob, old in zip(net.params[name], conv_before[name]):
            np.testing.assert_array_equal(bits(blob.data), bits(old))  # bit-identical
    lr, weight_decay = 1e-6, 5e-4  # base_lr at iteration 0 (step policy), weight_decay
    for name in FC_NAMES:
        for blob, at, old, grad, (lr_mult, decay_mult) in zip(
                net.params[name], picks[name], before[name], grads[name], FC_MULTS):
            update = probe(blob.diff, at)  # Caffe leaves the applied update in the diff
            np.testing.assert_array_equal(bits(probe(blob.data, at)), bits(old - update))
            assert (update != 0).any()
            expected = lr * lr_mult * (grad.astype(np.float64) + weight_decay * decay_mult * old)
            # float32 rounding of the two terms, each relative to its own size
            tolerance = 1e-6 * lr * lr_mult * (np.abs(grad) + weight_decay * decay_mult * np.abs(old))
            assert np.all(np.abs(update - expected) <= tolerance + 1e-30), name
            if decay_mult:  # where dropout zeroed the gradient the decay alone moves the weight
                dropped = grad == 0
                assert dropped.any()
                np.testing.assert_allclose(update[dropped],
                                           lr * lr_mult * weight_decay * old[dropped], rtol=1e-6)


# ----------------------------------------------------------- the authors' layout --

def authors_tracker_prototxt(convs) -> str:
    """GOTURN laid out as the authors' nets/tracker.prototxt (one file for
    training and tracking, legacy ``input`` fields, inputs target, image,
    bbox), written from REFERENCE.md independently of goturn_caffe.model.netspec."""
    def layer(name, kind, bottoms, top, body=""):
        return (f'layer {{ name: "{name}" type: "{kind}" '
                + "".join(f'bottom: "{b}" ' for b in bottoms) + f'top: "{top}" {body} }}')

    frozen = "param { lr_mult: 0 decay_mult: 1 } param { lr_mult: 0 decay_mult: 0 }"
    pool = "pooling_param { pool: MAX kernel_size: 3 stride: 2 }"
    lrn = "lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 }"
    lines = ['name: "CaffeNet"', 'input: "target"', 'input: "image"', 'input: "bbox"']
    lines += [f"input_dim: {d}" for d in (1, 3, 227, 227, 1, 3, 227, 227, 1, 4, 1, 1)]
    for suffix, source in (("", "target"), ("_p", "image")):
        x = source
        for idx, (_, out, kernel, stride, pad, group) in enumerate(convs, start=1):
            conv = f"conv{idx}{suffix}"
            lines.append(layer(conv, "Convolution", [x], conv,
                               f"{frozen} convolution_param {{ num_output: {out} pad: {pad} "
                               f"kernel_size: {kernel} stride: {stride} group: {group} }}"))
            lines.append(layer(f"relu{idx}{suffix}", "ReLU", [conv], conv))
            x = conv
            if idx in (1, 2, 5):
                x = f"pool{idx}{suffix}"
                lines.append(layer(x, "Pooling", [conv], x, pool))
            if idx in (1, 2):
                lines.append(layer(f"norm{idx}{suffix}", "LRN", [x], f"norm{idx}{suffix}", lrn))
                x = f"norm{idx}{suffix}"
    lines.append(layer("concat", "Concat", ["pool5", "pool5_p"], "pool5_concat",
                       "concat_param { axis: 1 }"))
    x = "pool5_concat"
    trained = "param { lr_mult: 10 decay_mult: 1 } param { lr_mult: 20 decay_mult: 0 }"
    for name, top, width in (("fc6-new", "fc6", 4096), ("fc7-new", "fc7", 4096),
                             ("fc7-newb", "fc7b", 4096), ("fc8-shapes", "fc8", 4)):
        lines.append(layer(name, "InnerProduct", [x], top,
                           f"{trained} inner_product_param {{ num_output: {width} }}"))
        x = top
        if top != "fc8":
            tag = top[2:]
            lines.append(layer(f"relu{tag}", "ReLU", [top], top))
            lines.append(layer(f"drop{tag}", "Dropout", [top], top, "dropout_param { dropout_ratio: 0.5 }"))
    lines.append(layer("neg", "Power", ["bbox"], "bbox_neg", "power_param { power: 1 scale: -1 shift: 0 }"))
    lines.append(layer("flatten", "Flatten", ["bbox_neg"], "bbox_neg_flat"))
    lines.append(layer("subtract", "Eltwise", ["fc8", "bbox_neg_flat"], "out_diff"))
    lines.append(layer("abssum", "Reduction", ["out_diff"], "loss",
                       "loss_weight: 1 reduction_param { operation: ASUM }"))
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def authors_model(caffe, tmp_path_factory):
    """Random weights saved from a net with the authors' layout; returns
    (weights path, inputs, the authors' net's fc8 for those inputs)."""
    folder = tmp_path_factory.mktemp("authors")
    prototxt = folder / "tracker.prototxt"
    prototxt.write_text(authors_tracker_prototxt(CONVS))
    net = caffe.Net(str(prototxt), caffe.TEST)
    fill_randomly(net, seed=3)
    weights = folder / "tracker.caffemodel"
    net.save(str(weights))
    inputs = random_inputs(net, seed=4)
    net.forward()
    fc8 = net.blobs["fc8"].data.copy()
    assert np.abs(fc8).max() > 0
    return weights, inputs, fc8


def test_a_model_trained_with_the_authors_prototxt_loads_layer_for_layer(authors_model):
    weights, inputs, authors_fc8 = authors_model
    net = load_net(DEPLOY_PROTOTXT, weights, require_all=True)  # none missing, none extra
    weighted = {"conv1", "conv2", "conv3", "conv4", "conv5", "fc6-new", "fc7-new", "fc7-newb",
                "fc8-shapes"}
    assert set(net.params) == weighted | {name + "_p" for name in CONV_NAMES}
    for name in ("target", "image"):
        net.blobs[name].data[...] = inputs[name]
    np.testing.assert_array_equal(net.forward()["fc8"], authors_fc8)


# ------------------------------------------------------------------- bad input --

def test_weights_of_another_variant_are_refused_naming_file_and_layer(authors_model):
    goturn_weights = authors_model[0]  # GOTURN's layout, into the variants' deploy nets
    with pytest.raises(ModelError, match=r"tracker\.caffemodel: has no weights for layers fc7-newc "):
        load_net(VARIANTS_DIR / "goturn_deploy_fc_layers4.prototxt", goturn_weights)
    with pytest.raises(ModelError, match=r"tracker\.caffemodel: has weights for layers fc7-newb that"):
        load_net(VARIANTS_DIR / "goturn_deploy_fc_layers2.prototxt", goturn_weights)
    with pytest.raises(ModelError, match=r"tracker\.caffemodel: layer fc6-new blob 0 has shape "
                                         r"\(4096, 18432\), .* expects \(4096, 9216\)"):
        load_net(VARIANTS_DIR / "goturn_deploy_current_frame_only.prototxt", goturn_weights)


def test_files_that_are_no_model_are_refused_before_caffe_sees_them(caffenet_file, tmp_path):
    truncated = tmp_path / "truncated.caffemodel"
    truncated.write_bytes(caffenet_file.read_bytes()[:int(caffenet_file.stat().st_size * 0.6)])
    with pytest.raises(ModelError, match=r"truncated\.caffemodel: not a Caffe model, or truncated"):
        load_net(DEPLOY_PROTOTXT, truncated)
    ok, jpeg = cv2.imencode(".jpg", np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8))
    photo = tmp_path / "photo.caffemodel"
    photo.write_bytes(jpeg.tobytes())
    with pytest.raises(ModelError, match=r"photo\.caffemodel: not a Caffe model"):
        load_net(DEPLOY_PROTOTXT, photo)
    text = tmp_path / "deploy_as_weights.caffemodel"
    text.write_bytes(DEPLOY_PROTOTXT.read_bytes())
    with pytest.raises(ModelError, match=r"deploy_as_weights\.caffemodel: (not a Caffe model|holds no weights)"):
        load_net(DEPLOY_PROTOTXT, text)


def rewritten(model_path, folder, name, edit):
    """A copy of a caffemodel with ``edit(parsed model)`` applied."""
    model = read_caffemodel(model_path)
    edit(model)
    path = folder / name
    path.write_bytes(model.SerializeToString())
    return path


def test_a_layer_cut_short_or_of_the_wrong_shape_is_named(caffenet_file, tmp_path):
    from goturn_caffe.model.init_weights import make_init_weights

    def cut_conv2(model):  # a file whose conv2 weights stop after 100 values
        del next(layer for layer in model.layer if layer.name == "conv2").blobs[0].data[100:]

    short = rewritten(caffenet_file, tmp_path, "short.caffemodel", cut_conv2)
    with pytest.raises(ModelError, match=r"short\.caffemodel: layer conv2 blob 0 holds 100 values"):
        load_net(DEPLOY_PROTOTXT, short)

    def smaller_conv1(model):  # conv1 as 7x7 kernels, values consistent with the shape
        blob = next(layer for layer in model.layer if layer.name == "conv1").blobs[0]
        blob.shape.dim[:] = [96, 3, 7, 7]
        del blob.data[96 * 3 * 7 * 7:]

    wrong = rewritten(caffenet_file, tmp_path, "wrong.caffemodel", smaller_conv1)
    with pytest.raises(ModelError, match=r"wrong\.caffemodel: layer conv1 blob 0 has shape "
                                         r"\(96, 3, 7, 7\), .* expects \(96, 3, 11, 11\)"):
        make_init_weights(wrong, tmp_path / "init.caffemodel")
    assert not list(tmp_path.glob("*init*"))


# ------------------------------------------------------------- initial weights --

def to_v1_layout(caffe, model):
    """The same weights in the layout of the real bvlc_reference_caffenet.caffemodel
    (2014): V1 ``layers`` with legacy num/channels/height/width blob dims."""
    pb2 = caffe.proto.caffe_pb2
    kinds = {"Convolution": pb2.V1LayerParameter.CONVOLUTION,
             "InnerProduct": pb2.V1LayerParameter.INNER_PRODUCT}
    v1 = pb2.NetParameter(name=model.name)
    for layer in model.layer:
        if not layer.blobs:
            continue
        old = v1.layers.add(name=layer.name, type=kinds[layer.type])
        for blob in layer.blobs:
            dims = [1] * (4 - len(blob.shape.dim)) + list(blob.shape.dim)
            legacy = old.blobs.add(num=dims[0], channels=dims[1], height=dims[2], width=dims[3])
            legacy.data.extend(blob.data)
    return v1


@pytest.fixture(scope="module")
def caffenet(caffe, tmp_path_factory):
    """A CaffeNet-shaped model with random weights, saved by pycaffe from the
    CaffeNet deploy architecture, and the same weights in the real file's V1
    layout.  conv1..conv5 have CaffeNet's exact shapes; fc6..fc8 are made 8,
    8 and 10 wide (the real 4096, 4096, 1000 would add 58 M values that the
    net surgery never reads) to keep the test small.  Returns
    ({layout: path}, {conv layer: [weights, biases]})."""
    folder = tmp_path_factory.mktemp("caffenet")
    prototxt = folder / "caffenet_deploy.prototxt"
    prototxt.write_text(str(build_caffenet_net(fc_widths=(8, 8, 10))))
    net = caffe.Net(str(prototxt), caffe.TEST)
    fill_randomly(net, seed=2)
    saved = folder / "caffenet.caffemodel"
    net.save(str(saved))
    v1 = folder / "caffenet_v1.caffemodel"
    v1.write_bytes(to_v1_layout(caffe, read_caffemodel(saved)).SerializeToString())
    return {"pycaffe": saved, "v1": v1}, {name: [b.data.copy() for b in net.params[name]]
                                          for name in CONV_NAMES}


@pytest.fixture(scope="module")
def caffenet_file(caffenet):
    return caffenet[0]["pycaffe"]


def load_tool():
    return runpy.run_path(str(TOOL))["main"]


@pytest.fixture(scope="module")
def init_model(caffenet, tmp_path_factory):
    """`make_init_weights.py --caffenet <CaffeNet-shaped file> --no-verify`; returns
    (its output, its stderr)."""
    output = tmp_path_factory.mktemp("init") / "models" / "goturn_init.caffemodel"
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = load_tool()(["--caffenet", str(caffenet[0]["pycaffe"]), "--no-verify",
                            "--output", str(output)])
    assert code == 0, stderr.getvalue()
    return output, stderr.getvalue()


def test_init_weights_hold_caffenet_convolutions_in_both_streams_and_fc_fillers(caffenet, init_model):
    output, stderr = init_model
    assert "warning: not checking the SHA-1" in stderr
    assert [p.name for p in output.parent.iterdir()] == [output.name]  # no temporary file left
    net = load_net(DEPLOY_PROTOTXT, output, require_all=True)
    conv_values = caffenet[1]
    for name in CONV_NAMES:
        for suffix in ("", "_p"):
            for blob, value in zip(net.params[name + suffix], conv_values[name]):
                np.testing.assert_array_equal(blob.data, value)
    # Fillers: gaussian weights (std 0.005; 0.01 for fc8), constant biases 1 (0 for fc8).
    # Tolerances are many standard errors wide: 16 384 draws for fc8, millions for the others.
    for name, std, bias, tolerance in (("fc6-new", 0.005, 1, 0.01), ("fc7-new", 0.005, 1, 0.01),
                                       ("fc7-newb", 0.005, 1, 0.01), ("fc8-shapes", 0.01, 0, 0.05)):
        weights, biases = (blob.data for blob in net.params[name])
        assert weights.std() == pytest.approx(std, rel=tolerance)
        assert abs(weights.mean()) < 5 * std / np.sqrt(weights.size)
        assert np.all(biases == bias)


def test_the_real_files_v1_layout_gives_the_same_init_weights(caffenet, init_model, tmp_path):
    from goturn_caffe.model.init_weights import make_init_weights

    # Same convolutions, same filler seed: the very same file, byte for byte.
    output = make_init_weights(caffenet[0]["v1"], tmp_path / "init.caffemodel")
    assert filecmp.cmp(output, init_model[0], shallow=False)


def test_sha1_is_checked_and_a_wrong_file_refused(caffenet_file, tmp_path, capsys):
    from goturn_caffe.model.init_weights import CAFFENET_SHA1, verify_sha1

    actual = hashlib.sha1(caffenet_file.read_bytes()).hexdigest()
    verify_sha1(caffenet_file, actual)
    with pytest.raises(ModelError, match=f"SHA-1 is {actual}, expected {CAFFENET_SHA1}"):
        verify_sha1(caffenet_file)
    output = tmp_path / "init.caffemodel"
    assert load_tool()(["--caffenet", str(caffenet_file), "--output", str(output)]) == 2
    err = capsys.readouterr().err
    assert f"{caffenet_file}: SHA-1 is {actual}" in err and "--no-verify" in err
    assert not output.exists()


def test_download_is_verified_and_cached(caffenet_file, tmp_path):
    from goturn_caffe.model.init_weights import download_caffenet

    cache = tmp_path / "cache"
    url = caffenet_file.as_uri()  # urllib fetches file:// like http://
    with pytest.raises(ModelError, match=f"{url}: SHA-1 is"):  # not the published CaffeNet
        download_caffenet(cache, url, progress=False)
    assert not list(cache.iterdir())  # neither the file nor a partial download kept
    sha1 = hashlib.sha1(caffenet_file.read_bytes()).hexdigest()
    cached = download_caffenet(cache, url, expected_sha1=sha1, progress=False)
    assert cached.read_bytes() == caffenet_file.read_bytes()
    assert [p.name for p in cache.iterdir()] == ["bvlc_reference_caffenet.caffemodel"]
    # A verified copy in the cache is used without touching the network.
    assert download_caffenet(cache, "http://127.0.0.1:1/x", expected_sha1=sha1) == cached


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_without_network_says_to_pass_caffenet(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/bvlc_reference_caffenet.caffemodel"
    output = tmp_path / "init.caffemodel"
    done = subprocess.run([sys.executable, str(TOOL), "--cache", str(tmp_path / "cache"),
                           "--url", url, "--output", str(output)], capture_output=True, text=True)
    assert done.returncode != 0
    assert f"{url}: download failed" in done.stderr and "pass --caffenet PATH" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1  # one line, no traceback
    assert not output.exists() and not list((tmp_path / "cache").iterdir())
