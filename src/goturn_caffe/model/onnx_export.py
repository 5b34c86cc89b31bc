"""Export a Caffe deploy net and its weights to ONNX (for runtimes without Caffe).

OpenCV 5 dropped its Caffe importer; onnxruntime, OpenCV's DNN module and
TensorRT all read ONNX.  The graph is built layer by layer from the parsed
prototxt, with the weights taken from the loaded ``caffe.Net`` (so they are
exactly what Caffe computes with), and keeps the net's blob names at its
edges: GOTURN's ``target``, ``image`` -> ``fc8``, OpenCV's ``data1``,
``data2`` -> ``out``.  The batch dimension is symbolic (``batch``).

Where Caffe and ONNX differ, the mapping follows Caffe:

- Pooling: Caffe rounds the output size *up* (or down with ``ceil_mode:
  false`` in the PyPI fork; BVLC has no such field) and then drops a last
  window that would start in the padding.  Rather than rely on each runtime's own ceil-mode rule, the exact
  Caffe size is reproduced with floor rounding and an explicit extra end
  padding, which every ONNX runtime computes the same way (max pooling
  ignores padded cells, as Caffe clips its windows to the image).
- LRN: both divide ``alpha`` by ``local_size`` and centre the window the
  same way (odd sizes only, which is all Caffe accepts); ``k`` is ONNX's ``bias``.
- InnerProduct: Caffe flattens everything after the batch axis in C order,
  as ONNX ``Flatten(axis=1)`` does, then ``Gemm`` with the (out, in) weights.
- Dropout is the identity at test time (Caffe scales during training).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from goturn_caffe.fileio import write_bytes_atomic
from goturn_caffe.model.net import ModelError, load_net, read_net_prototxt

OPSET = 13   # every op used here is unchanged since; old runtimes read it too
BATCH_DIM = "batch"


def caffe_pool_output_size(size: int, kernel: int, stride: int, pad: int,
                           ceil_mode: bool = True) -> int:
    """Caffe's pooled output length along one axis (pooling_layer.cpp).

    ``ceil`` (or ``floor``) of ``(size + 2 pad - kernel) / stride``, plus one;
    with padding, a last window that would start in the end padding is dropped.
    """
    span = size + 2 * pad - kernel
    pooled = (-(-span // stride) if ceil_mode else span // stride) + 1
    if pad and (pooled - 1) * stride >= size + pad:
        pooled -= 1
    return pooled


def pool_end_pad(size: int, kernel: int, stride: int, pad: int, ceil_mode: bool = True) -> int:
    """End padding that makes ONNX's floor-rounded pooling give Caffe's output length."""
    pooled = caffe_pool_output_size(size, kernel, stride, pad, ceil_mode)
    return pad + max(0, (pooled - 1) * stride + kernel - size - 2 * pad)


def _pair(param, field: str, default: int, prefix: str = "") -> tuple:
    """(h, w) of a Caffe size field: ``<prefix>_h``/``<prefix>_w`` when set, else the
    one (both axes) or two (h, w) values of ``<field>``, else ``default``."""
    fields, prefix = param.DESCRIPTOR.fields_by_name, prefix or field
    if f"{prefix}_h" in fields and (param.HasField(f"{prefix}_h") or param.HasField(f"{prefix}_w")):
        return int(getattr(param, f"{prefix}_h")), int(getattr(param, f"{prefix}_w"))
    value = getattr(param, field)
    values = list(value) if fields[field].label == fields[field].LABEL_REPEATED else [value]
    if len(values) > 2:
        raise ModelError(f"{field} {values}: only 2-D (h, w) layers can be exported")
    return (int(values[0]), int(values[-1])) if values else (default, default)


class _Graph:
    """The ONNX graph under construction: nodes, weights, and which ONNX tensor
    holds each Caffe blob now.  In-place layers make Caffe rewrite a blob while
    an ONNX tensor is written once: a blob's name goes to the tensor of its
    last writer (what Caffe's ``net.blobs[name]`` holds after a forward pass),
    earlier values get their layer's name."""

    def __init__(self, blob_names, last_writer: dict):
        self.nodes, self.weights = [], {}   # weights: ONNX name -> float32 array
        self.tensor_of = {}                # Caffe blob name -> ONNX tensor holding it now
        self._last_writer = last_writer    # Caffe blob name -> name of the layer writing it last
        self._used = set(blob_names)       # reserved for the blobs' final values

    def fresh(self, name: str) -> str:
        unique, suffix = name, 1
        while unique in self._used:
            unique, suffix = f"{name}_{suffix}", suffix + 1
        self._used.add(unique)
        return unique

    def weight(self, name: str, array: np.ndarray) -> str:
        name = self.fresh(name)
        self.weights[name] = np.ascontiguousarray(array, np.float32)
        return name

    def add(self, op: str, layer, inputs: list, top: str | None = None, **attrs) -> str:
        """Append a node of ``layer``; returns its output tensor.

        With ``top``, the output holds that Caffe blob from now on; without, it
        is an intermediate of the layer.
        """
        from onnx import helper

        if top is None:
            output = self.fresh(f"{layer.name}/{op}")
        else:
            output = top if self._last_writer[top] == layer.name else self.fresh(layer.name)
            self.tensor_of[top] = output
        self.nodes.append(helper.make_node(op, inputs, [output], name=f"{layer.name}/{op}",
                                           **attrs))
        return output


def _convolution(graph: _Graph, layer, bottoms: list, blobs: list, net) -> None:
    param = layer.convolution_param
    weights = blobs[0]
    if weights.ndim != 4 or param.axis != 1:
        raise ModelError(f"layer {layer.name}: only 2-D convolutions (axis 1) can be exported")
    pad_h, pad_w = _pair(param, "pad", 0)
    inputs = bottoms + [graph.weight(f"{layer.name}.weight", weights)]
    if len(blobs) > 1:
        inputs.append(graph.weight(f"{layer.name}.bias", blobs[1]))
    graph.add("Conv", layer, inputs, layer.top[0], kernel_shape=list(weights.shape[2:]),
              strides=list(_pair(param, "stride", 1)), pads=[pad_h, pad_w, pad_h, pad_w],
              dilations=list(_pair(param, "dilation", 1)), group=int(param.group))


def _pooling(graph: _Graph, layer, bottoms: list, blobs: list, net) -> None:
    param = layer.pooling_param
    if param.pool != param.MAX or param.global_pooling:
        raise ModelError(f"layer {layer.name}: only MAX pooling over a window can be exported")
    kernel = _pair(param, "kernel_size", 0, prefix="kernel")
    stride, pad = _pair(param, "stride", 1), _pair(param, "pad", 0)
    size = net.blobs[layer.bottom[0]].data.shape[2:]
    # BVLC Caffe always rounds up; the PyPI fork added ceil_mode (default true)
    ceil_mode = param.ceil_mode if "ceil_mode" in param.DESCRIPTOR.fields_by_name else True
    end = [pool_end_pad(size[i], kernel[i], stride[i], pad[i], ceil_mode) for i in (0, 1)]
    graph.add("MaxPool", layer, bottoms, layer.top[0], kernel_shape=list(kernel),
              strides=list(stride), pads=[pad[0], pad[1], end[0], end[1]])


def _lrn(graph: _Graph, layer, bottoms: list, blobs: list, net) -> None:
    param = layer.lrn_param
    if param.norm_region != param.ACROSS_CHANNELS:
        raise ModelError(f"layer {layer.name}: only ACROSS_CHANNELS LRN can be exported")
    graph.add("LRN", layer, bottoms, layer.top[0], size=int(param.local_size),
              alpha=float(param.alpha), beta=float(param.beta), bias=float(param.k))


def _relu(graph: _Graph, layer, bottoms: list, blobs: list, net) -> None:
    slope = layer.relu_param.negative_slope
    if slope:
        graph.add("LeakyRelu", layer, bottoms, layer.top[0], alpha=float(slope))
    else:
        graph.add("Relu", layer, bottoms, layer.top[0])


def _inner_product(graph: _Graph, layer, bottoms: list, blobs: list, net) -> None:
    param = layer.inner_product_param
    if param.axis != 1 or param.transpose:
        raise ModelError(f"layer {layer.name}: only InnerProduct with axis 1, no transpose, "
                         "can be exported")
    flat = bottoms[0]
    if net.blobs[layer.bottom[0]].data.ndim != 2:
        flat = graph.add("Flatten", layer, bottoms, axis=1)
    inputs = [flat, graph.weight(f"{layer.name}.weight", blobs[0])]
    if len(blobs) > 1:
        inputs.append(graph.weight(f"{layer.name}.bias", blobs[1]))
    graph.add("Gemm", layer, inputs, layer.top[0], transB=1)


def _concat(graph: _Graph, layer, bottoms: list, blobs: list, net) -> None:
    param = layer.concat_param
    axis = param.concat_dim if param.HasField("concat_dim") else param.axis
    graph.add("Concat", layer, bottoms, layer.top[0], axis=int(axis))


def _power(graph: _Graph, layer, bottoms: list, blobs: list, net) -> None:
    """y = (shift + scale x) ^ power, one ONNX op per term that is not the identity."""
    param = layer.power_param
    terms = [(op, operand) for op, operand, identity in
             (("Mul", param.scale, 1.0), ("Add", param.shift, 0.0), ("Pow", param.power, 1.0))
             if operand != identity]
    value = bottoms[0]
    for index, (op, operand) in enumerate(terms):
        constant = graph.weight(f"{layer.name}.{op.lower()}", np.float32(operand))
        value = graph.add(op, layer, [value, constant],
                          layer.top[0] if index == len(terms) - 1 else None)
    graph.tensor_of[layer.top[0]] = value


def _dropout(graph: _Graph, layer, bottoms: list, blobs: list, net) -> None:
    graph.tensor_of[layer.top[0]] = bottoms[0]   # identity at test time: no node


CONVERTERS = {
    "Convolution": _convolution, "Pooling": _pooling, "LRN": _lrn, "ReLU": _relu,
    "InnerProduct": _inner_product, "Concat": _concat, "Power": _power, "Dropout": _dropout,
}


def _value_info(name: str, shape: tuple):
    from onnx import TensorProto, helper

    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [BATCH_DIM] + list(shape[1:]))


def net_to_onnx(net, net_param, doc: str = ""):
    """An ``onnx.ModelProto`` computing ``net`` (a TEST-phase ``caffe.Net``) as
    described by ``net_param`` (its parsed NetParameter), weights included.

    Inputs and outputs keep the net's blob names, float32, batch dimension
    symbolic.  Raises ModelError naming the first layer it cannot export.
    """
    from onnx import helper

    built = set(net._layer_names)   # the layers this phase really has
    layers = [layer for layer in net_param.layer if layer.name in built and layer.type != "Input"]
    graph = _Graph(net.blobs, {top: layer.name for layer in layers for top in layer.top})
    graph.tensor_of.update((name, name) for name in net.inputs)
    for layer in layers:
        if layer.type not in CONVERTERS:
            raise ModelError(f"layer {layer.name}: type {layer.type} cannot be exported to ONNX "
                             f"(supported: Input, {', '.join(CONVERTERS)})")
        if len(layer.top) != 1:
            raise ModelError(f"layer {layer.name}: {len(layer.top)} tops; only single-output "
                             "layers can be exported")
        blobs = [b.data for b in net.params[layer.name]] if layer.name in net.params else []
        bottoms = [graph.tensor_of[b] for b in layer.bottom]
        CONVERTERS[layer.type](graph, layer, bottoms, blobs, net)
    for name in net.outputs:   # a Dropout (no node) wrote the output last
        if graph.tensor_of[name] != name:
            graph.nodes.append(helper.make_node("Identity", [graph.tensor_of[name]], [name],
                                                name=f"{name}/Identity"))
    model = helper.make_model(
        helper.make_graph(graph.nodes, net_param.name or "caffe_net",
                          [_value_info(n, net.blobs[n].data.shape) for n in net.inputs],
                          [_value_info(n, net.blobs[n].data.shape) for n in net.outputs],
                          doc_string=doc),
        opset_imports=[helper.make_opsetid("", OPSET)], producer_name="goturn-caffe")
    model.ir_version = helper.find_min_ir_version_for([helper.make_opsetid("", OPSET)])
    _add_initializers(model.graph, graph.weights)
    return model


def _add_initializers(graph_proto, weights: dict) -> None:
    """Write the weights straight into the graph: one copy of ~0.5 GB instead
    of the several that onnx.helper's make_graph/make_model would make."""
    from onnx import TensorProto

    for name, array in weights.items():
        tensor = graph_proto.initializer.add()
        tensor.name, tensor.data_type = name, TensorProto.FLOAT
        tensor.dims.extend(array.shape)
        tensor.raw_data = array.astype("<f4", copy=False).tobytes()


def save_onnx(model, output) -> Path:
    """Check ``model`` with onnx.checker and write it to ``output`` atomically."""
    import onnx

    output = Path(output)
    serialized = model.SerializeToString()
    onnx.checker.check_model(serialized)
    return write_bytes_atomic(output, serialized)


def export_onnx(prototxt, weights, output, metadata: dict | None = None):
    """Convert ``prototxt`` + ``weights`` (a .caffemodel, checked by :func:`load_net`)
    to the ONNX file ``output``, with ``metadata`` (str -> str) in its
    ``metadata_props``; returns the loaded ``caffe.Net``, whose forward pass the
    file reproduces (to check it against)."""
    from onnx import helper

    prototxt = Path(prototxt)
    net = load_net(prototxt, weights)
    model = net_to_onnx(net, read_net_prototxt(prototxt),
                        doc=f"Exported by goturn-caffe from {prototxt.name} + {Path(weights).name}")
    if metadata:
        helper.set_model_props(model, {str(k): str(v) for k, v in metadata.items()})
    save_onnx(model, output)
    return net


def random_inputs(net, batch: int, seed: int = 0) -> dict:
    """``{input name: (batch, C, H, W) float32}`` uniform over the range of
    mean-subtracted pixels, [-123, 151] (0-255 minus the BGR mean 104/117/123)."""
    rng = np.random.default_rng(seed)
    return {name: rng.uniform(-123.0, 151.0, (batch,) + net.blobs[name].data.shape[1:])
            .astype(np.float32) for name in net.inputs}


def caffe_forward(net, inputs: dict) -> dict:
    """``{output name: array}`` of a Caffe forward pass on ``inputs`` (reshapes the net)."""
    for name, array in inputs.items():
        net.blobs[name].reshape(*array.shape)
    net.reshape()
    outputs = net.forward(**inputs)
    return {name: outputs[name].copy() for name in net.outputs}


def onnx_forward(model, inputs: dict) -> dict:
    """``{output name: array}`` of an onnxruntime (CPU) run of ``model`` (an ONNX
    file's path, or its bytes)."""
    import onnxruntime

    model = model if isinstance(model, bytes) else str(model)
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs)))


def max_abs_diff(net, model, batch: int = 1, seed: int = 0) -> dict:
    """``{output name: max |onnxruntime - Caffe|}`` on :func:`random_inputs` of
    ``batch``; ``model`` as for :func:`onnx_forward`."""
    inputs = random_inputs(net, batch, seed)
    expected, got = caffe_forward(net, inputs), onnx_forward(model, inputs)
    return {name: float(np.abs(got[name] - expected[name]).max()) for name in net.outputs}
