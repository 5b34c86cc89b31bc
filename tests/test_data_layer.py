"""Training batches and the Python data layer (issue 6)."""

import json

import numpy as np
import pytest

from goturn_caffe.datasets.pairs import draw_pair
from goturn_caffe.datasets.training_set import TrainingSet
from goturn_caffe.geometry.boxes import Box
from goturn_caffe.geometry.cropping import crop_and_resize, decode_box
from goturn_caffe.geometry.examples import ExampleGenerator
from goturn_caffe.geometry.preprocess import MEAN_BGR
from goturn_caffe.train.batches import BatchConfig, batches
from goturn_caffe.train.data_layer import SAMPLE_DATA, parse_params

SAMPLE_ALOV = SAMPLE_DATA / "alov"
SAMPLE_DET = SAMPLE_DATA / "det"
# The real .ann lines of the bundled ALOV video for frames 1 and 6 (1-based corners).
ALOV_FRAME1 = [1080.2, 187.84, 1012.9, 187.84, 1012.9, 269.56, 1080.2, 269.56]
ALOV_FRAME6 = [1107.1, 175.43, 1039.8, 175.43, 1039.8, 257.15, 1107.1, 257.15]


@pytest.fixture(scope="module")
def sample_set():
    return TrainingSet.from_roots(alov=SAMPLE_ALOV, det=SAMPLE_DET)


def take(iterator, n):
    return [next(iterator) for _ in range(n)]


def test_batch_shapes_ranges_and_true_examples_first(sample_set):
    config = BatchConfig(batch_size=22, augmented_per_pair=10)
    targets, searches, labels = next(batches(sample_set, config, np.random.default_rng(0)))
    assert targets.shape == searches.shape == (22, 227, 227, 3)
    assert targets.dtype == searches.dtype == np.uint8
    assert labels.shape == (22, 4) and labels.dtype == np.float32
    # group 0 is a still image (the authors' order: image, then video): its true
    # example crops the same image at the same box for target and search, so the
    # two crops are equal; shifted examples are not.
    assert np.array_equal(targets[0], searches[0])
    assert not any(np.array_equal(targets[0], searches[i]) for i in range(1, 11))
    # true examples' labels: the still image's object is inside its search crop, in
    # [0, 10]; the video pair's (group 1) moved, but still overlaps the crop
    assert np.all(labels[0] >= 0) and np.all(labels[0] <= 10)
    for first in (0, 11):
        assert labels[first][2] > labels[first][0] and labels[first][3] > labels[first][1]
        assert labels[first][2] > 0 and labels[first][0] < 10
        assert labels[first][3] > 0 and labels[first][1] < 10
    # a true still-image example is centred: the box spans the middle half of the crop
    x1, y1, x2, y2 = labels[0]
    assert (x1 + x2) / 2 == pytest.approx(5.0, abs=0.05)
    assert (y1 + y2) / 2 == pytest.approx(5.0, abs=0.05)


def test_same_seed_same_batch(sample_set):
    config = BatchConfig(batch_size=22)
    a = next(batches(sample_set, config, np.random.default_rng(5)))
    b = next(batches(sample_set, config, np.random.default_rng(5)))
    c = next(batches(sample_set, config, np.random.default_rng(6)))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[2], c[2])


def test_true_video_example_decodes_to_the_current_frame(sample_set):
    # Frames 1 and 6 of the bundled ALOV video: previous and current annotated frames.
    video = sample_set.videos[0]
    previous, current = video.frames[0], video.frames[1]
    assert previous.box == Box.from_alov(ALOV_FRAME1)
    assert current.box == Box.from_alov(ALOV_FRAME6)
    previous_image = sample_set.read_image(previous.path)
    current_image = sample_set.read_image(current.path)
    generator = ExampleGenerator(num_shifted=0)
    targets, searches, labels = generator.make_examples(
        previous_image, previous.box, current_image, current.box, rng=np.random.default_rng(0))
    # The search crop is the CURRENT frame at the PREVIOUS box; its label
    # decodes back to the CURRENT frame's ground truth (an earlier port swapped them).
    search, geometry = crop_and_resize(current_image, previous.box)
    target, _ = crop_and_resize(previous_image, previous.box)
    assert np.array_equal(searches[0], search)
    assert np.array_equal(targets[0], target)
    decoded = decode_box(labels[0], geometry)
    assert decoded.as_array() == pytest.approx(current.box.as_array(), abs=1e-3)
    assert abs(decoded.x1 - previous.box.x1) > 20  # frames 1 and 6 really differ


def test_draw_pair_takes_consecutive_annotated_frames(sample_set):
    rng = np.random.default_rng(3)
    video = sample_set.videos[0]
    boxes = [f.box for f in video.frames]
    for _ in range(20):
        _, previous_box, _, current_box = draw_pair(sample_set, "video", rng, sample_set.videos)
        i = boxes.index(previous_box)
        assert boxes[i + 1] == current_box


def test_read_benchmark_draws_pairs_as_training_does(sample_set):
    from goturn_caffe.datasets.image_io import DatasetError
    from goturn_caffe.datasets.read_benchmark import pairs_per_second, random_pairs

    pairs = random_pairs(sample_set, 12, "mixed", seed=4)
    stills = {image.path for image in sample_set.images}
    frames = [f.path for f in sample_set.videos[0].frames]
    for previous, current in pairs[0::2]:   # the authors' mix: still image first
        assert previous == current and previous in stills
    for previous, current in pairs[1::2]:   # then consecutive annotated frames
        assert frames.index(current) == frames.index(previous) + 1
    assert random_pairs(sample_set, 12, "mixed", seed=4) == pairs
    assert all(p[0] != p[1] for p in random_pairs(sample_set, 5, "video", seed=4))
    assert pairs_per_second(sample_set, pairs[:4], workers=1) > 0
    images_only = TrainingSet([], sample_set.images)
    with pytest.raises(DatasetError, match="mix='videos' needs video"):
        random_pairs(images_only, 2, "video")


def test_overflow_carries_over_into_whole_groups(sample_set):
    config = BatchConfig(batch_size=50, augmented_per_pair=10)
    stream = batches(sample_set, config, np.random.default_rng(1))
    targets = np.concatenate([batch[0] for batch in take(stream, 3)])  # 150 examples
    # Every example of a group shares the group's target crop; groups alternate
    # still image / video, so neighbouring groups never share it.
    for group in range(150 // 11):
        block = targets[group * 11:(group + 1) * 11]
        assert all(np.array_equal(block[0], t) for t in block[1:]), f"group {group} is split"
        if group:
            assert not np.array_equal(block[0], targets[group * 11 - 1])
    # the 14th group starts at 143 and continues beyond the third batch
    assert all(np.array_equal(targets[143], t) for t in targets[144:150])


def test_mix_and_batch_size_validation(sample_set):
    with pytest.raises(ValueError, match="below 1 \\+ k3"):
        BatchConfig(batch_size=10, augmented_per_pair=10)
    with pytest.raises(ValueError, match="mix must be"):
        BatchConfig(mix="sometimes")
    videos_only = TrainingSet.from_roots(alov=SAMPLE_ALOV)
    with pytest.raises(ValueError, match="needs image"):
        next(batches(videos_only, BatchConfig(batch_size=11, mix="images"), np.random.default_rng(0)))


def test_param_str_parsing():
    params = parse_params(json.dumps({"batch_size": 22, "augmented_per_pair": 5, "workers": 0,
                                      "seed": 4, "mix": "videos"}))
    assert params.config.batch_size == 22 and params.config.augmented_per_pair == 5
    assert params.roots == {"alov": str(SAMPLE_ALOV), "det": str(SAMPLE_DET)}
    assert params.workers == 0 and params.seed == 4
    with pytest.raises(ValueError, match="unknown keys \\['batchsize'\\]"):
        parse_params('{"batchsize": 3}')
    with pytest.raises(ValueError, match="not JSON"):
        parse_params("batch_size=3")


def test_data_layer_in_a_caffe_net(caffe, tmp_path):
    net_text = f"""
    layer {{ name: "data" type: "Python" top: "target" top: "image" top: "bbox"
      python_param {{ module: "goturn_caffe.train.data_layer" layer: "GoturnDataLayer"
        param_str: '{json.dumps({"batch_size": 11, "workers": 1, "seed": 2})}' }} }}
    """
    path = tmp_path / "data.prototxt"
    path.write_text(net_text)
    net = caffe.Net(str(path), caffe.TRAIN)
    try:
        net.forward()
        first = {name: blob.data.copy() for name, blob in net.blobs.items()}
        assert first["target"].shape == (11, 3, 227, 227)
        assert first["bbox"].shape == (11, 4, 1, 1)
        lo = -max(MEAN_BGR)
        hi = 255 - min(MEAN_BGR)
        for name in ("target", "image"):
            assert first[name].min() >= lo and first[name].max() <= hi
        # channel means of a crop minus (104, 117, 123): B, G, R per channel, not swapped
        expected = next(batches(TrainingSet.from_roots(alov=SAMPLE_ALOV, det=SAMPLE_DET),
                                BatchConfig(batch_size=11), seed=2))
        assert np.allclose(first["target"][0], expected[0][0].transpose(2, 0, 1) -
                           np.array(MEAN_BGR, np.float32)[:, None, None])
        assert np.allclose(first["bbox"].reshape(11, 4), expected[2])
    finally:
        net.layers[0].batch_source.close()
