"""Training with one target-stream pass per distinct target crop (issue 16).

Every example of a pair shares the pair's target crop, so the training net can
run conv1..pool5 of the target stream once per distinct crop and broadcast
pool5 to the examples (Caffe's BatchReindex).  With the authors' frozen
convolutions this must give the plain net's loss and gradients exactly."""

import dataclasses
import json

import numpy as np
import pytest

from goturn_caffe.datasets.training_set import TrainingSet
from goturn_caffe.geometry.preprocess import preprocess_batch
from goturn_caffe.model.netspec import NetOptions, build_net
from goturn_caffe.train.batches import BatchConfig, batches, distinct_targets
from goturn_caffe.train.data_layer import SAMPLE_DATA
from goturn_caffe.train.training import TrainConfig


@pytest.fixture(scope="module")
def sample_set():
    return TrainingSet.from_roots(alov=SAMPLE_DATA / "alov", det=SAMPLE_DATA / "det")


def runs(*lengths):
    """The index of consecutive runs of these lengths: runs(2, 1) -> [0, 0, 1]."""
    return np.repeat(np.arange(len(lengths)), lengths)


def test_distinct_targets_collapses_runs_of_equal_crops():
    rng = np.random.default_rng(0)
    a, b, c = rng.integers(0, 256, (3, 1, 5, 5, 3), dtype=np.uint8)
    targets = np.concatenate([a, a, b, c, c, c])
    distinct, index = distinct_targets(targets)
    np.testing.assert_array_equal(index, [0, 0, 1, 2, 2, 2])
    np.testing.assert_array_equal(distinct, np.concatenate([a, b, c]))
    # Equal crops that are not neighbours stay separate rows: fewer savings, still exact.
    distinct, index = distinct_targets(np.concatenate([a, b, a]))
    np.testing.assert_array_equal(index, [0, 1, 2])
    assert len(distinct) == 3
    # One pixel differs: a new crop.
    d = a.copy()
    d[0, 4, 4, 2] ^= 1
    np.testing.assert_array_equal(distinct_targets(np.concatenate([a, d]))[1], [0, 1])


def test_index_of_a_pair_that_straddles_two_batches(sample_set):
    # The authors' batch: 50 examples, pairs of 1 + 10.  Batch 0 holds pairs
    # 0-3 and the first 6 examples of pair 4; batch 1 its last 5, pairs 5-8 and
    # the first example of pair 9.
    stream = batches(sample_set, BatchConfig(batch_size=50, augmented_per_pair=10),
                     np.random.default_rng(1))
    first, second = next(stream)[0], next(stream)[0]
    distinct0, index0 = distinct_targets(first)
    distinct1, index1 = distinct_targets(second)
    np.testing.assert_array_equal(index0, runs(11, 11, 11, 11, 6))
    np.testing.assert_array_equal(index1, runs(5, 11, 11, 11, 11, 1))
    assert distinct0.shape == (5, 227, 227, 3) and distinct1.shape == (6, 227, 227, 3)
    np.testing.assert_array_equal(distinct0[index0], first)
    np.testing.assert_array_equal(distinct1[index1], second)
    # the straddling pair: its crop ends batch 0's distinct rows and starts batch 1's
    np.testing.assert_array_equal(distinct0[-1], distinct1[0])


def test_data_layer_outputs_distinct_targets_and_index(caffe, tmp_path, sample_set):
    params = {"batch_size": 11, "augmented_per_pair": 4, "workers": 0, "seed": 2}
    path = tmp_path / "data.prototxt"
    path.write_text(f"""
    layer {{ name: "data" type: "Python"
      top: "target" top: "image" top: "bbox" top: "target_index"
      python_param {{ module: "goturn_caffe.train.data_layer" layer: "GoturnDataLayer"
        param_str: '{json.dumps(params)}' }} }}
    """)
    net = caffe.Net(str(path), caffe.TRAIN)
    # workers=0 builds batches in the layer's process: the stream of seed 2, rank 0
    expected = batches(sample_set, BatchConfig(batch_size=11, augmented_per_pair=4), seed=2)
    try:
        # pairs of 5: batch 0 = 5 + 5 + 1, batch 1 = 4 + 5 + 2 (pair 2 straddles)
        for index in (runs(5, 5, 1), runs(4, 5, 2)):
            net.forward()
            targets, searches, labels = next(expected)
            assert net.blobs["target"].data.shape == (3, 3, 227, 227)
            assert net.blobs["image"].data.shape == (11, 3, 227, 227)
            np.testing.assert_array_equal(net.blobs["target_index"].data, index)
            np.testing.assert_array_equal(net.blobs["target"].data[index], preprocess_batch(targets))
            np.testing.assert_array_equal(net.blobs["image"].data, preprocess_batch(searches))
            np.testing.assert_array_equal(net.blobs["bbox"].data.reshape(11, 4), labels)
    finally:
        net.layers[0].batch_source.close()


def training_net(caffe, folder, options: NetOptions):
    path = folder / f"train_dedup{int(options.dedup_targets)}.prototxt"
    path.write_text(str(build_net(options, train=True, python_data=False)))
    return caffe.Net(str(path), caffe.TRAIN)


@pytest.mark.parametrize("train_conv", [False, True])
def test_dedup_net_equals_the_plain_net(caffe, tmp_path, sample_set, train_conv):
    # Batch 1 of pairs of 3 in batches of 7: 2 + 3 + 2, the first pair cut by the boundary.
    stream = batches(sample_set, BatchConfig(batch_size=7, augmented_per_pair=2),
                     np.random.default_rng(3))
    next(stream)
    targets, searches, labels = next(stream)
    distinct, index = distinct_targets(targets)
    np.testing.assert_array_equal(index, runs(2, 3, 2))

    options = NetOptions(batch_size=7, train_conv=train_conv)
    plain = training_net(caffe, tmp_path, options)
    dedup = training_net(caffe, tmp_path, dataclasses.replace(options, dedup_targets=True))
    # the same parameter blobs, layer for layer: weights load into either net
    assert [(name, [p.data.shape for p in blobs]) for name, blobs in plain.params.items()] == \
           [(name, [p.data.shape for p in blobs]) for name, blobs in dedup.params.items()]
    for name, blobs in plain.params.items():
        for source, copy in zip(blobs, dedup.params[name]):
            copy.data[...] = source.data

    plain.blobs["target"].data[...] = preprocess_batch(targets)
    dedup.blobs["target"].reshape(3, 3, 227, 227)   # U = 3 distinct crops
    dedup.blobs["target"].data[...] = preprocess_batch(distinct)
    dedup.blobs["target_index"].data[...] = index
    for net in (plain, dedup):
        net.blobs["image"].data[...] = preprocess_batch(searches)
        net.blobs["bbox"].data[...] = labels.reshape(7, 4, 1, 1)
        caffe.set_random_seed(11)   # the same dropout masks in both nets
        net.forward()
        net.backward()

    assert dedup.blobs["conv1"].data.shape[0] == 3 and dedup.blobs["pool5"].data.shape[0] == 3
    assert plain.blobs["conv1"].data.shape[0] == 7
    assert (plain.blobs["fc6"].data == 0).mean() > 0.3   # dropout and ReLU did act
    loss = float(plain.blobs["loss"].data)
    assert float(dedup.blobs["loss"].data) == pytest.approx(loss, rel=1e-6)
    np.testing.assert_allclose(dedup.blobs["pool5_concat"].data, plain.blobs["pool5_concat"].data,
                               rtol=1e-6, atol=0)
    for name in ("fc6-new", "fc8-shapes"):
        for which in (0, 1):  # weights, biases
            gradient = plain.params[name][which].diff
            assert np.abs(gradient).max() > 0
            np.testing.assert_allclose(dedup.params[name][which].diff, gradient, rtol=1e-5,
                                       atol=1e-6 * np.abs(gradient).max())
    if train_conv:
        # Backward through BatchReindex adds the examples' pool5 gradients per
        # crop: the target convolutions get the plain net's gradients (summed in
        # another order, so equal to float rounding).
        for name in ("conv1", "conv5"):
            gradient = plain.params[name][0].diff
            assert np.abs(gradient).max() > 0
            np.testing.assert_allclose(dedup.params[name][0].diff, gradient,
                                       atol=1e-5 * np.abs(gradient).max())


def test_dedup_is_on_by_default_only_with_frozen_convolutions():
    def resolved(**kwargs):
        net = NetOptions(**kwargs.pop("net", {}))
        return TrainConfig(output="unused", net=net, **kwargs).net_options()

    assert resolved().dedup_targets
    assert not resolved(net=dict(train_conv=True)).dedup_targets
    assert not resolved(net=dict(current_frame_only=True)).dedup_targets
    assert not resolved(dedup_targets=False).dedup_targets
    assert resolved(net=dict(train_conv=True), dedup_targets=True).dedup_targets  # asked for
    assert resolved().data_params["batch_size"] == 50

    def layer_types(options):
        return [layer.type for layer in build_net(options, train=True).layer]

    assert "BatchReindex" in layer_types(resolved())
    data = build_net(resolved(), train=True).layer[0]
    assert list(data.top) == ["target", "image", "bbox", "target_index"]
    assert "BatchReindex" not in layer_types(resolved(net=dict(train_conv=True)))
    assert "BatchReindex" not in layer_types(NetOptions())  # the checked-in prototxt
    # the deploy net never changes
    assert str(build_net(NetOptions(dedup_targets=True), train=False)) == \
           str(build_net(NetOptions(), train=False))
    with pytest.raises(ValueError, match="current_frame_only"):
        NetOptions(current_frame_only=True, dedup_targets=True)
