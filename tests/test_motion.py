"""The motion model: its distribution, its limits, its retries and its errors."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goturn_caffe.geometry.boxes import Box
from goturn_caffe.geometry.motion import MAX_TRIES, MotionModel, check_boxes

SAMPLES = 100_000


def shifted_many(model, box, width, height, seed=0, count=SAMPLES):
    boxes = np.repeat(box.as_array()[None], count, axis=0)
    return model.shift_boxes(boxes, width, height, np.random.default_rng(seed))


def test_laplace_distribution_matches_the_paper():
    # A 100 x 80 box in the middle of a large image: the image borders never bind.
    box = Box(1950, 1460, 2050, 1540)
    out = shifted_many(MotionModel(), box, 4000, 3000)
    width, height = out[:, 2] - out[:, 0], out[:, 3] - out[:, 1]
    dx = (out[:, 0] + out[:, 2]) / 2 - box.center_x
    dy = (out[:, 1] + out[:, 3]) / 2 - box.center_y

    # |Laplace(b)| is exponential with median b ln 2.  Shift b = 1/5: ln2/5 = 0.1386; the
    # redraw of |dx| > w (mass e^-5 = 0.7 %) lowers the median to -ln(0.50337)/5 = 0.1373.
    assert np.median(np.abs(dx) / box.width) == pytest.approx(math.log(2) / 5, abs=0.004)
    assert np.median(np.abs(dy) / box.height) == pytest.approx(math.log(2) / 5, abs=0.004)
    # Scale b = 1/15: ln2/15 = 0.0462 (the +-0.4 clamp is far in the tail).
    assert np.median(np.abs(width / box.width - 1)) == pytest.approx(math.log(2) / 15, abs=0.002)
    assert np.median(np.abs(height / box.height - 1)) == pytest.approx(math.log(2) / 15, abs=0.002)

    # The clamps: scale change within [-0.4, 0.4]; the centre within one box size (k / 2).
    eps = 1e-9
    assert (np.abs(width / box.width - 1) <= 0.4 + eps).all()
    assert (np.abs(height / box.height - 1) <= 0.4 + eps).all()
    assert (np.abs(dx) <= box.width + eps).all() and (np.abs(dy) <= box.height + eps).all()
    # The clamp is reached (P(|L| > 0.4) = e^-6 = 0.25 %), and both signs occur.
    assert (np.abs(width / box.width - 1) > 0.4 - eps).mean() == pytest.approx(math.exp(-6), abs=0.001)
    assert (dx > 0).mean() == pytest.approx(0.5, abs=0.01)


def test_uniform_ablation_distribution():
    box = Box(1950, 1460, 2050, 1540)
    out = shifted_many(MotionModel(smooth=False), box, 4000, 3000)
    change = (out[:, 2] - out[:, 0]) / box.width - 1
    # Uniform on [-0.4, 0.4]: quartiles -0.2, 0, 0.2, no mass beyond the ends.
    np.testing.assert_allclose(np.percentile(change, [25, 50, 75]), [-0.2, 0, 0.2], atol=0.01)
    assert change.min() >= -0.4 and change.max() <= 0.4
    # New centre = cx + U * 2w' - w': uniform over +-w', redrawn beyond one old width.
    new_width = out[:, 2] - out[:, 0]
    dx = (out[:, 0] + out[:, 2]) / 2 - box.center_x
    assert (np.abs(dx) <= new_width + 1e-9).all() and (np.abs(dx) <= box.width + 1e-9).all()
    # A uniform shift has far more large moves than the Laplace one (P(|dx| > w/2) = 0.5 / 1.0
    # for w' = w, versus e^-2.5 = 8 % for Laplace).
    assert (np.abs(dx) > box.width / 2).mean() > 0.4


@pytest.mark.parametrize("box", [Box(0, 0, 30, 20), Box(570, 340, 640, 360), Box(-10, 100, 25, 130),
                                 Box(0, 0, 640, 360)])
def test_shifted_boxes_stay_inside_the_image(box):
    out = shifted_many(MotionModel(), box, 640, 360, count=20_000)
    eps = 1e-9
    assert (out[:, 0] >= -eps).all() and (out[:, 1] >= -eps).all()
    assert (out[:, 2] <= 640 + eps).all() and (out[:, 3] <= 360 + eps).all()
    # Sizes kept within [1, image size - 1].
    assert (out[:, 2] - out[:, 0] <= 639 + eps).all() and (out[:, 3] - out[:, 1] <= 359 + eps).all()


def test_reproducible_for_a_fixed_seed():
    box = Box(100, 100, 160, 140)
    first = shifted_many(MotionModel(), box, 640, 360, seed=42, count=1000)
    again = shifted_many(MotionModel(), box, 640, 360, seed=42, count=1000)
    other = shifted_many(MotionModel(), box, 640, 360, seed=43, count=1000)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    # One box at a time is the same sampler on a single row.
    single = MotionModel().shift(box, 640, 360, np.random.default_rng(42))
    one_row = MotionModel().shift_boxes(box.as_array(), 640, 360, np.random.default_rng(42))
    assert single == Box(*one_row[0])


class ScriptedRng:
    """Stands in for a Generator: hands out scripted Laplace values (in units of the
    scale, i.e. the authors' log(U) * sign) one per sample, in the order drawn."""

    def __init__(self, values):
        self.values = list(values)

    def laplace(self, loc, scale, size):
        taken, self.values = self.values[:size], self.values[size:]
        return loc + scale * np.array(taken, dtype=np.float64)


def test_retry_semantics_by_hand():
    # Box 100 x 50 at centre (500, 300) in a 1000 x 600 image.  Draw order: width, height,
    # then x (with redraws), then y.  lambda_scale = lambda_shift = 1 so the scripted values
    # are the samples themselves.
    model = MotionModel(lambda_shift=1, lambda_scale=1)
    script = [
        1.0,          # width: change 1.0 clamped to 0.4 -> 140
        -0.1,         # height: 50 * 0.9 = 45
        2.0, 0.5,     # x: 500 + 100 * 2 = 700 is beyond one width (600): redrawn; 500 + 50 = 550
        -0.3,         # y: 300 - 50 * 0.3 = 285, accepted at once
    ]
    out = model.shift(Box(450, 275, 550, 325), 1000, 600, ScriptedRng(script))
    assert out.as_array() == pytest.approx([550 - 70, 285 - 22.5, 550 + 70, 285 + 22.5])


def test_last_draw_stands_after_ten_tries():
    # Every x draw moves the centre 6 widths (500 + 600 = 1100, clamped to 1000 - 100/2 =
    # 950, still 4.5 widths away): redrawn until MAX_TRIES draws, then the last one is kept.
    model = MotionModel(lambda_shift=1, lambda_scale=1)
    script = [0.0, 0.0] + [6.0] * MAX_TRIES + [0.0]
    rng = ScriptedRng(script)
    out = model.shift(Box(450, 275, 550, 325), 1000, 600, rng)
    assert out.as_array() == pytest.approx([900, 275, 1000, 325])
    assert rng.values == []   # exactly 10 x draws were made


def test_window_clamp_keeps_the_box_inside():
    # A move to the left of the image is clamped to new_w / 2 and, being within one width
    # of the old centre, accepted: box 40 wide at centre 30 moved by -0.9 w = -36 -> 20.
    model = MotionModel(lambda_shift=1, lambda_scale=1)
    out = model.shift(Box(10, 10, 50, 30), 200, 100, ScriptedRng([0.0, 0.0, -0.9, 0.0]))
    assert out.as_array() == pytest.approx([0, 10, 40, 30])


# ---- bad input ------------------------------------------------------------------

finite = st.floats(-1e4, 1e4, allow_nan=False)


@settings(max_examples=100, deadline=None)
@given(finite, finite, st.floats(-50, 0), st.floats(1, 50), st.booleans())
def test_zero_or_negative_size_is_rejected(x, y, empty, full, along_x):
    w, h = (empty, full) if along_x else (full, empty)
    with pytest.raises(ValueError, match="zero or negative size"):
        MotionModel().shift_boxes([x, y, x + w, y + h], 640, 360, np.random.default_rng(0))


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 2000), st.integers(1, 2000), st.floats(1, 500), st.floats(1, 500),
       st.sampled_from(["left", "right", "above", "below"]), st.floats(0, 1000))
def test_a_box_outside_the_image_is_rejected(width, height, w, h, side, gap):
    x = {"left": -w - gap, "right": width + gap}.get(side, width / 2)
    y = {"above": -h - gap, "below": height + gap}.get(side, height / 2)
    with pytest.raises(ValueError, match="lies outside"):
        MotionModel().shift_boxes([x, y, x + w, y + h], width, height, np.random.default_rng(0))


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 3), st.sampled_from([math.nan, math.inf, -math.inf]))
def test_non_finite_coordinates_are_rejected(position, bad):
    coords = [10.0, 10.0, 50.0, 40.0]
    coords[position] = bad
    with pytest.raises(ValueError, match="non-finite"):
        MotionModel().shift_boxes(coords, 640, 360, np.random.default_rng(0))
    with pytest.raises(ValueError, match="not finite"):
        Box(*coords)   # the Box type refuses it before the motion model sees it


def test_the_error_names_the_bad_box():
    boxes = [[10, 10, 50, 40], [5, 5, 5, 9]]
    with pytest.raises(ValueError, match=r"\(5\.0, 5\.0, 5\.0, 9\.0\) has zero"):
        check_boxes(boxes, 640, 360)
    with pytest.raises(ValueError, match="image size"):
        check_boxes(boxes, 0, 360)
    with pytest.raises(ValueError, match="shape"):
        check_boxes([1, 2, 3], 640, 360)


@pytest.mark.parametrize("kwargs", [dict(lambda_shift=0), dict(lambda_scale=-1),
                                    dict(min_scale=0.5, max_scale=0.4), dict(min_scale=-1)])
def test_bad_parameters_are_rejected(kwargs):
    with pytest.raises(ValueError):
        MotionModel(**kwargs)
