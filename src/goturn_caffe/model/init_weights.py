"""GOTURN's initial weights: ImageNet CaffeNet convolutions in both streams.

The authors started training from ``tracker_init.caffemodel`` (its link is
dead): bvlc_reference_caffenet's conv1..conv5 in the target stream
(``conv1``..``conv5``) and again in the image stream (``conv1_p``..``conv5_p``),
the fully connected layers drawn from their fillers.  :func:`make_init_weights`
rebuilds that file from the CaffeNet model of the Caffe model zoo, which
:func:`download_caffenet` fetches and checks against its published SHA-1.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from goturn_caffe.caffe_env import import_caffe
from goturn_caffe.fileio import atomic_path, file_digest
from goturn_caffe.model.fetch import (
    CAFFENET_FILENAME,
    CAFFENET_SHA1,
    MODELS,
    Unreachable,
    default_cache_dir,
    fetch_file,
    file_url,
)
from goturn_caffe.model.net import (
    DEPLOY_PROTOTXT,
    INIT_MODEL,
    ModelError,
    check_fit,
    copy_layers,
    parameter_count,
    read_caffemodel,
)
from goturn_caffe.model.netspec import CONV_SHAPES, SOLVER

CAFFENET_URL = file_url(MODELS["caffenet"].files[0])  # the Caffe model zoo's
CONV_LAYERS = tuple(CONV_SHAPES)     # conv1..conv5, CaffeNet's names and the target stream's
STREAM_SUFFIXES = ("", "_p")          # target stream, image stream
# The fc fillers' draws: any fixed seed makes the file reproducible; this is
# the authors' solver seed.
DEFAULT_SEED = SOLVER["random_seed"]


def verify_sha1(path, expected: str = CAFFENET_SHA1, source=None) -> None:
    """ModelError unless the SHA-1 of the file ``path`` is ``expected`` (hex);
    the message names ``source`` (e.g. the URL it came from), else ``path``."""
    actual = file_digest(path, "sha1")
    if actual != expected.lower():
        raise ModelError(f"{source or path}: SHA-1 is {actual}, expected {expected} (the "
                         f"published {CAFFENET_FILENAME}); a different or damaged file")


def download_caffenet(cache_dir=None, url: str = CAFFENET_URL, expected_sha1: str = CAFFENET_SHA1,
                      timeout: float = 30.0, progress: bool = True) -> Path:
    """The CaffeNet model in ``cache_dir`` (default :func:`default_cache_dir`),
    downloaded from ``url`` unless a copy with the right SHA-1 is already there.

    The download (:func:`goturn_caffe.model.fetch.fetch_file`, as ``make model``)
    goes to a hidden partial file that a later call resumes, is checked, then
    renamed: the cache never holds an unverified model under its name.
    ModelError when the download fails (no network: the message says to pass
    ``--caffenet``) or the file is not the published one (it is deleted).
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    try:
        return fetch_file(url, cache_dir / CAFFENET_FILENAME, sha1=expected_sha1, timeout=timeout,
                          progress=progress)
    except Unreachable as exc:
        raise ModelError(f"{url}: download failed ({exc.reason}). Without internet access, fetch "
                         f"{CAFFENET_FILENAME} (SHA-1 {expected_sha1}) elsewhere and pass "
                         "--caffenet PATH") from None


def make_init_weights(caffenet, output=INIT_MODEL, seed: int = DEFAULT_SEED) -> Path:
    """Write GOTURN's initial weights to ``output`` and return its path.

    conv1..conv5 (weights and biases) of the CaffeNet model ``caffenet`` are
    copied into both streams of the deploy net (``prototxt/goturn_deploy.prototxt``,
    whose weighted layers are the training net's); the fc layers keep the
    values of their fillers, drawn by Caffe seeded with ``seed`` (same seed,
    same file).  Nothing of CaffeNet's own fc6..fc8 is used.  The file is
    written to a hidden ``.partial`` file beside ``output``, then renamed.
    ModelError when ``caffenet`` lacks a CaffeNet convolution or has one of
    another shape, or when ``output`` cannot be written.
    """
    caffe = import_caffe()
    caffenet, output = Path(caffenet), Path(output)
    model = read_caffemodel(caffenet)
    caffe.set_random_seed(seed)
    net = caffe.Net(str(DEPLOY_PROTOTXT), caffe.TEST)
    check_fit(net, str(DEPLOY_PROTOTXT), model, caffenet, require_all=True, only=CONV_LAYERS)
    copy_layers(net, model, CONV_LAYERS, STREAM_SUFFIXES)
    del model  # the parsed CaffeNet (~240 MB) is not needed while saving
    _save_atomically(net, output)
    return output


def _save_atomically(net, output: Path) -> None:
    """``net.save`` to ``output`` through a temporary file; checks first what would
    make Caffe abort (an unwritable folder) or leave a stub (a full disk)."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"{output}: cannot create its folder ({exc.strerror})") from None
    if not os.access(output.parent, os.W_OK):
        raise ModelError(f"{output}: its folder is not writable")
    needed = 4 * parameter_count(net) + (16 << 20)  # float32 values plus the protobuf framing
    free = shutil.disk_usage(output.parent).free
    if free < needed:
        raise ModelError(f"{output}: {free >> 20} MiB free, the model needs {needed >> 20} MiB")
    with atomic_path(output) as partial:
        net.save(str(partial))
