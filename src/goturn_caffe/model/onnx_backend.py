"""Running the deploy net with onnxruntime instead of Caffe (``--backend onnxruntime``).

The trackers use a small part of ``caffe.Net``: the input blobs
(``net.blobs[name].data``, ``reshape``) and ``net.forward()`` returning
``{output name: array}``.  :class:`FeedNet` is that part over any function
from inputs to outputs, and :class:`OnnxNet` is it over an onnxruntime
``InferenceSession``, so the same tracking code (crops, preprocessing, box
decoding) runs on either backend and gives the same boxes.

The session runs the net's ONNX export (:mod:`goturn_caffe.model.onnx_export`,
batch dimension symbolic, so any number of targets).  :func:`cached_export`
keeps it next to the weights, ``<weights>.onnx``, or where that folder cannot
be written in the user cache (``~/.cache/goturn-caffe/onnx``).  The export
records the SHA-256 of the weights, of the deploy prototxt and of the exporter
in its own metadata; a cache whose record differs (new weights, another
prototxt, a changed exporter) or that does not load is exported again.
Making the export reads the ``.caffemodel`` through pycaffe; running it does
not, so a machine with a valid cache, or given an exported ``.onnx`` file as
weights, tracks without Caffe.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from goturn_caffe.caffe_env import CaffeUnavailable
from goturn_caffe.fileio import cached_digest, file_digest
from goturn_caffe.model.net import ModelError

BACKENDS = ("caffe", "onnxruntime")
ONNX_SUFFIX = ".onnx"
# keys of the export's metadata_props that say what it was made from
RECORD_KEYS = ("goturn_caffe.weights_sha256", "goturn_caffe.deploy_sha256",
               "goturn_caffe.exporter_sha256")


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")


def is_onnx_file(path) -> bool:
    return path is not None and Path(path).suffix.lower() == ONNX_SUFFIX


class InputBlob:
    """An input of a :class:`FeedNet`: ``data`` (float32) and ``reshape(*shape)``, as a Caffe blob."""

    def __init__(self, shape):
        self.data = np.zeros(shape, np.float32)

    def reshape(self, *shape) -> None:
        if tuple(shape) != self.data.shape:
            self.data = np.zeros(shape, np.float32)


class FeedNet:
    """The part of ``caffe.Net`` the trackers use -- ``blobs`` (the inputs only),
    ``inputs``, ``outputs`` and ``forward() -> {output: array}`` -- over
    ``run({input name: array}) -> {output name: array}``."""

    def __init__(self, run: Callable[[dict], dict], input_shapes: dict, outputs):
        self._run = run
        self.inputs = list(input_shapes)
        self.outputs = list(outputs)
        self.blobs = {name: InputBlob(shape) for name, shape in input_shapes.items()}

    def forward(self) -> dict:
        return self._run({name: self.blobs[name].data for name in self.inputs})


def onnx_session(model, threads: Optional[int] = None):
    """An onnxruntime CPU ``InferenceSession`` on ``model`` (a file's path, or its
    bytes); ``threads``: intra-op threads (default onnxruntime's, the physical cores)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = int(threads)
    model = model if isinstance(model, bytes) else str(model)
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


class OnnxNet(FeedNet):
    """:class:`FeedNet` over an onnxruntime session; inputs start at batch 1."""

    def __init__(self, session, source: str = "the ONNX model"):
        self.session = session
        shapes = {}
        for spec in session.get_inputs():
            spatial = spec.shape[1:]
            if not spec.shape or not all(isinstance(d, int) and d > 0 for d in spatial):
                raise ModelError(f"{source}: input {spec.name} has shape {spec.shape}; "
                                 "a fixed (batch, C, H, W) is needed")
            shapes[spec.name] = (1, *spatial)
        names = [spec.name for spec in session.get_outputs()]
        super().__init__(lambda feed: dict(zip(names, session.run(names, feed))), shapes, names)

    @property
    def metadata(self) -> dict:
        return dict(self.session.get_modelmeta().custom_metadata_map)


def load_onnx_file(path, threads: Optional[int] = None) -> OnnxNet:
    """:class:`OnnxNet` on the ONNX file ``path`` (ModelError naming it when onnxruntime cannot load it)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such ONNX file")
    try:
        session = onnx_session(path, threads)
    except (ImportError, MemoryError):
        raise
    except Exception as exc:   # onnxruntime's own exception types
        raise ModelError(f"{path}: not an ONNX model onnxruntime can run ({exc})") from None
    return OnnxNet(session, str(path))


def check_io(net: FeedNet, inputs, output: str, source, optional=()) -> None:
    """ModelError naming ``source`` unless ``net`` takes ``inputs`` (and perhaps
    ``optional`` ones: the paper's current-frame-only net has no target input)
    and gives ``output``."""
    if output not in net.outputs or not set(inputs) <= set(net.inputs) or \
            not set(net.inputs) <= set(inputs) | set(optional):
        raise ModelError(f"{source}: takes {', '.join(net.inputs)} and gives "
                         f"{', '.join(net.outputs)}; this tracker needs "
                         f"{' and '.join((*optional, *inputs))} -> {output} (another --model-format?)")


# ------------------------------------------------------------------ the cache --
def export_record(deploy, weights) -> dict:
    """What an export of ``deploy`` + ``weights`` is made from: the SHA-256 of each
    and of the exporter's source (a fixed exporter makes the cache stale)."""
    from goturn_caffe.model import onnx_export

    return dict(zip(RECORD_KEYS, (cached_digest(weights), file_digest(deploy),
                                  file_digest(onnx_export.__file__))))


def cache_path(weights, record: dict) -> Path:
    """``<weights>.onnx`` beside the weights, else (an unwritable folder) the user
    cache's ``onnx/<weights digest>.onnx``."""
    weights = Path(weights)
    if os.access(weights.parent, os.W_OK):
        return weights.with_name(weights.name + ONNX_SUFFIX)
    from goturn_caffe.paths import user_cache_dir

    return user_cache_dir() / "onnx" / f"{record[RECORD_KEYS[0]][:32]}{ONNX_SUFFIX}"


def _load_if_current(path: Path, record: dict, threads) -> Optional[OnnxNet]:
    """The cached export at ``path`` when it loads and was made from ``record``; else None."""
    if not path.is_file():
        return None
    try:
        net = load_onnx_file(path, threads)
    except ModelError:
        return None
    return net if all(net.metadata.get(k) == v for k, v in record.items()) else None


@contextmanager
def _export_lock(path: Path):
    """One exporter at a time for ``path`` (parallel evaluation workers start together)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def export_for(deploy, weights, output, record: dict) -> Path:
    """Export ``deploy`` + ``weights`` to ``output`` with ``record`` in its metadata
    (CaffeUnavailable in one line when pycaffe is missing)."""
    from goturn_caffe.model.onnx_export import export_onnx

    try:
        net = export_onnx(deploy, weights, output, metadata=record)
    except CaffeUnavailable:
        raise CaffeUnavailable(
            f"{weights}: the onnxruntime backend runs an ONNX export of these weights, and "
            f"making it ({output}) needs pycaffe (`make caffe`); or give an exported .onnx "
            "file as the weights (tools/export_onnx.py on a machine with Caffe)") from None
    del net
    return Path(output)


def cached_export(deploy, weights, threads: Optional[int] = None, log=None) -> OnnxNet:
    """:class:`OnnxNet` on the export of ``deploy`` + ``weights``, from the cache
    when it is current, else exported again into it first (module doc)."""
    deploy, weights = Path(deploy), Path(weights)
    for path, what in ((deploy, "prototxt"), (weights, "weights file")):
        if not path.is_file():
            raise ModelError(f"{path}: no such {what}")
    record = export_record(deploy, weights)
    path = cache_path(weights, record)
    net = _load_if_current(path, record, threads)
    if net is not None:
        return net
    with _export_lock(path):
        net = _load_if_current(path, record, threads)   # another process may have made it
        if net is None:
            if log is not None:
                log(f"exporting {weights} to ONNX for onnxruntime, once: {path}")
            export_for(deploy, weights, path, record)
            net = load_onnx_file(path, threads)
    return net


def net_to_onnx_net(net, deploy, threads: Optional[int] = None) -> OnnxNet:
    """:class:`OnnxNet` on a loaded ``caffe.Net``'s weights, exported in memory (no cache)."""
    from goturn_caffe.model.net import read_net_prototxt
    from goturn_caffe.model.onnx_export import net_to_onnx

    model = net_to_onnx(net, read_net_prototxt(deploy)).SerializeToString()
    return OnnxNet(onnx_session(model, threads), str(deploy))
