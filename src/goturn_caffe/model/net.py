"""The Caffe net: where prototxts and weights live, and loading them safely.

Caffe aborts the whole process (glog ``CHECK``) on a weights file that does
not fit its net.  :func:`load_net` checks the file first, in Python, and raises
a :class:`ModelError` naming the file and the layer instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from goturn_caffe.caffe_env import import_caffe
from goturn_caffe.paths import REPO_ROOT

PROTOTXT_DIR = REPO_ROOT / "prototxt"
MODELS_DIR = REPO_ROOT / "models"
TRAIN_PROTOTXT = PROTOTXT_DIR / "goturn_train.prototxt"
DEPLOY_PROTOTXT = PROTOTXT_DIR / "goturn_deploy.prototxt"
SOLVER_PROTOTXT = PROTOTXT_DIR / "goturn_solver.prototxt"
TRAINED_MODEL = MODELS_DIR / "goturn.caffemodel"
INIT_MODEL = MODELS_DIR / "goturn_init.caffemodel"
# OpenCV's architecture (--model-format opencv) and where `make model` puts its trained
# weights, with OpenCV's own goturn.prototxt beside them.
OPENCV_DEPLOY = PROTOTXT_DIR / "opencv" / "goturn.prototxt"
OPENCV_MODEL = MODELS_DIR / "opencv" / "goturn.caffemodel"
# The short demonstration model `make demo` trains on the bundled sample (not the paper's model).
DEMO_MODEL = MODELS_DIR / "demo" / "goturn_DEMONSTRATION_ONLY.caffemodel"


class ModelError(ValueError):
    """A prototxt or weights file that cannot be used; the message names the file."""


def _caffe_pb2():
    return import_caffe().proto.caffe_pb2


def read_net_prototxt(path) -> object:
    """Parse a net prototxt into a NetParameter (ModelError on a bad file)."""
    from google.protobuf import text_format

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such prototxt")
    param = _caffe_pb2().NetParameter()
    try:
        text_format.Merge(path.read_text(), param)
    except text_format.ParseError as exc:
        raise ModelError(f"{path}: not a valid net prototxt ({exc})") from None
    return param


def read_caffemodel(path) -> object:
    """Parse a binary ``.caffemodel`` into a NetParameter (ModelError on a bad file)."""
    from google.protobuf.message import DecodeError

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such weights file")
    data = path.read_bytes()
    param = _caffe_pb2().NetParameter()
    try:
        param.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise ModelError(f"{path}: not a Caffe model, or truncated ({len(data)} bytes): "
                         f"{exc}") from None
    layers = list(param.layer) or list(param.layers)
    if not any(layer.blobs for layer in layers):
        raise ModelError(f"{path}: holds no weights (not a .caffemodel, or a truncated one)")
    return param


def blob_shape(blob) -> tuple:
    """Shape of a BlobProto, from ``shape`` or the legacy num/channels/height/width."""
    if blob.HasField("shape"):
        return tuple(blob.shape.dim)
    return (blob.num, blob.channels, blob.height, blob.width)


def _same_shape(model_shape: tuple, net_shape: tuple) -> bool:
    # Legacy 4-D blobs carry leading 1s (an fc weight is 1x1xOxI); Caffe accepts them.
    if model_shape == net_shape:
        return True
    return len(model_shape) == 4 and len(net_shape) <= 4 and \
        model_shape[4 - len(net_shape):] == net_shape and \
        all(d == 1 for d in model_shape[:4 - len(net_shape)])


def _weighted_layers(model) -> dict:
    """``{layer name: LayerParameter}`` of the layers of a parsed model that hold weights
    (``layers``: the V1 format of old files such as bvlc_reference_caffenet)."""
    return {layer.name: layer for layer in (list(model.layer) or list(model.layers)) if layer.blobs}


def model_blob_shapes(model) -> dict:
    """``{layer name: [blob shapes]}`` of the layers of a parsed model that hold weights."""
    return {name: [blob_shape(b) for b in layer.blobs]
            for name, layer in _weighted_layers(model).items()}


def blob_value_count(blob) -> int:
    """How many values a BlobProto holds (Caffe reads ``double_data`` when it has any)."""
    return len(blob.double_data) or len(blob.data)


def copy_layers(net, model, names, suffixes=("",)) -> None:
    """Copy the blobs of layers ``names`` of a parsed ``model`` into ``net``'s layers
    ``name + suffix`` for each suffix (check them with :func:`check_fit` first).
    Values are read as Caffe reads them: ``double_data`` when a blob has any."""
    layers = _weighted_layers(model)
    for name in names:
        for idx, proto in enumerate(layers[name].blobs):
            values = np.asarray(proto.double_data if len(proto.double_data) else proto.data,
                                dtype=np.float32)
            for suffix in suffixes:
                blob = net.params[name + suffix][idx]
                blob.data[...] = values.reshape(blob.data.shape)


def check_fit(net, net_name: str, model, model_path, require_all: bool = True, *,
              allow_unused: bool = True, only=None) -> list:
    """Check that ``model`` fits ``net`` before Caffe would abort on it.

    Returns the names of the matched layers.  Raises ModelError when a layer
    has the wrong number or shapes of blobs or a blob holds fewer or more
    values than its shape (a file cut inside a layer), when no layer matches,
    with ``require_all`` when a layer of the net has no weights in the file,
    and without ``allow_unused`` when the file has weights for a layer the
    net lacks (a model trained with a different prototxt).  ``only`` (layer
    names) restricts the check to those layers of the net.
    """
    layers = _weighted_layers(model)
    shapes = model_blob_shapes(model)
    matched, missing = [], []
    wanted = set(net.params if only is None else only)
    for name, blobs in net.params.items():
        if name not in wanted:
            continue
        if name not in shapes:
            missing.append(name)
            continue
        expected = [tuple(b.data.shape) for b in blobs]
        found = shapes[name]
        if len(found) != len(expected):
            raise ModelError(f"{model_path}: layer {name} has {len(found)} blobs, "
                             f"{net_name} expects {len(expected)}")
        for idx, (got, want) in enumerate(zip(found, expected)):
            if not _same_shape(got, want):
                raise ModelError(f"{model_path}: layer {name} blob {idx} has shape {got}, "
                                 f"{net_name} expects {want}")
            values = blob_value_count(layers[name].blobs[idx])
            if values != int(np.prod(want)):
                raise ModelError(f"{model_path}: layer {name} blob {idx} holds {values} values "
                                 f"for shape {got} (a truncated or corrupt file)")
        matched.append(name)
    if not matched:
        raise ModelError(
            f"{model_path}: none of its layers ({', '.join(list(shapes)[:6])}...) are in "
            f"{net_name} ({', '.join(list(net.params)[:6])}...): not this network's layout"
            + (" (this looks like OpenCV's GOTURN model: use --model-format opencv)"
               if "conv11" in shapes else ""))
    if require_all and missing:
        raise ModelError(f"{model_path}: has no weights for layers {', '.join(missing)} of {net_name}")
    unused = [name for name in shapes if name not in net.params]
    if not allow_unused and unused:
        raise ModelError(f"{model_path}: has weights for layers {', '.join(unused)} that "
                         f"{net_name} does not have (trained with a different prototxt?)")
    return matched


# Caffe picks each layer's implementation by its ``engine`` field: DEFAULT means
# cuDNN in a cuDNN build (for convolution, pooling, LRN, ReLU, ...), CAFFE is
# Caffe's own (im2col + GEMM convolutions).  Which is faster depends on the batch:
# see docs/gpu.md.  A cuDNN layer needs a GPU even to be set up.
ENGINES = ("default", "caffe", "cudnn")
_ENGINE_LAYERS = {"Convolution": "convolution_param", "Pooling": "pooling_param",
                  "LRN": "lrn_param", "ReLU": "relu_param", "Sigmoid": "sigmoid_param",
                  "TanH": "tanh_param", "Softmax": "softmax_param"}


def set_engine(net_param, engine: str) -> int:
    """Set ``engine`` on every layer of ``net_param`` that has the choice; returns
    how many layers were set.  ``default`` leaves the prototxt's own choices."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    if engine == "default":
        return 0
    changed = 0
    for layer in net_param.layer:
        field_name = _ENGINE_LAYERS.get(layer.type)
        if field_name is not None:
            sub = getattr(layer, field_name)
            sub.engine = getattr(type(sub), engine.upper())
            changed += 1
    return changed


def check_engine(engine: str, gpu) -> None:
    """A clear error for an engine this build or device cannot run."""
    from goturn_caffe.caffe_env import caffe_has_cudnn

    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    if engine != "cudnn":
        return
    if not caffe_has_cudnn(import_caffe()):
        raise ValueError("engine cudnn asked for, but this Caffe build has no cuDNN "
                         "(rebuild with USE_CUDNN=1, see docs/gpu.md)")
    if gpu is None:
        raise ValueError("engine cudnn runs on a GPU only: add --gpu N")


def _net_from_param(caffe, param, phase):
    """``caffe.Net`` from a NetParameter (pycaffe reads nets from files only)."""
    import os
    import tempfile

    from google.protobuf import text_format

    with tempfile.NamedTemporaryFile("w", suffix=".prototxt", delete=False) as f:
        f.write(text_format.MessageToString(param))
    try:
        return caffe.Net(f.name, phase)
    finally:
        os.unlink(f.name)


def load_net(prototxt, weights=None, train: bool = False, require_all: bool = True,
             engine: str = "default"):
    """A ``caffe.Net`` from ``prototxt`` with ``weights`` checked and copied in.

    Without weights the net keeps its fillers' random values.  With
    ``require_all`` the file must hold exactly the net's weighted layers
    (none missing, none extra); otherwise the layers it shares with the net
    are copied and the rest keep their fillers.  ``engine`` (see ENGINES)
    overrides the layers' implementation choice.
    """
    caffe = import_caffe()
    prototxt = Path(prototxt)
    param = read_net_prototxt(prototxt)  # a clear error for a bad file, before Caffe sees it
    # A file that is no model at all fails here, before the net is built.
    model = read_caffemodel(weights) if weights is not None else None
    phase = caffe.TRAIN if train else caffe.TEST
    if set_engine(param, engine):
        net = _net_from_param(caffe, param, phase)
    else:
        net = caffe.Net(str(prototxt), phase)
    if model is not None:
        check_fit(net, str(prototxt), model, weights, require_all, allow_unused=not require_all)
        del model  # the parsed copy; Caffe reads the file itself
        net.copy_from(str(weights))
    return net


def parameter_count(net) -> int:
    return int(sum(np.prod(blob.data.shape) for blobs in net.params.values() for blob in blobs))
