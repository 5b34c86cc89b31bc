"""The search-region crop and the box coding, against values derived by hand.

The test image is 20 wide x 10 high; channel 0 holds the column index, channel
1 the row index, channel 2 is 255 everywhere, so a canvas pixel says where it
came from and channel 2 == 0 marks the black padding.

The authors' formulas, per axis (box [a, b], centre c, image size S, k = 2):
  output = max(1, k (b - a))
  location = [max(0, c - output/2), that + max(1, min(output/2, c) + min(output/2, S - c))]
  pixels copied: start int(min(location start, S - 1)), size min(S, max(1, ceil(location size)))
  canvas = max(ceil(output), pixels size); edge spacing = min(max(0, output/2 - c), canvas - 1)
  pasted at int(edge spacing).
"""

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goturn_caffe.geometry.boxes import Box
from goturn_caffe.geometry.cropping import (
    crop_and_resize,
    crop_geometry,
    crop_pad,
    decode_box,
    decode_boxes,
    encode_box,
    encode_boxes,
    recenter,
    scale,
    uncenter,
    unscale,
)

WIDTH, HEIGHT = 20, 10


def make_image(width=WIDTH, height=HEIGHT):
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[..., 0] = np.arange(width)[None, :]
    image[..., 1] = np.arange(height)[:, None]
    image[..., 2] = 255
    return image


# (name, box, location (x1, y1, x2, y2), edge spacing (x, y), canvas (w, h),
#  pixels copied (x, y, w, h), pasted at (x, y)) -- each derived in the comment.
HAND_CASES = [
    # middle: c = (10, 5), output 8 x 4; location x [6, 6 + 4 + 4], y [3, 3 + 2 + 2]; no padding.
    ("middle", Box(8, 4, 12, 6), (6, 3, 14, 7), (0, 0), (8, 4), (6, 3, 8, 4), (0, 0)),
    # left: cx = 2, location x [0, 0 + min(4, 2) + 4 = 6]; spacing 4 - 2 = 2.
    ("left", Box(0, 4, 4, 6), (0, 3, 6, 7), (2, 0), (8, 4), (0, 3, 6, 4), (2, 0)),
    # right: cx = 18, location x [14, 14 + 4 + min(4, 2) = 20]; spacing 0, black on the right.
    ("right", Box(16, 4, 20, 6), (14, 3, 20, 7), (0, 0), (8, 4), (14, 3, 6, 4), (0, 0)),
    # top: cy = 1, location y [0, 0 + min(2, 1) + 2 = 3]; spacing 2 - 1 = 1.
    ("top", Box(8, 0, 12, 2), (6, 0, 14, 3), (0, 1), (8, 4), (6, 0, 8, 3), (0, 1)),
    # bottom: cy = 9, location y [7, 7 + 2 + min(2, 1) = 10]; black row at the bottom.
    ("bottom", Box(8, 8, 12, 10), (6, 7, 14, 10), (0, 0), (8, 4), (6, 7, 8, 3), (0, 0)),
    # the four corners combine the two borders.
    ("top-left", Box(0, 0, 4, 2), (0, 0, 6, 3), (2, 1), (8, 4), (0, 0, 6, 3), (2, 1)),
    ("top-right", Box(16, 0, 20, 2), (14, 0, 20, 3), (0, 1), (8, 4), (14, 0, 6, 3), (0, 1)),
    ("bottom-left", Box(0, 8, 4, 10), (0, 7, 6, 10), (2, 0), (8, 4), (0, 7, 6, 3), (2, 0)),
    ("bottom-right", Box(16, 8, 20, 10), (14, 7, 20, 10), (0, 0), (8, 4), (14, 7, 6, 3), (0, 0)),
    # larger than the image: w 30, h 20, c = (10, 5), output 60 x 40; location is the whole
    # image (10 + 10 wide, 5 + 5 high); spacing 30 - 10 = 20 and 20 - 5 = 15.
    ("larger", Box(-5, -5, 25, 15), (0, 0, 20, 10), (20, 15), (60, 40), (0, 0, 20, 10), (20, 15)),
    # 1 px wide: cx = 10.5, output 2; location x [9.5, 11.5] but the pixels start at int(9.5) = 9
    # (the authors' truncation); y: cy = 5, output 12, location [0, 10], spacing 6 - 5 = 1,
    # canvas max(12, 10) = 12 high.
    ("1px wide", Box(10, 2, 11, 8), (9.5, 0, 11.5, 10), (0, 1), (2, 12), (9, 0, 2, 10), (0, 1)),
    # below a pixel: 0.25 x 0.25 at c = (10.125, 5.125): output max(1, 0.5) = 1; location
    # [9.625, 10.625] x [4.625, 5.625]; one pixel copied, (9, 4).
    ("sub-pixel", Box(10, 5, 10.25, 5.25), (9.625, 4.625, 10.625, 5.625), (0, 0), (1, 1),
     (9, 4, 1, 1), (0, 0)),
    # fully right of the image: cx = 32, output 8; location [28, 28 + max(1, 4 - 12)] = [28, 29];
    # pixels start at min(28, 19) = 19, 1 wide; canvas 8 wide with that column at 0.
    ("outside", Box(30, 4, 34, 6), (28, 3, 29, 7), (0, 0), (8, 4), (19, 3, 1, 4), (0, 0)),
]


@pytest.mark.parametrize("name, box, location, spacing, canvas_size, pixels, paste",
                         HAND_CASES, ids=[case[0] for case in HAND_CASES])
def test_crop_matches_hand_derivation(name, box, location, spacing, canvas_size, pixels, paste):
    image = make_image()
    canvas, geometry = crop_pad(image, box)

    assert geometry.location.as_array() == pytest.approx(location)
    assert (geometry.edge_spacing_x, geometry.edge_spacing_y) == pytest.approx(spacing)
    assert (geometry.canvas_width, geometry.canvas_height) == canvas_size
    assert geometry.image_roi == pixels
    assert (geometry.paste_x, geometry.paste_y) == paste

    # The canvas: zeros everywhere except the copied pixels at the paste offset.
    x, y, w, h = pixels
    expected = np.zeros((canvas_size[1], canvas_size[0], 3), dtype=np.uint8)
    expected[paste[1]:paste[1] + h, paste[0]:paste[0] + w] = image[y:y + h, x:x + w]
    np.testing.assert_array_equal(canvas, expected)


def test_left_border_canvas_content():
    # Spelled out for one case: the left box's canvas has two black columns, then image
    # columns 0..5 (channel 0 = column index), rows 3..6 (channel 1 = row index).
    canvas, _ = crop_pad(make_image(), Box(0, 4, 4, 6))
    assert canvas.shape == (4, 8, 3)
    assert (canvas[:, :2] == 0).all()
    np.testing.assert_array_equal(canvas[0, 2:, 0], [0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(canvas[:, 2, 1], [3, 4, 5, 6])
    assert (canvas[:, 2:, 2] == 255).all()


def test_context_factor_is_configurable():
    # k = 3 on the middle box (w 4, h 2, c (10, 5)): output 12 x 6, location x [4, 16], y [2, 8].
    geometry = crop_geometry(Box(8, 4, 12, 6), WIDTH, HEIGHT, context_factor=3)
    assert geometry.location.as_array() == pytest.approx([4, 2, 16, 8])
    assert (geometry.canvas_width, geometry.canvas_height) == (12, 6)


def test_crop_and_resize_is_the_canvas_resized_bilinearly():
    image = np.random.default_rng(1).integers(0, 256, (72, 128, 3), dtype=np.uint8)
    box = Box(2, 3, 30, 23)   # near the top-left corner: padded
    canvas, geometry = crop_pad(image, box)
    crop, same_geometry = crop_and_resize(image, box)
    assert same_geometry == geometry
    assert crop.shape == (227, 227, 3) and crop.dtype == np.uint8
    np.testing.assert_array_equal(crop, cv2.resize(canvas, (227, 227), interpolation=cv2.INTER_LINEAR))

    batch = np.zeros((2, 227, 227, 3), dtype=np.uint8)
    returned, _ = crop_and_resize(image, box, out=batch[1])
    assert np.shares_memory(returned, batch)
    np.testing.assert_array_equal(batch[1], crop)
    assert (batch[0] == 0).all()
    with pytest.raises(ValueError, match="out must be"):
        crop_and_resize(image, box, out=np.zeros((227, 227), dtype=np.uint8))


def test_crop_rejects_a_non_image():
    with pytest.raises(ValueError, match="image array"):
        crop_pad(np.zeros((0, 5, 3), dtype=np.uint8), Box(0, 0, 1, 1))
    with pytest.raises(ValueError, match="image array"):
        crop_pad([[1, 2]], Box(0, 0, 1, 1))


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 60), st.integers(1, 60),
       st.lists(st.floats(-80, 140, allow_nan=False), min_size=4, max_size=4),
       st.floats(0.5, 4))
def test_any_finite_box_gives_an_in_bounds_crop(width, height, coords, context_factor):
    # The tracker must survive any estimate: every crop stays inside the image and
    # the canvas, and the pixel rectangle is the authors' unless it would overflow.
    box = Box(*coords)
    canvas, geometry = crop_pad(make_image(width, height), box, context_factor)
    x, y, w, h = geometry.image_roi
    assert canvas.shape[:2] == (geometry.canvas_height, geometry.canvas_width)
    assert 0 <= x and x + w <= width and 0 <= y and y + h <= height and w >= 1 and h >= 1
    assert geometry.paste_x + w <= geometry.canvas_width
    assert geometry.paste_y + h <= geometry.canvas_height
    location = geometry.location
    authors_w = min(width, max(1, math.ceil(location.x2 - location.x1)))
    assert w == authors_w or x + authors_w > width or geometry.paste_x + authors_w > canvas.shape[1]


# ---- box coding -----------------------------------------------------------------

def test_a_box_is_centred_in_its_own_crop():
    # Middle box: recentred (8 - 6, 4 - 3, 12 - 6, 6 - 3) = (2, 1, 6, 3); scaled by
    # 10 / 8 and 10 / 4: (2.5, 2.5, 7.5, 7.5) -- the label of "no motion".
    geometry = crop_geometry(Box(8, 4, 12, 6), WIDTH, HEIGHT)
    np.testing.assert_allclose(recenter(Box(8, 4, 12, 6).as_array(), geometry), [2, 1, 6, 3])
    np.testing.assert_allclose(encode_box(Box(8, 4, 12, 6), geometry), [2.5, 2.5, 7.5, 7.5])
    # At the left border the edge spacing keeps it centred: (0 - 0 + 2, ..., 4 + 2) / 8 * 10.
    left = crop_geometry(Box(0, 4, 4, 6), WIDTH, HEIGHT)
    np.testing.assert_allclose(encode_box(Box(0, 4, 4, 6), left), [2.5, 2.5, 7.5, 7.5])


def test_label_of_a_moved_box_by_hand():
    # Middle crop (location (6, 3), canvas 8 x 4); the object moved 2 px right and 1 down:
    # (10, 5, 14, 7) -> recentred (4, 2, 8, 4) -> scaled (5, 5, 10, 10).
    geometry = crop_geometry(Box(8, 4, 12, 6), WIDTH, HEIGHT)
    np.testing.assert_allclose(encode_box(Box(10, 5, 14, 7), geometry), [5, 5, 10, 10])
    # And with a custom scale factor 1: (0.5, 0.5, 1, 1).
    np.testing.assert_allclose(encode_box(Box(10, 5, 14, 7), geometry, scale_factor=1),
                               [0.5, 0.5, 1, 1])


def test_decoding_clips_only_the_sides_that_leave_the_image():
    geometry = crop_geometry(Box(8, 4, 12, 6), WIDTH, HEIGHT)   # location (6, 3), canvas 8 x 4
    # (-10, -10, 20, 20): unscaled (-8, -4, 16, 8), uncentred (-2, -1, 22, 11) -> (0, 0, 20, 10).
    assert decode_box([-10, -10, 20, 20], geometry) == Box(0, 0, 20, 10)
    # (30, 30, 40, 40): unscaled (24, 12, 32, 16), uncentred (30, 15, 38, 19): the authors
    # clip x2 <= 20 and y2 <= 10 but leave x1, y1 alone.
    assert decode_box([30, 30, 40, 40], geometry) == Box(30, 15, 20, 10)


def test_decode_rejects_a_diverged_output():
    geometry = crop_geometry(Box(8, 4, 12, 6), WIDTH, HEIGHT)
    with pytest.raises(ValueError, match="not finite"):
        decode_box([np.nan, 0, 1, 1], geometry)
    with pytest.raises(ValueError, match="shape"):
        decode_boxes([1, 2, 3], geometry)


def random_boxes(rng, count, width, height):
    """Boxes inside a width x height image, 2 px to the full size."""
    size = rng.uniform(2, [width, height], (count, 2))
    corner = rng.uniform(0, 1, (count, 2)) * ([width, height] - size)
    return np.concatenate([corner, corner + size], axis=1)


def test_round_trip_recovers_random_boxes():
    rng = np.random.default_rng(7)
    width, height = 640, 360
    boxes = random_boxes(rng, 500, width, height)
    for crop_box in random_boxes(rng, 50, width, height):   # crops anywhere, padded or not
        geometry = crop_geometry(Box(*crop_box), width, height)
        coded = scale(recenter(boxes, geometry), geometry)
        np.testing.assert_allclose(uncenter(unscale(coded, geometry), geometry), boxes, atol=1e-4)
        np.testing.assert_allclose(decode_boxes(encode_boxes(boxes, geometry), geometry), boxes,
                                   atol=1e-4)


def test_a_network_output_equal_to_the_label_gives_the_true_box():
    # The tracker's path: crop at the previous box, the net outputs the label (float32,
    # as Caffe does), decode -> the current box.
    image = make_image(640, 360)
    previous, current = Box(100, 50, 180, 110), Box(112, 47, 196, 109)
    _, geometry = crop_and_resize(image, previous)
    output = encode_box(current, geometry).astype(np.float32)
    decoded = decode_box(output, geometry)
    np.testing.assert_allclose(decoded.as_array(), current.as_array(), atol=1e-3)
