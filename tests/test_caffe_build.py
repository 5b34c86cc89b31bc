"""The foundation: Caffe built from source, with pycaffe and Python layers."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import REPO_ROOT

PYTHON_LAYER_NET = """
name: "python_layer_check"
force_backward: true
layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 dim: 4 dim: 5 } } }
layer { name: "sq" type: "Python" bottom: "x" top: "y"
        python_param { module: "caffe_test_layers" layer: "ScaledSquare" param_str: '{"scale": 1.5}' } }
layer { name: "loss" type: "Reduction" bottom: "y" top: "loss" loss_weight: 1
        reduction_param { operation: SUM } }
"""

TINY_REGRESSION_NET = """
name: "tiny"
layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 16 dim: 3 } } }
layer { name: "t" type: "Input" top: "t" input_param { shape { dim: 16 dim: 1 } } }
layer { name: "fc" type: "InnerProduct" bottom: "x" top: "y"
        inner_product_param { num_output: 1 weight_filler { type: "constant" value: 0 } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "y" bottom: "t" top: "loss" }
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_pycaffe_imports_from_our_build(caffe):
    from goturn_caffe.caffe_env import build_info

    info = build_info(caffe)
    assert info is not None, "pycaffe does not come from a goturn-caffe build"
    assert info["flags"]["with_python_layer"]
    assert info["checksum"].startswith(("sha256:", "git:", "sha256-cpp:"))
    assert hasattr(caffe, "SGDSolver") and hasattr(caffe, "Layer")


def test_python_layer_forward_backward_matches_numeric_gradient(caffe, tmp_path):
    net = caffe.Net(write(tmp_path, "py.prototxt", PYTHON_LAYER_NET), caffe.TRAIN)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
    net.blobs["x"].data[...] = x
    loss = float(net.forward()["loss"])
    assert loss == pytest.approx(1.5 * float((x.astype(np.float64) ** 2).sum()), rel=1e-5)
    net.backward()
    analytic = net.blobs["x"].diff.copy()
    # central differences on a few coordinates (float32 forward: eps 1e-2)
    eps = 1e-2
    for idx in [(0, 0, 0, 0), (1, 2, 3, 4), (0, 1, 2, 3), (1, 0, 3, 1)]:
        for sign, store in ((1, "plus"), (-1, "minus")):
            xx = x.copy()
            xx[idx] += sign * eps
            net.blobs["x"].data[...] = xx
            if store == "plus":
                plus = float(net.forward()["loss"])
            else:
                minus = float(net.forward()["loss"])
        numeric = (plus - minus) / (2 * eps)
        assert analytic[idx] == pytest.approx(numeric, rel=1e-2, abs=1e-2)
        assert analytic[idx] == pytest.approx(3.0 * x[idx], rel=1e-6)


def test_sgd_solver_reduces_the_loss(caffe, tmp_path):
    net_path = write(tmp_path, "tiny.prototxt", TINY_REGRESSION_NET)
    solver_path = write(tmp_path, "solver.prototxt",
                        f'net: "{net_path}"\nbase_lr: 0.1\nmomentum: 0.9\nlr_policy: "fixed"\n'
                        'max_iter: 100\ndisplay: 0\nsnapshot_after_train: false\n')
    solver = caffe.SGDSolver(solver_path)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    target = (x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)).astype(np.float32)
    solver.net.blobs["x"].data[...] = x
    solver.net.blobs["t"].data[...] = target
    first = float(solver.net.forward()["loss"])
    for _ in range(50):
        solver.net.blobs["x"].data[...] = x
        solver.net.blobs["t"].data[...] = target
        solver.step(1)
    last = float(solver.net.forward()["loss"])
    assert first > 0.5
    assert last < 0.01 * first


def test_caffemodel_over_256mb_round_trips(caffe, tmp_path):
    # 8200 x 8200 floats = 269 MB of weights: past protobuf's old 256 MB default
    # limit, which the patch set lifts.
    net_text = """
    layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 1 dim: 8200 } } }
    layer { name: "big" type: "InnerProduct" bottom: "x" top: "y"
            inner_product_param { num_output: 8200 bias_term: false
                                  weight_filler { type: "uniform" min: -1 max: 1 } } }
    """
    proto = write(tmp_path, "big.prototxt", net_text)
    net = caffe.Net(proto, caffe.TEST)
    weights = net.params["big"][0].data
    checksum = float(weights[::97, ::89].sum())
    model = tmp_path / "big.caffemodel"
    net.save(str(model))
    assert model.stat().st_size > 256 * 1024 * 1024
    corner = weights[:5, :5].copy()
    del net, weights
    loaded = caffe.Net(proto, caffe.TEST, weights=str(model))
    assert np.array_equal(loaded.params["big"][0].data[:5, :5], corner)
    assert float(loaded.params["big"][0].data[::97, ::89].sum()) == checksum


def test_second_build_reuses_the_cache():
    start = time.time()
    out = subprocess.run([sys.executable, str(REPO_ROOT / "caffe_build" / "build_caffe.py"),
                          "--venv", sys.prefix], capture_output=True, text=True,
                         env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    assert "reusing cached build" in out.stdout
    assert "compiling" not in out.stdout
    assert time.time() - start < 60


@pytest.mark.parametrize("has_data_filter", [True, False])
def test_source_tarballs_extract_safely_with_or_without_tarfiles_filter(has_data_filter, tmp_path,
                                                                      monkeypatch):
    """Debian 12's own Python 3.11.2 has no ``tarfile.data_filter`` (3.11.4 added it): the
    set-up must unpack there too, with the same refusals."""
    import io
    import tarfile

    monkeypatch.syspath_prepend(str(REPO_ROOT / "caffe_build"))
    import build_caffe

    if not has_data_filter:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)

    def tarball(name, members):
        path = tmp_path / name
        with tarfile.open(path, "w") as tar:
            for member_name, kind, target in members:
                info = tarfile.TarInfo(member_name)
                if kind == "file":
                    data = b"int main() {}\n"
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
                else:
                    info.type, info.linkname = tarfile.SYMTYPE, target
                    tar.addfile(info)
        return path

    good = tarball("good.tar", [("caffe/src/a.cpp", "file", None),
                                ("caffe/src/b.cpp", "link", "a.cpp")])
    with tarfile.open(good) as tar:
        build_caffe.extract_tar(tar, tmp_path / "out")
    assert (tmp_path / "out" / "caffe" / "src" / "b.cpp").read_text() == "int main() {}\n"
    for name, members in [("climb.tar", [("../evil.cpp", "file", None)]),
                          ("link.tar", [("caffe/passwd", "link", "/etc/passwd")]),
                          ("uplink.tar", [("caffe/x", "link", "../../outside")])]:
        with tarfile.open(tarball(name, members)) as tar:
            with pytest.raises((SystemExit, tarfile.TarError)):
                build_caffe.extract_tar(tar, tmp_path / f"out_{name}")
    assert not (tmp_path / "evil.cpp").exists()
