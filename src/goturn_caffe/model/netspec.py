"""The GOTURN network, written once as a Caffe NetSpec; every prototxt in
``prototxt/`` is generated from here (``make prototxt``) and a test checks that
the checked-in files equal what this module produces.

Names, learning-rate multipliers, fillers and dropout ratios are the authors'
(``nets/tracker.prototxt`` of their release, see ``shared/REFERENCE.md``), so a
``.caffemodel`` trained with their file loads into ours layer for layer.
Variants of the paper's experiments are options of :class:`NetOptions`.

    python -m goturn_caffe.model.netspec --write prototxt     # regenerate
    python -m goturn_caffe.model.netspec --check prototxt     # exit 1 when out of sync
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from goturn_caffe.caffe_env import import_caffe
from goturn_caffe.config import AUTHORS
from goturn_caffe.fileio import write_text_atomic
from goturn_caffe.geometry.preprocess import INPUT_SIZE

DATA_LAYER_MODULE = "goturn_caffe.data_layer"  # the name users' prototxts carry; a re-export of train.data_layer
DATA_LAYER_CLASS = "GoturnDataLayer"

# CaffeNet conv1..conv5: (num_output, kernel, stride, pad, group, bias filler value)
CONV_SHAPES = {
    "conv1": (96, 11, 4, 0, 1, 0.0),
    "conv2": (256, 5, 1, 2, 2, 1.0),
    "conv3": (384, 3, 1, 1, 1, 0.0),
    "conv4": (384, 3, 1, 1, 2, 1.0),
    "conv5": (256, 3, 1, 1, 2, 1.0),
}
HIDDEN_FC = 4096
# Hidden fully connected layers in the authors' naming: (layer name, top).
# Three is GOTURN; the paper's Figure 16 also tries two and four.
FC_NAMES = [("fc6-new", "fc6"), ("fc7-new", "fc7"), ("fc7-newb", "fc7b"), ("fc7-newc", "fc7c")]
DROPOUT_RATIO = 0.5


@dataclass(frozen=True)
class NetOptions:
    """One point in the space of the paper's network variants."""

    loss: str = "l1"                 # "l1" (GOTURN) or "l2" (Table 1 ablation)
    current_frame_only: bool = False  # Figure 7: no target stream
    fc_layers: int = 3               # hidden 4096-wide fc layers: 2, 3 (GOTURN) or 4
    train_conv: bool = False         # convolutions trainable (training without ImageNet weights)
    # Training net only: the target stream runs once per distinct target crop of
    # the batch and a BatchReindex layer broadcasts its pool5 to the examples
    # (see build_net).  Off here, so the checked-in prototxts are the authors'
    # net; training turns it on where it is exact (see ``dedup_exact``).
    dedup_targets: bool = False
    batch_size: int = AUTHORS.batch_size   # written into the data layer's param_str
    data_params: dict = field(default_factory=dict)  # param_str of the Python data layer

    def __post_init__(self):
        if self.loss not in ("l1", "l2"):
            raise ValueError(f"loss must be 'l1' or 'l2', got {self.loss!r}")
        if not 1 <= self.fc_layers <= len(FC_NAMES):
            raise ValueError(f"fc_layers must be in 1..{len(FC_NAMES)}, got {self.fc_layers}")
        if self.dedup_targets and self.current_frame_only:
            raise ValueError("dedup_targets needs the target stream, which current_frame_only removes")

    @property
    def dedup_exact(self) -> bool:
        """Whether deduplicating target crops gives the plain net's numbers exactly:
        the target convolutions are frozen (their outputs per crop, and every
        gradient above them, are the same floats either way).  With trainable
        convolutions it is still correct, but their gradients are summed in
        another order (equal to float rounding only), so training leaves it off."""
        return not self.train_conv and not self.current_frame_only

    @property
    def deploy_differs(self) -> bool:
        """Whether this variant's deploy net differs from GOTURN's."""
        return self.current_frame_only or self.fc_layers != 3


# The variants written to prototxt/variants/ (name -> options).
VARIANTS = {
    "l2_loss": NetOptions(loss="l2"),
    "current_frame_only": NetOptions(current_frame_only=True),
    "fc_layers2": NetOptions(fc_layers=2),
    "fc_layers4": NetOptions(fc_layers=4),
    "train_conv": NetOptions(train_conv=True),
}


def _conv_params(train_conv: bool) -> list:
    # Authors: frozen convolutions (lr_mult 0) that still carry decay_mult 1/0.
    # Trainable: CaffeNet's own 1/2.
    if train_conv:
        return [dict(lr_mult=1, decay_mult=1), dict(lr_mult=2, decay_mult=0)]
    return [dict(lr_mult=0, decay_mult=1), dict(lr_mult=0, decay_mult=0)]


def _caffenet_stream(n, L, P, bottom, layer_name, conv_params: list):
    """conv1..pool5 of CaffeNet on ``bottom``.

    ``layer_name(kind, idx)`` names layer ``kind`` ("conv", "relu", "pool",
    "norm") number ``idx``: the authors' ``conv1`` / ``conv1_p``, OpenCV's
    ``conv11`` / ``conv21``.  Returns the pool5 top.
    """
    x = bottom
    for idx, name in enumerate(CONV_SHAPES, start=1):
        num_output, kernel, stride, pad, group, bias = CONV_SHAPES[name]
        conv = dict(num_output=num_output, kernel_size=kernel,
                    weight_filler=dict(type="gaussian", std=0.01),
                    bias_filler=dict(type="constant", value=bias))
        if stride != 1:
            conv["stride"] = stride
        if pad:
            conv["pad"] = pad
        if group != 1:
            conv["group"] = group
        x = n[layer_name("conv", idx)] = L.Convolution(x, param=conv_params,
                                                       convolution_param=conv)
        n[layer_name("relu", idx)] = L.ReLU(x, in_place=True)
        if idx in (1, 2, 5):
            x = n[layer_name("pool", idx)] = L.Pooling(x, pool=P.Pooling.MAX, kernel_size=3, stride=2)
        if idx in (1, 2):
            x = n[layer_name("norm", idx)] = L.LRN(x, local_size=5, alpha=1e-4, beta=0.75)
    return x


def _goturn_stream(n, L, P, bottom, suffix: str, train_conv: bool):
    return _caffenet_stream(n, L, P, bottom, lambda kind, idx: f"{kind}{idx}{suffix}",
                            _conv_params(train_conv))


def _fc(L, bottom, name: str, num_output: int, std: float, bias: float):
    return L.InnerProduct(bottom, name=name,
                          param=[dict(lr_mult=10, decay_mult=1), dict(lr_mult=20, decay_mult=0)],
                          inner_product_param=dict(num_output=num_output,
                                                   weight_filler=dict(type="gaussian", std=std),
                                                   bias_filler=dict(type="constant", value=bias)))


def build_net(options: NetOptions, train: bool, python_data: bool = True):
    """The NetParameter of the training (``train=True``) or deploy net.

    ``python_data=False`` feeds the training net from Input layers instead of
    the Python data layer (tests, and online fine-tuning on the tracker's own
    examples).
    """
    caffe = import_caffe()
    L, P = caffe.layers, caffe.params
    n = caffe.NetSpec()
    dedup = train and options.dedup_targets
    if train and not python_data:
        crops = dict(dim=[options.batch_size, 3, INPUT_SIZE, INPUT_SIZE])
        n.target = L.Input(input_param=dict(shape=crops))
        n.image = L.Input(input_param=dict(shape=crops))
        n.bbox = L.Input(input_param=dict(shape=dict(dim=[options.batch_size, 4, 1, 1])))
        if dedup:  # the caller reshapes target to (U, 3, 227, 227) and fills the index
            n.target_index = L.Input(input_param=dict(shape=dict(dim=[options.batch_size])))
    elif train:
        # Python data layer: the authors' blob order target, image, bbox.
        # Shapes: target/image (batch, 3, 227, 227), bbox (batch, 4, 1, 1).
        # With dedup_targets a fourth top, target_index (batch,), and target is
        # reshaped by the layer every batch to (U, 3, 227, 227), U <= batch the
        # batch's distinct target crops; example i uses crop target_index[i].
        params = dict(options.data_params, batch_size=options.batch_size)
        python_param = dict(module=DATA_LAYER_MODULE, layer=DATA_LAYER_CLASS,
                            param_str=json.dumps(params, sort_keys=True))
        if dedup:
            n.target, n.image, n.bbox, n.target_index = L.Python(name="data", ntop=4,
                                                                 python_param=python_param)
        else:
            n.target, n.image, n.bbox = L.Python(name="data", ntop=3, python_param=python_param)
    else:
        shape = dict(dim=[1, 3, INPUT_SIZE, INPUT_SIZE])
        if not options.current_frame_only:
            n.target = L.Input(input_param=dict(shape=shape))
        n.image = L.Input(input_param=dict(shape=shape))
    if options.current_frame_only:
        if train:  # the data layer still produces the target crop; nothing reads it
            n.silence_target = L.Silence(n.target, ntop=0)
        x = _goturn_stream(n, L, P, n.image, "_p", options.train_conv)
    else:
        target_features = _goturn_stream(n, L, P, n.target, "", options.train_conv)
        if dedup:
            # Caffe's BatchReindex: pool5 (U x 256 x 6 x 6) -> pool5_batch (N x 256 x 6 x 6),
            # row i = pool5[target_index[i]]; backward scatter-adds the rows' diffs.
            target_features = n.pool5_batch = L.BatchReindex(target_features, n.target_index,
                                                             name="target_broadcast")
        image_features = _goturn_stream(n, L, P, n.image, "_p", options.train_conv)
        # pool5 (N x 256 x 6 x 6) ++ pool5_p -> N x 512 x 6 x 6 = 18432 values
        x = n.pool5_concat = L.Concat(target_features, image_features, name="concat",
                                      concat_param=dict(axis=1))
    for name, top in FC_NAMES[:options.fc_layers]:
        x = n[top] = _fc(L, x, name, HIDDEN_FC, std=0.005, bias=1.0)
        tag = top[2:]  # "6", "7", "7b", "7c": the authors' relu7b / drop7b naming
        n[f"relu{tag}"] = L.ReLU(x, in_place=True)
        n[f"drop{tag}"] = L.Dropout(x, in_place=True, dropout_ratio=DROPOUT_RATIO)
    n.fc8 = _fc(L, x, "fc8-shapes", 4, std=0.01, bias=0.0)
    if train:
        # Loss from stock layers, as the authors built it: fc8 - bbox, then the
        # SUM over the batch of |.| (L1, ASUM) or of (.)^2 (L2 ablation, SUMSQ).
        n.bbox_neg = L.Power(n.bbox, name="neg", power_param=dict(power=1, scale=-1, shift=0))
        n.bbox_neg_flat = L.Flatten(n.bbox_neg, name="flatten")
        n.out_diff = L.Eltwise(n.fc8, n.bbox_neg_flat, name="subtract",
                               eltwise_param=dict(operation=P.Eltwise.SUM))
        operation = P.Reduction.ASUM if options.loss == "l1" else P.Reduction.SUMSQ
        n.loss = L.Reduction(n.out_diff, name="abssum" if options.loss == "l1" else "sumsq",
                             loss_weight=1, reduction_param=dict(operation=operation))
    proto = n.to_proto()
    tag = variant_tag(options)
    proto.name = "GOTURN" if tag == "goturn" else f"GOTURN-{tag}"
    return proto


def build_opencv_goturn_net():
    """OpenCV's GOTURN deploy net (``goturn.prototxt`` of opencv_extra), for interop only.

    Not the authors' network: inputs ``data1`` (target) / ``data2`` (search),
    streams ``conv11..pool15`` / ``conv21..pool25``, only two 4096 fc layers,
    and a Power layer ``scale`` (x10) whose top ``out`` is in 227-pixel units.
    """
    caffe = import_caffe()
    L, P = caffe.layers, caffe.params
    n = caffe.NetSpec()
    shape = dict(dim=[1, 3, INPUT_SIZE, INPUT_SIZE])
    n.data1 = L.Input(input_param=dict(shape=shape))
    n.data2 = L.Input(input_param=dict(shape=shape))
    trainable = _conv_params(train_conv=True)
    streams = [_caffenet_stream(n, L, P, data, lambda kind, idx, s=stream: f"{kind}{s}{idx}", trainable)
               for stream, data in ((1, n.data1), (2, n.data2))]
    x = n.poolConcat = L.Concat(*streams, name="concat1", concat_param=dict(axis=1))
    _caffenet_classifier(n, L, x, (HIDDEN_FC, HIDDEN_FC, 4))
    n.out = L.Power(n.fc8, name="scale", power_param=dict(scale=10))
    proto = n.to_proto()
    proto.name = "GOTURN"
    return proto


def _caffenet_classifier(n, L, bottom, widths: tuple):
    """CaffeNet's fc6 relu6 drop6 fc7 relu7 drop7 fc8 (``widths``: the three
    num_outputs), with CaffeNet's lr_mult 1/2 and fillers."""
    fc_params = [dict(lr_mult=1, decay_mult=1), dict(lr_mult=2, decay_mult=0)]
    x = bottom
    for idx, width in zip((6, 7), widths[:2]):
        x = n[f"fc{idx}"] = L.InnerProduct(x, param=fc_params, inner_product_param=dict(
            num_output=width, weight_filler=dict(type="gaussian", std=0.005),
            bias_filler=dict(type="constant", value=1)))
        n[f"relu{idx}"] = L.ReLU(x, in_place=True)
        n[f"drop{idx}"] = L.Dropout(x, in_place=True, dropout_ratio=DROPOUT_RATIO)
    n.fc8 = L.InnerProduct(x, param=fc_params, inner_product_param=dict(
        num_output=widths[2], weight_filler=dict(type="gaussian", std=0.01),
        bias_filler=dict(type="constant", value=0)))


def build_caffenet_net(fc_widths: tuple = (HIDDEN_FC, HIDDEN_FC, 1000)):
    """bvlc_reference_caffenet's deploy architecture, the donor of GOTURN's convolutions:
    input ``data`` 1x3x227x227, conv1..pool5, fc6, fc7, fc8 and softmax ``prob``.

    ``fc_widths`` (fc6, fc7, fc8 outputs; ImageNet's 4096, 4096, 1000 by
    default) may be made small where only the convolutions matter (tests of
    the net surgery, which reads conv1..conv5 alone).
    """
    caffe = import_caffe()
    L, P = caffe.layers, caffe.params
    n = caffe.NetSpec()
    n.data = L.Input(input_param=dict(shape=dict(dim=[1, 3, INPUT_SIZE, INPUT_SIZE])))
    x = _caffenet_stream(n, L, P, n.data, lambda kind, idx: f"{kind}{idx}", _conv_params(train_conv=True))
    _caffenet_classifier(n, L, x, fc_widths)
    n.prob = L.Softmax(n.fc8)
    proto = n.to_proto()
    proto.name = "CaffeNet"
    return proto


def variant_tag(options: NetOptions) -> str:
    parts = []
    if options.loss != "l1":
        parts.append(f"{options.loss}_loss")
    if options.current_frame_only:
        parts.append("current_frame_only")
    if options.fc_layers != 3:
        parts.append(f"fc_layers{options.fc_layers}")
    if options.train_conv:
        parts.append("train_conv")
    return "_".join(parts) or "goturn"


# The solver of the authors' nets/solver.prototxt.  solver_mode is left out on
# purpose: `caffe train` then runs on the CPU unless given -gpu, and
# tools/train.py chooses at run time.
SOLVER = AUTHORS.solver()


def build_solver(train_net: str, snapshot_prefix: str = "models/goturn", **overrides):
    caffe = import_caffe()
    solver = caffe.proto.caffe_pb2.SolverParameter()
    solver.net = train_net
    for key, value in dict(SOLVER, **overrides).items():
        setattr(solver, key, value)
    solver.snapshot_prefix = snapshot_prefix
    return solver


HEADER = ("# GENERATED by src/goturn_caffe/netspec.py (`make prototxt`); do not edit by hand.\n"
          "# {what}\n")


def generated_files() -> dict:
    """``{relative path: text}`` of every prototxt this module owns."""
    files = {}

    def add(path, what, proto):
        files[path] = HEADER.format(what=what) + str(proto)

    base = NetOptions()
    add("goturn_train.prototxt", "GOTURN training net (Python data layer, L1 loss as a SUM).",
        build_net(base, train=True))
    add("goturn_deploy.prototxt", "GOTURN deploy net: inputs target, image (1x3x227x227); output fc8.",
        build_net(base, train=False))
    add("goturn_solver.prototxt", "The authors' solver; solver_mode is chosen at run time.",
        build_solver("prototxt/goturn_train.prototxt"))
    add("opencv/goturn.prototxt", "OpenCV's GOTURN architecture (interop: --model-format opencv).",
        build_opencv_goturn_net())
    for name, options in VARIANTS.items():
        add(f"variants/goturn_train_{name}.prototxt", f"Variant {name}: training net.",
            build_net(options, train=True))
        if options.deploy_differs:
            add(f"variants/goturn_deploy_{name}.prototxt", f"Variant {name}: deploy net.",
                build_net(options, train=False))
    return files


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", metavar="DIR", help="write every generated prototxt under DIR")
    group.add_argument("--check", metavar="DIR", help="exit 1 if DIR differs from the generator")
    args = parser.parse_args(argv)
    root = Path(args.write or args.check)
    stale = []
    for rel, text in generated_files().items():
        path = root / rel
        if args.write:
            write_text_atomic(path, text)
            print(f"wrote {path}")
        elif not path.exists() or path.read_text() != text:
            stale.append(str(path))
    if stale:
        print("out of sync with src/goturn_caffe/model/netspec.py (run `make prototxt`): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
