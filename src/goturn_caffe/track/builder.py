"""The one place trackers are made, and every default they are made with.

``tools/track.py``, ``tools/eval_vot2014.py``, the TraX server, the benchmarks
and the ablations (through :func:`goturn_caffe.vot.evaluate.evaluate`) all call
:func:`build_tracker` (or :func:`build_batch_tracker`), so an option means the
same thing in every one of them:

- ``name``: ``static``, ``kcf``, ``csrt`` (:mod:`goturn_caffe.track.reference`)
  or ``goturn``; the options below are for ``goturn`` only;
- ``model_format``: ``goturn`` (the authors' layout) or ``opencv`` (OpenCV's
  ``goturn.prototxt`` / ``goturn.caffemodel``, run by
  :mod:`goturn_caffe.track.opencv`);
- ``deploy``: default :func:`default_deploy` of the model format --
  ``prototxt/goturn_deploy.prototxt``, or OpenCV's architecture
  ``prototxt/opencv/goturn.prototxt``;
- ``weights``: default :func:`default_weights` of the model format --
  ``models/goturn.caffemodel``, or ``models/opencv/goturn.caffemodel``
  (where ``make model`` puts OpenCV's);
- ``gpu``: default None, the CPU; ``engine``: default ``default``
  (:data:`goturn_caffe.model.net.ENGINES`);
- ``finetune``: default False; True adds the paper's online fine-tuning
  (Appendix B, the authors' layout only);
- ``backend``: ``caffe`` (default, the reference) or ``onnxruntime`` (CPU): the
  same tracking code on an ONNX export of the weights, cached next to them
  (:mod:`goturn_caffe.model.onnx_backend`); ``weights`` may then also be an
  ``.onnx`` file.  No ``gpu``, ``engine`` or ``finetune`` with it.

pycaffe is imported only when a GOTURN tracker is built on the Caffe backend
(or its ONNX export has to be made).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

from goturn_caffe.caffe_env import select_device
from goturn_caffe.model.net import DEPLOY_PROTOTXT, OPENCV_DEPLOY, OPENCV_MODEL, TRAINED_MODEL, check_engine, load_net
from goturn_caffe.model.onnx_backend import check_backend, is_onnx_file
from goturn_caffe.track.base import BatchTracker, Tracker

TRACKER_NAMES = ("static", "kcf", "csrt", "goturn")
MODEL_FORMATS = ("goturn", "opencv")
# per model format: (inputs the net must take, an input it may lack, output)
NET_IO = {"goturn": (("image",), ("target",), "fc8"), "opencv": (("data1", "data2"), (), "out")}


def default_deploy(model_format: str = "goturn") -> Path:
    """The deploy prototxt a model format loads when none is given."""
    check_model_format(model_format)
    return OPENCV_DEPLOY if model_format == "opencv" else DEPLOY_PROTOTXT


def default_weights(model_format: str = "goturn") -> Path:
    """The weights file a model format loads when none is given."""
    check_model_format(model_format)
    return OPENCV_MODEL if model_format == "opencv" else TRAINED_MODEL


def check_model_format(model_format: str) -> None:
    if model_format not in MODEL_FORMATS:
        raise ValueError(f"unknown model format {model_format!r} ({' or '.join(MODEL_FORMATS)})")


def load_tracking_net(deploy=None, weights=None, gpu: Optional[int] = None,
                      model_format: str = "goturn", engine: str = "default",
                      random_weights: bool = False, backend: str = "caffe"):
    """The deploy net a GOTURN tracker runs, on the chosen device and engine, or
    on onnxruntime (``backend``; an object with the input blobs and ``forward()``
    of a ``caffe.Net``).

    ``deploy`` / ``weights`` None: the defaults (module doc); ``random_weights``:
    Caffe's filler values instead of a weights file (for speed measurements:
    the boxes then mean nothing).  ModelError naming the file on a bad prototxt
    or weights file; ValueError on an engine this build or device cannot run.
    """
    check_backend(backend)
    if random_weights and weights is not None:
        raise ValueError("weights given together with random_weights")
    deploy = Path(deploy) if deploy is not None else default_deploy(model_format)
    if not random_weights:
        weights = Path(weights) if weights is not None else default_weights(model_format)
    if backend == "onnxruntime":
        return _load_onnx_net(deploy, weights, gpu, model_format, engine)
    if is_onnx_file(weights):
        raise ValueError(f"{weights}: an ONNX file runs on --backend onnxruntime, not on Caffe")
    check_engine(engine, gpu)
    select_device(gpu)
    return load_net(deploy, weights, engine=engine)


def _load_onnx_net(deploy: Path, weights, gpu, model_format: str, engine: str):
    """The onnxruntime net of :func:`load_tracking_net`: ``weights`` an ONNX file,
    a .caffemodel (its cached export), or None (Caffe's fillers, exported in memory)."""
    from goturn_caffe.model import onnx_backend

    if gpu is not None:
        raise ValueError("the onnxruntime backend runs on the CPU: drop --gpu, or use "
                         "--backend caffe")
    if engine != "default":
        raise ValueError(f"--engine {engine} chooses Caffe's layer implementations; the "
                         "onnxruntime backend has none to choose (leave --engine default)")
    if weights is None:
        select_device(None)
        net = onnx_backend.net_to_onnx_net(load_net(deploy), deploy)
    elif is_onnx_file(weights):
        net = onnx_backend.load_onnx_file(weights)
    else:   # the first run on these weights exports them (seconds to a minute): say so
        net = onnx_backend.cached_export(deploy, weights,
                                         log=lambda line: print(line, file=sys.stderr, flush=True))
    inputs, optional, output = NET_IO[model_format]
    onnx_backend.check_io(net, inputs, output, weights if weights is not None else deploy, optional)
    return net


def build_tracker(name: str = "goturn", deploy=None, weights=None, gpu: Optional[int] = None,
                  model_format: str = "goturn", engine: str = "default",
                  finetune: bool = False, backend: str = "caffe") -> Tracker:
    """A fresh :class:`~goturn_caffe.track.base.Tracker` by name (see ``TRACKER_NAMES``
    and the module doc for the options and their defaults)."""
    if name not in TRACKER_NAMES:
        raise ValueError(f"unknown tracker {name!r}: choose one of {', '.join(TRACKER_NAMES)}")
    if name == "static":
        from goturn_caffe.track.reference import StaticTracker

        return StaticTracker()
    if name in ("kcf", "csrt"):
        from goturn_caffe.track.reference import OpenCVTracker, opencv_constructor

        return OpenCVTracker(opencv_constructor(name))
    check_model_format(model_format)
    if finetune and model_format != "goturn":
        raise ValueError("online fine-tuning needs the authors' model layout (--model-format goturn)")
    check_backend(backend)
    if finetune and backend != "caffe":
        raise ValueError("online fine-tuning trains the net with Caffe: it needs --backend caffe")
    net = load_tracking_net(deploy, weights, gpu, model_format, engine, backend=backend)
    if model_format == "opencv":
        from goturn_caffe.track.opencv import OpenCVGoturnTracker

        return OpenCVGoturnTracker(net)
    from goturn_caffe.track.goturn import GoturnTracker

    tracker = GoturnTracker(net)
    if finetune:
        from goturn_caffe.track.finetune import OnlineFinetuningTracker

        return OnlineFinetuningTracker(tracker)
    return tracker


def build_batch_tracker(deploy=None, weights=None, gpu: Optional[int] = None,
                        engine: str = "default", random_weights: bool = False,
                        backend: str = "caffe") -> BatchTracker:
    """A :class:`~goturn_caffe.track.base.BatchTracker` (GOTURN, the authors' layout)
    with the same defaults as :func:`build_tracker`; ``random_weights`` as in
    :func:`load_tracking_net`."""
    from goturn_caffe.track.goturn import BatchedTracker

    return BatchedTracker(load_tracking_net(deploy, weights, gpu, "goturn", engine, random_weights,
                                            backend))


def build_targets_tracker(deploy=None, weights=None, gpu: Optional[int] = None,
                          model_format: str = "goturn", engine: str = "default",
                          finetune: bool = False, backend: str = "caffe") -> BatchTracker:
    """A :class:`~goturn_caffe.track.base.BatchTracker` for the targets of one video,
    with :func:`build_tracker`'s options: the authors' layout runs
    :class:`~goturn_caffe.track.goturn.BatchedTracker` (one forward of batch N per
    frame); OpenCV's runs one of its trackers per target on one shared net; online
    fine-tuning (which changes the net's weights) follows one target only."""
    from goturn_caffe.track.base import PerTargetTrackers

    check_model_format(model_format)
    if finetune:
        tracker = build_tracker("goturn", deploy, weights, gpu, model_format, engine, finetune=True,
                                backend=backend)
        return PerTargetTrackers(lambda: tracker, max_size=1)
    if model_format == "opencv":
        from goturn_caffe.track.opencv import OpenCVGoturnTracker

        net = load_tracking_net(deploy, weights, gpu, model_format, engine, backend=backend)
        return PerTargetTrackers(lambda: OpenCVGoturnTracker(net))
    return build_batch_tracker(deploy, weights, gpu, engine, backend=backend)
