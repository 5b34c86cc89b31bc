"""Shared test fixtures.  Real data comes from the shared data folder when it is
there (GOTURN_SHARED_DATA, default ../shared/data beside the repository);
tests that need it skip, or use fixtures they write, when it is absent."""

import os
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # test-only Caffe Python layers


def shared_data_dir() -> Path:
    return Path(os.environ.get("GOTURN_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    root = shared_data_dir()
    if not root.is_dir():
        pytest.skip(f"shared data folder {root} not present")
    return root


@pytest.fixture(scope="session")
def caffe():
    from goturn_caffe.caffe_env import import_caffe

    return import_caffe()


@pytest.fixture(scope="session")
def opencv_model(caffe, tmp_path_factory):
    """OpenCV's architecture with random weights saved by pycaffe, made once per
    session (a 400 MB file): ``(net, folder)``, the folder holding goturn.caffemodel
    and goturn.prototxt.  fc8's bias is set by centre_box_bias, so the boxes stay
    sensible and still depend on the weights."""
    import shutil

    from goturn_caffe.model.net import OPENCV_DEPLOY, load_net
    from goturn_caffe.track.opencv import centre_box_bias

    net = load_net(OPENCV_DEPLOY)
    centre_box_bias(net)
    folder = tmp_path_factory.mktemp("opencv_goturn")
    net.save(str(folder / "goturn.caffemodel"))
    shutil.copy(OPENCV_DEPLOY, folder / "goturn.prototxt")
    return net, folder


# ---- the GOTURN deploy net, built once per session ------------------------------------
def _fingerprint(net) -> dict:
    """A cheap digest of every weight blob (a strided sample's sum and the first values)."""
    return {(name, i): (float(blob.data.ravel()[::1009].sum(dtype=np.float64)),
                        blob.data.ravel()[:8].tobytes())
            for name, blobs in net.params.items() for i, blob in enumerate(blobs)}


@pytest.fixture(scope="session")
def deploy_net_once(caffe):
    """The GOTURN deploy net with Caffe's random filler weights, shared by the whole
    session (building it takes a second and 450 MB).  Module fixtures that only read
    or save its weights may use it directly; tests take :func:`deploy_net`."""
    from goturn_caffe.model.net import DEPLOY_PROTOTXT, load_net

    return load_net(DEPLOY_PROTOTXT)


@pytest.fixture
def deploy_net(deploy_net_once):
    """The session's deploy net, with batch-1 inputs.  A test may change its weights
    or batch size only inside ``with restored(net, layers):``; a test that leaves
    the weights changed fails here rather than corrupting the tests after it."""
    net = deploy_net_once
    _set_batch(net, 1)
    before = _fingerprint(net)
    yield net
    changed = sorted({key[0] for key, value in _fingerprint(net).items() if before[key] != value})
    _set_batch(net, 1)
    assert not changed, f"the test left the shared deploy net's weights changed: {changed}"


def _set_batch(net, n: int) -> None:
    if any(net.blobs[name].data.shape[0] != n for name in net.inputs):
        for name in net.inputs:
            net.blobs[name].reshape(n, *net.blobs[name].data.shape[1:])
        net.reshape()


@contextmanager
def restored(net, layers=None):
    """Put the weights of ``layers`` (default: every layer) of a shared net back, and
    its inputs' batch size, when the block ends."""
    names = list(net.params) if layers is None else list(layers)
    saved = {name: [blob.data.copy() for blob in net.params[name]] for name in names}
    batch = net.blobs[net.inputs[0]].data.shape[0]
    try:
        yield net
    finally:
        for name, values in saved.items():
            for blob, value in zip(net.params[name], values):
                blob.data[...] = value
        _set_batch(net, batch)


@pytest.fixture(scope="session")
def toolkit_vot(tmp_path_factory) -> Path:
    """A small VOT dataset for the official-toolkit comparisons, always available: the
    bundled car excerpt plus generated VOT2016 and VOT2015 style sequences with rotated
    polygons (see vot_fixtures.write_toolkit_dataset)."""
    from vot_fixtures import write_toolkit_dataset

    root = tmp_path_factory.mktemp("toolkit_vot") / "vot"
    return write_toolkit_dataset(root, REPO_ROOT / "data" / "sample" / "vot" / "car")


def load_tool(name: str):
    """``tools/<name>.py`` as a module (the tools are scripts, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"tool_{name}", REPO_ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", params=["bundled", "shared"])
def vot_root(request, toolkit_vot):
    """The bundled toolkit dataset, always; the shared VOT subset where present."""
    if request.param == "bundled":
        return toolkit_vot
    root = shared_data_dir() / "vot"
    if not root.is_dir():
        pytest.skip(f"shared data {root} not present (the bundled dataset ran instead)")
    return root
