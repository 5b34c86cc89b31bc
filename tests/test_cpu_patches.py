"""The CPU speed edits of the patch set: same results as before.

InnerProduct (GEMV / rank-1 update at one row, GEMM otherwise) and max pooling
(running maximum in registers, four windows at a time) against numpy, forward and
backward; ReLU bit for bit; the whole deploy net against OpenCV's DNN module, an independent forward pass of the same
prototxt and weights (two Caffe builds cannot share one process); pycaffe's
OpenBLAS kernel choice; and the edits on each pinned source tree."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO_ROOT, restored
from test_gpu_build_scripts import DEBIAN_ORIG, SDIST, unpack_edited_files

sys.path.insert(0, str(REPO_ROOT / "caffe_build"))
import build_caffe  # noqa: E402
import patch_caffe  # noqa: E402

FLT_MAX = np.finfo(np.float32).max


def write_net(tmp_path, text: str) -> str:
    path = tmp_path / "net.prototxt"
    path.write_text(text)
    return str(path)


# ------------------------------------------------------------ InnerProduct --
def inner_product_net(m: int, transpose: bool, bias: bool) -> str:
    return f"""
    force_backward: true
    layer {{ name: "x" type: "Input" top: "x" input_param {{ shape {{ dim: {m} dim: 3 dim: 2 dim: 5 }} }} }}
    layer {{ name: "fc" type: "InnerProduct" bottom: "x" top: "y"
            inner_product_param {{ num_output: 7 transpose: {str(transpose).lower()}
                                   bias_term: {str(bias).lower()}
                                   weight_filler {{ type: "gaussian" std: 1 }}
                                   bias_filler {{ type: "gaussian" std: 1 }} }} }}
    """


@pytest.mark.parametrize("m", [1, 4])            # 1: the GEMV / ger path; 4: GEMM
@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_inner_product_forward_and_backward_match_numpy(caffe, tmp_path, m, transpose, bias):
    net = caffe.Net(write_net(tmp_path, inner_product_net(m, transpose, bias)), caffe.TRAIN)
    rng = np.random.default_rng(m + 2 * transpose + 4 * bias)
    x = rng.standard_normal((m, 3, 2, 5)).astype(np.float32)
    weights = net.params["fc"][0].data
    assert weights.shape == ((30, 7) if transpose else (7, 30))
    w = (weights.T if transpose else weights).astype(np.float64)       # (out 7, in 30)
    b = net.params["fc"][1].data.astype(np.float64) if bias else np.zeros(7)
    x2 = x.reshape(m, 30).astype(np.float64)

    y = net.forward(x=x)["y"]
    np.testing.assert_allclose(y, x2 @ w.T + b, rtol=1e-5, atol=1e-5)

    # Caffe accumulates parameter gradients: start from known values
    g = rng.standard_normal((m, 7)).astype(np.float32)
    dw0 = rng.standard_normal(weights.shape).astype(np.float32)
    net.params["fc"][0].diff[...] = dw0
    if bias:
        db0 = rng.standard_normal(7).astype(np.float32)
        net.params["fc"][1].diff[...] = db0
    dx = net.backward(y=g)["x"]
    g64 = g.astype(np.float64)
    np.testing.assert_allclose(dx, (g64 @ w).reshape(x.shape), rtol=1e-5, atol=1e-5)
    dw = g64.T @ x2                                                     # (7, 30)
    np.testing.assert_allclose(net.params["fc"][0].diff, dw0 + (dw.T if transpose else dw),
                               rtol=1e-5, atol=1e-5)
    if bias:
        np.testing.assert_allclose(net.params["fc"][1].diff, db0 + g64.sum(axis=0),
                                   rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------- max pooling --
def caffe_max_pool(x: np.ndarray, kernel: int, stride: int, pad: int):
    """Caffe's max pooling in numpy: output size rounded up, windows clipped to
    the image, the first maximum in scan order wins; (values, flat indices)."""
    from goturn_caffe.model.onnx_export import caffe_pool_output_size

    n, c, height, width = x.shape
    ph_n = caffe_pool_output_size(height, kernel, stride, pad)
    pw_n = caffe_pool_output_size(width, kernel, stride, pad)
    values = np.empty((n, c, ph_n, pw_n), np.float32)
    indices = np.empty((n, c, ph_n, pw_n), np.int64)
    for ph in range(ph_n):
        for pw in range(pw_n):
            h0, w0 = ph * stride - pad, pw * stride - pad
            h1, w1 = min(h0 + kernel, height), min(w0 + kernel, width)
            h0, w0 = max(h0, 0), max(w0, 0)
            window = x[:, :, h0:h1, w0:w1].reshape(n, c, -1)
            first = window.argmax(axis=2)                 # numpy: the first maximum
            values[:, :, ph, pw] = np.take_along_axis(window, first[..., None], 2)[..., 0]
            indices[:, :, ph, pw] = (h0 + first // (w1 - w0)) * width + w0 + first % (w1 - w0)
    return values, indices


@pytest.mark.parametrize("kernel, stride, pad, size", [(3, 2, 0, 13), (3, 2, 1, 8), (2, 2, 0, 7)])
def test_max_pooling_values_indices_and_gradient_match_numpy(caffe, tmp_path, kernel, stride, pad, size):
    net = caffe.Net(write_net(tmp_path, f"""
    force_backward: true
    layer {{ name: "x" type: "Input" top: "x" input_param {{ shape {{ dim: 2 dim: 3 dim: {size} dim: {size} }} }} }}
    layer {{ name: "pool" type: "Pooling" bottom: "x" top: "p" top: "mask"
            pooling_param {{ pool: MAX kernel_size: {kernel} stride: {stride} pad: {pad} }} }}
    layer {{ name: "silence" type: "Silence" bottom: "mask" }}
    """), caffe.TRAIN)
    rng = np.random.default_rng(size)
    # small integers: many ties, so which maximum wins is tested too
    x = rng.integers(-3, 4, (2, 3, size, size)).astype(np.float32)
    net.blobs["x"].data[...] = x
    net.forward()
    values, indices = caffe_max_pool(x, kernel, stride, pad)
    np.testing.assert_array_equal(net.blobs["p"].data, values)
    np.testing.assert_array_equal(net.blobs["mask"].data, indices.astype(np.float32))

    g = rng.standard_normal(values.shape).astype(np.float32)
    net.blobs["p"].diff[...] = g
    net.backward(start="pool")
    expected = np.zeros((2, 3, size * size))
    for i in range(2):
        for ch in range(3):
            np.add.at(expected[i, ch], indices[i, ch].ravel(), g[i, ch].ravel())
    np.testing.assert_allclose(net.blobs["x"].diff.reshape(2, 3, -1), expected, rtol=1e-6)

    # a plane at the initial value: no element beats it, so value -FLT_MAX and mask -1
    # (forward only: Caffe's backward would write through that -1)
    x[0, 0] = -FLT_MAX
    net.blobs["x"].data[...] = x
    net.forward()
    np.testing.assert_array_equal(net.blobs["p"].data[0, 0], -FLT_MAX)
    np.testing.assert_array_equal(net.blobs["mask"].data[0, 0], -1)
    np.testing.assert_array_equal(net.blobs["p"].data[1], values[1])


def test_max_pooling_without_mask_top_uses_the_same_maxima(caffe, tmp_path):
    # one top: the indices go to Caffe's internal int mask (the deploy net's case)
    net = caffe.Net(write_net(tmp_path, """
    force_backward: true
    layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 1 dim: 4 dim: 11 dim: 11 } } }
    layer { name: "pool" type: "Pooling" bottom: "x" top: "p"
            pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
    """), caffe.TRAIN)
    x = np.random.default_rng(5).integers(-2, 3, (1, 4, 11, 11)).astype(np.float32)
    values, indices = caffe_max_pool(x, 3, 2, 0)
    np.testing.assert_array_equal(net.forward(x=x)["p"], values)
    g = np.ones_like(values)
    dx = net.backward(p=g)["x"]
    expected = np.zeros((4, 121))
    for ch in range(4):
        np.add.at(expected[ch], indices[0, ch].ravel(), 1.0)
    np.testing.assert_array_equal(dx.reshape(4, 121), expected)


# -------------------------------------------------------------------- ReLU --
@pytest.mark.parametrize("slope", [0.0, 0.1])
def test_relu_forward_is_caffes_formula_bit_for_bit(caffe, tmp_path, slope):
    # 4 x 5 x 7 = 140 elements plus 3: the SSE loop does four at a time, the tail one by one
    net = caffe.Net(write_net(tmp_path, f"""
    layer {{ name: "x" type: "Input" top: "x" input_param {{ shape {{ dim: 143 }} }} }}
    layer {{ name: "relu" type: "ReLU" bottom: "x" top: "y" relu_param {{ negative_slope: {slope} }} }}
    """), caffe.TEST)
    x = np.random.default_rng(3).standard_normal(143).astype(np.float32)
    x[[0, 5, 10, 141]] = [np.nan, -0.0, np.inf, -0.0]
    x[[1, 142]] = -np.inf
    y = net.forward(x=x)["y"]
    zero = np.float32(0)
    # std::max(x, 0) + slope * std::min(x, 0), as Caffe writes it (NaN, -0 and -inf included)
    with np.errstate(invalid="ignore"):     # 0 * -inf is NaN in Caffe too
        expected = np.where(x < zero, zero, x) + np.float32(slope) * np.where(zero < x, zero, x)
    np.testing.assert_array_equal(y, expected)
    assert np.array_equal(np.signbit(y), np.signbit(expected))


# --------------------------------------------------------- the deploy net --
@pytest.fixture(scope="module")
def opencv_deploy(deploy_net_once, tmp_path_factory):
    """OpenCV's DNN module on the deploy prototxt and the session net's weights."""
    import cv2

    from goturn_caffe.model.net import DEPLOY_PROTOTXT

    weights = tmp_path_factory.mktemp("cpu_patches") / "deploy.caffemodel"
    deploy_net_once.save(str(weights))
    net = cv2.dnn.readNetFromCaffe(str(DEPLOY_PROTOTXT), str(weights))
    weights.unlink()
    return net


@pytest.mark.parametrize("batch", [1, 3])
def test_deploy_net_matches_opencv_and_numpy_fc_layers(deploy_net, opencv_deploy, batch):
    from goturn_caffe.model.onnx_export import random_inputs

    net = deploy_net
    with restored(net, layers=[]):
        inputs = random_inputs(net, batch, seed=batch)
        for name, array in inputs.items():
            net.blobs[name].reshape(*array.shape)
        net.reshape()
        fc8 = net.forward(**inputs)["fc8"].copy()
        for name, array in inputs.items():
            opencv_deploy.setInput(array, name)
        pool5, pool5_p, reference = opencv_deploy.forward(["pool5", "pool5_p", "fc8-shapes"])
        scale = np.abs(reference).max()
        assert scale > 0
        np.testing.assert_allclose(fc8, reference.reshape(fc8.shape), rtol=1e-5, atol=1e-5 * scale)
        for ours, theirs in ((net.blobs["pool5"].data, pool5), (net.blobs["pool5_p"].data, pool5_p)):
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5 * np.abs(theirs).max())
        # the fc layers in float64 from Caffe's own concat blob (dropout: identity at test)
        h = net.blobs["pool5_concat"].data.reshape(batch, -1).astype(np.float64)
        for layer, relu in (("fc6-new", True), ("fc7-new", True), ("fc7-newb", True),
                            ("fc8-shapes", False)):
            w, b = (blob.data.astype(np.float64) for blob in net.params[layer])
            h = h @ w.T + b
            h = np.maximum(h, 0) if relu else h
        np.testing.assert_allclose(fc8, h.reshape(fc8.shape), rtol=1e-5, atol=1e-5 * scale)


# ----------------------------------------------------------------- OpenBLAS --
def cpu_flags() -> set:
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        return set()
    found = re.search(r"^flags\s*:(.*)$", text, re.M)
    return set(found.group(1).split()) if found else set()


def openblas_core_in_pycaffe(env: dict, first: str = "") -> str:
    """The kernel family of the OpenBLAS pycaffe runs on, in a fresh process that
    imports ``first`` before pycaffe."""
    code = (f"{first}from goturn_caffe.caffe_env import import_caffe; import_caffe(); import ctypes; "
            "f = ctypes.CDLL('libopenblas.so.0').openblas_get_corename; "
            "f.restype = ctypes.c_char_p; print(f().decode())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


def test_pycaffe_runs_openblas_kernels_for_this_cpu(caffe):
    if not {"avx2", "fma"} <= cpu_flags():
        pytest.skip("a CPU without AVX2: OpenBLAS's own choice stands")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    # cv2 first: the OpenCV wheel loads its own, older OpenBLAS; pycaffe's is still chosen
    for first in ("", "import cv2; "):
        core = openblas_core_in_pycaffe(env, first).lower()
        assert core not in ("prescott", "core2", "penryn", "nehalem", "sandybridge", "atom",
                            "katmai", "unknown"), (first, core)
    # a family the user names wins
    assert openblas_core_in_pycaffe(dict(env, OPENBLAS_CORETYPE="Nehalem")) == "Nehalem"


# ------------------------------------------------------------ the patch set --
CPU_FILES = sorted({edit.path for edit in patch_caffe.CPU_EDITS})


@pytest.mark.parametrize("tree", ["debian", "pypi"])
def test_cpu_edits_apply_once_to_each_tree(tree, tmp_path):
    tarball = DEBIAN_ORIG if tree == "debian" else SDIST
    if not tarball.exists():
        pytest.skip(f"{tarball} not downloaded (CAFFE_SOURCE={tree} make caffe fetches it)")
    root = unpack_edited_files(tarball, tmp_path)
    for edit in patch_caffe.CPU_EDITS:
        assert patch_caffe.apply_edit(root, edit) == "applied (1x)", edit.why
    snapshot = {path: (root / path).read_text() for path in CPU_FILES}
    for edit in patch_caffe.CPU_EDITS:
        assert patch_caffe.apply_edit(root, edit) == "not needed (already in this tree)", edit.why
    assert {path: (root / path).read_text() for path in CPU_FILES} == snapshot
    inner = snapshot["src/caffe/layers/inner_product_layer.cpp"]
    assert inner.count("caffe_cpu_gemv<Dtype>(transpose_") == 2 and inner.count("goturn_ger(") == 4
    assert "if (bottom_data[index] > top_data[pool_index])" not in snapshot["src/caffe/layers/pooling_layer.cpp"]
    assert "goturn_relu_forward(count, bottom_data, top_data" in snapshot["src/caffe/layers/relu_layer.cpp"]
    init = snapshot["python/caffe/__init__.py"]
    compile(init, "__init__.py", "exec")        # the inserted check is valid Python
    assert init.index("_goturn_openblas_coretype()\n") < init.index("from .pycaffe import")
    assert "$(WARNINGS) $(GOTURN_CXXFLAGS)" in snapshot["Makefile"]


def test_native_build_is_opt_in_and_keyed(tmp_path, monkeypatch):
    py = {"include": "/py/include", "numpy_include": "/np/include", "version": "311", "libdir": "/py/lib"}
    monkeypatch.delenv("CAFFE_NATIVE", raising=False)
    assert build_caffe.native_build() is False
    plain = build_caffe.makefile_config(py, None, None, tmp_path)
    assert "GOTURN_CXXFLAGS" not in plain
    monkeypatch.setenv("CAFFE_NATIVE", "1")
    assert build_caffe.native_build() is True
    native = build_caffe.makefile_config(py, None, None, tmp_path, native=True).splitlines()
    assert "GOTURN_CXXFLAGS := -O3 -march=native" in native
    flags = {"cuda": None, "python": "311", "deps_prefix": None, "with_python_layer": True,
             "blas": "openblas"}
    assert build_caffe.cache_key("sha256:x", "p", flags) != \
        build_caffe.cache_key("sha256:x", "p", dict(flags, native=True))
    monkeypatch.setenv("CAFFE_NATIVE", "yes")
    with pytest.raises(SystemExit, match="CAFFE_NATIVE"):
        build_caffe.native_build()
