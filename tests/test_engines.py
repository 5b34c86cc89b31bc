"""Caffe engine choice (default / caffe / cudnn) for the tracker, benchmarks and
training nets: which layers get it, that it leaves the numbers alone, and the
errors for an engine the build or device cannot run."""

import collections

import numpy as np
import pytest

from goturn_caffe.model.net import DEPLOY_PROTOTXT, ENGINES, check_engine, load_net, read_net_prototxt, set_engine
from goturn_caffe.track.builder import build_tracker

TINY_NET = """
name: "tiny"
layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 dim: 13 dim: 13 } } }
layer { name: "conv" type: "Convolution" bottom: "x" top: "conv"
        convolution_param { num_output: 4 kernel_size: 3 group: 1
                            weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "constant" value: 0.1 } } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool" pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layer { name: "norm" type: "LRN" bottom: "pool" top: "norm" lrn_param { local_size: 3 alpha: 0.1 beta: 0.75 } }
layer { name: "fc" type: "InnerProduct" bottom: "norm" top: "fc"
        inner_product_param { num_output: 4 weight_filler { type: "gaussian" std: 0.1 } } }
"""


def test_engine_is_set_on_every_layer_that_has_the_choice(caffe):
    param = read_net_prototxt(DEPLOY_PROTOTXT)
    types = collections.Counter(layer.type for layer in param.layer)
    # per stream conv1-5, relu1-5, pool1/2/5, norm1/2 (15); relu6, relu7, relu7b after the fc layers
    assert (types["Convolution"], types["ReLU"], types["Pooling"], types["LRN"]) == (10, 13, 6, 4)
    assert set_engine(param, "default") == 0
    assert set_engine(param, "cudnn") == 33
    pb2 = caffe.proto.caffe_pb2
    engines = {layer.name: (layer.convolution_param.engine, layer.pooling_param.engine,
                            layer.relu_param.engine, layer.lrn_param.engine) for layer in param.layer}
    assert engines["conv1"][0] == pb2.ConvolutionParameter.CUDNN
    assert engines["pool5_p"][1] == pb2.PoolingParameter.CUDNN
    assert engines["relu7b"][2] == pb2.ReLUParameter.CUDNN
    assert engines["norm2"][3] == pb2.LRNParameter.CUDNN
    assert set_engine(param, "caffe") == 33
    assert all(layer.convolution_param.engine == pb2.ConvolutionParameter.CAFFE
               for layer in param.layer if layer.type == "Convolution")
    fc = next(layer for layer in param.layer if layer.name == "fc8-shapes")
    assert not fc.HasField("convolution_param")  # layers without the choice are untouched
    with pytest.raises(ValueError, match="unknown engine 'gemm'"):
        set_engine(param, "gemm")


def test_caffe_engine_net_gives_the_default_nets_numbers(caffe, tmp_path):
    prototxt = tmp_path / "tiny.prototxt"
    prototxt.write_text(TINY_NET)
    default_net = load_net(prototxt)
    weights = tmp_path / "tiny.caffemodel"
    default_net.save(str(weights))
    x = np.random.default_rng(3).normal(0, 1, (2, 3, 13, 13)).astype(np.float32)
    default_net.blobs["x"].data[...] = x
    expected = default_net.forward()["fc"].copy()
    engine_net = load_net(prototxt, weights, engine="caffe")
    engine_net.blobs["x"].data[...] = x
    np.testing.assert_allclose(engine_net.forward()["fc"], expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(expected, 0)


def test_engines_the_build_cannot_run_are_clear_errors(caffe):
    from goturn_caffe.caffe_env import caffe_has_cudnn

    with pytest.raises(ValueError, match="unknown engine"):
        check_engine("fast", None)
    for engine in ("default", "caffe"):
        check_engine(engine, None)  # always available
    if caffe_has_cudnn(caffe):
        with pytest.raises(ValueError, match="GPU only"):
            check_engine("cudnn", None)
    else:
        with pytest.raises(ValueError, match="no cuDNN"):
            check_engine("cudnn", 0)
        with pytest.raises(ValueError, match="no cuDNN"):
            build_tracker("goturn", DEPLOY_PROTOTXT, engine="cudnn")
    assert ENGINES == ("default", "caffe", "cudnn")


@pytest.fixture
def nets_built(caffe, monkeypatch):
    """Every net prototxt handed to ``caffe.Net`` while the test runs, parsed back:
    what Caffe really builds, whatever load_net did to get there."""
    built = []
    real_net = caffe.Net

    def recording_net(path, *args, **kwargs):
        built.append(read_net_prototxt(path))
        return real_net(path, *args, **kwargs)

    monkeypatch.setattr(caffe, "Net", recording_net)
    return built


def engines_of(caffe, param) -> dict:
    """``{layer name: engine}`` of the layers of ``param`` that have the choice."""
    fields = {"Convolution": "convolution_param", "Pooling": "pooling_param",
              "LRN": "lrn_param", "ReLU": "relu_param"}
    return {layer.name: getattr(layer, fields[layer.type]).engine
            for layer in param.layer if layer.type in fields}


def test_the_engine_reaches_every_layer_of_the_loaded_net(caffe, nets_built, tmp_path):
    from goturn_caffe.track.builder import build_batch_tracker

    pb2 = caffe.proto.caffe_pb2
    net = load_net(DEPLOY_PROTOTXT, engine="caffe")
    tracker = build_batch_tracker(DEPLOY_PROTOTXT, engine="caffe", random_weights=True)
    assert len(nets_built) == 2
    for param, loaded in zip(nets_built, (net, tracker.net)):
        # the prototxt Caffe got is the net that was loaded, layer for layer
        assert [layer.name for layer in param.layer] == list(loaded._layer_names)
        assert [layer.type for layer in param.layer] == [layer.type for layer in loaded.layers]
        engines = engines_of(caffe, param)
        assert len(engines) == 33   # conv, pool, LRN and ReLU of both streams, relu6/7/7b
        assert set(engines.values()) == {pb2.ConvolutionParameter.CAFFE}, engines
    # (the four layer types number their engines alike: DEFAULT 0, CAFFE 1, CUDNN 2)
    assert pb2.PoolingParameter.CAFFE == pb2.LRNParameter.CAFFE == pb2.ReLUParameter.CAFFE == \
        pb2.ConvolutionParameter.CAFFE
    del net, tracker
    nets_built.clear()
    prototxt = tmp_path / "tiny.prototxt"
    prototxt.write_text(TINY_NET)
    load_net(prototxt)   # default: the prototxt's own choice (DEFAULT) on every layer
    (param,) = nets_built
    assert set(engines_of(caffe, param).values()) == {pb2.ConvolutionParameter.DEFAULT}
