"""The training example generator: which frame each crop comes from, and the labels."""

import cv2
import numpy as np
import pytest
from conftest import REPO_ROOT

from goturn_caffe.geometry.boxes import Box
from goturn_caffe.geometry.cropping import crop_and_resize, crop_geometry, decode_box, decode_boxes
from goturn_caffe.geometry.examples import ExampleGenerator
from goturn_caffe.geometry.motion import MotionModel

CAR = REPO_ROOT / "data" / "sample" / "vot" / "car"   # bundled VOT2014 excerpt

WIDTH, HEIGHT = 320, 240


def textured(seed):
    return np.random.default_rng(seed).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


def test_shapes_and_crops_come_from_the_right_frames():
    # Previous frame all 50, current frame all 200: targets must come from the previous
    # frame (a port swapped them), searches from the current one.
    previous, current = np.full((HEIGHT, WIDTH, 3), 50, np.uint8), np.full((HEIGHT, WIDTH, 3), 200, np.uint8)
    box = Box(140, 100, 180, 130)
    targets, searches, labels = ExampleGenerator().make_examples(
        previous, box, current, box, np.random.default_rng(0))
    assert targets.shape == searches.shape == (11, 227, 227, 3)
    assert targets.dtype == searches.dtype == np.uint8
    assert labels.shape == (11, 4) and labels.dtype == np.float32
    assert (targets == 50).all() and (searches == 200).all()   # the box is far from the borders


def test_labels_decode_back_to_the_current_box():
    previous_image, current_image = textured(1), textured(2)
    previous_box, current_box = Box(100, 80, 160, 120), Box(108, 84, 172, 126)
    generator = ExampleGenerator()
    targets, searches, labels = generator.make_examples(
        previous_image, previous_box, current_image, current_box, np.random.default_rng(5))

    # True example: the search region of the PREVIOUS box in the current frame.
    true_crop, true_geometry = crop_and_resize(current_image, previous_box)
    np.testing.assert_array_equal(searches[0], true_crop)
    np.testing.assert_allclose(decode_box(labels[0], true_geometry).as_array(),
                               current_box.as_array(), atol=1e-3)
    # By hand: crop of the previous box is [70, 190] x [60, 140], 120 x 80, no padding;
    # (108 - 70, 84 - 60, 172 - 70, 126 - 60) * 10 / (120, 80, 120, 80).
    np.testing.assert_allclose(labels[0], [38 / 12, 24 / 8, 102 / 12, 66 / 8], rtol=1e-6)

    # Shifted examples: the same generator seed gives the motion model's boxes (the
    # generator draws nothing else); each label decodes to the current box in its crop.
    shifted = generator.motion.shift_boxes(np.repeat(current_box.as_array()[None], 10, axis=0),
                                           WIDTH, HEIGHT, np.random.default_rng(5))
    for i, box in enumerate(shifted, start=1):
        crop, geometry = crop_and_resize(current_image, Box(*box))
        np.testing.assert_array_equal(searches[i], crop)
        np.testing.assert_allclose(decode_boxes(labels[i], geometry), current_box.as_array(), atol=1e-3)
    # They differ from one another and from the true example.
    assert len({tuple(label) for label in labels.tolist()}) == 11

    # Every target is the previous frame at the previous box.
    target, _ = crop_and_resize(previous_image, previous_box)
    assert (targets == target).all()


def test_a_still_image_is_its_own_pair():
    image, box = textured(3), Box(100, 80, 160, 120)
    targets, searches, labels = ExampleGenerator().make_examples(
        image, box, image, box, np.random.default_rng(0))
    # True example: the target and the search crop are the same crop, and the object sits
    # in the middle half of it: (2.5, 2.5, 7.5, 7.5).
    np.testing.assert_array_equal(searches[0], targets[0])
    np.testing.assert_allclose(labels[0], [2.5, 2.5, 7.5, 7.5], rtol=1e-6)
    # The shifted ones move it (the only motion a still image can teach).
    assert not np.allclose(labels[1:], [2.5, 2.5, 7.5, 7.5])


def test_options_reach_the_crops_and_labels():
    image, box = textured(4), Box(100, 80, 160, 120)
    generator = ExampleGenerator(motion=MotionModel(smooth=False), num_shifted=3,
                                 context_factor=3.0, scale_factor=1.0)
    targets, searches, labels = generator.make_examples(image, box, image, box, np.random.default_rng(0))
    assert len(targets) == len(searches) == len(labels) == 4
    # With k = 3 the box is the middle third of its own crop; labels span [0, 1].
    np.testing.assert_allclose(labels[0], [1 / 3, 1 / 3, 2 / 3, 2 / 3], rtol=1e-6)
    geometry = crop_geometry(box, WIDTH, HEIGHT, context_factor=3.0)
    np.testing.assert_array_equal(searches[0], crop_and_resize(image, box, context_factor=3.0)[0])
    assert decode_box(labels[0], geometry, scale_factor=1.0).as_array() == pytest.approx(
        box.as_array(), abs=1e-3)


def test_no_shifted_examples():
    image, box = textured(4), Box(100, 80, 160, 120)
    targets, _, labels = ExampleGenerator(num_shifted=0).make_examples(
        image, box, image, box, np.random.default_rng(0))
    assert targets.shape[0] == labels.shape[0] == 1


@pytest.mark.parametrize("previous_box, current_box, message", [
    (Box(10, 10, 10, 40), Box(10, 10, 50, 40), "zero or negative size"),
    (Box(10, 10, 50, 40), Box(400, 10, 450, 40), "lies outside"),
])
def test_bad_boxes_are_rejected(previous_box, current_box, message):
    image = textured(0)
    with pytest.raises(ValueError, match=message):
        ExampleGenerator().make_examples(image, previous_box, image, current_box, np.random.default_rng(0))


def test_bad_images_are_rejected():
    box = Box(10, 10, 50, 40)
    with pytest.raises(ValueError, match="current image must be a BGR uint8"):
        ExampleGenerator().make_examples(textured(0), box, textured(0).astype(np.float32), box,
                                         np.random.default_rng(0))
    with pytest.raises(ValueError, match="previous image must be a BGR uint8"):
        ExampleGenerator().make_examples(textured(0)[..., 0], box, textured(0), box,
                                         np.random.default_rng(0))


def test_real_pair_at_the_image_border():
    # VOT2014 car, frames 1 -> 2: the car starts at the left border, so the search region
    # is padded: box 1 is x 6..49 (cx 27.5, w 43, crop 86 wide), edge spacing 43 - 27.5 =
    # 15.5, i.e. canvas columns 0..14 are black.  Resized 86 -> 227, crop column d samples
    # canvas x = (d + 0.5) * 86 / 227 - 0.5 and its right neighbour: both black while
    # x < 14, i.e. d <= 37; column 38 already blends in the image (x = 14.09).
    frames = [cv2.imread(str(CAR / f"0000000{i}.jpg")) for i in (1, 2)]
    if any(frame is None for frame in frames):
        pytest.skip(f"bundled sample {CAR} not present")
    lines = (CAR / "groundtruth.txt").read_text().splitlines()[:2]
    previous_box, current_box = (Box.from_polygon([float(v) for v in line.split(",")]) for line in lines)
    targets, searches, labels = ExampleGenerator().make_examples(
        frames[0], previous_box, frames[1], current_box, np.random.default_rng(0))
    geometry = crop_geometry(previous_box, frames[1].shape[1], frames[1].shape[0])
    assert geometry.edge_spacing_x == pytest.approx(15.5) and geometry.paste_x == 15
    assert (searches[0][:, :38] == 0).all() and (targets[0][:, :38] == 0).all()
    assert searches[0][:, 38].any() and targets[0][:, 38].any()
    np.testing.assert_allclose(decode_box(labels[0], geometry).as_array(), current_box.as_array(),
                               atol=1e-3)
