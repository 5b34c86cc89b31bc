"""Region overlap: the VOT toolkit's pixel rasterisation, checked independently."""

import math

import numpy as np
import pytest

from goturn_caffe.vot.overlap import GroundTruthRaster, region_mask, region_overlap


def rotated_rectangle(cx, cy, w, h, angle) -> tuple:
    corners = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return tuple((corners @ rotation.T + [cx, cy]).ravel())


def pixel_rule_masks(box, polygon, width, height):
    """The toolkit's pixel model, derived independently for a convex polygon:
    vertices rounded; on every integer row y the polygon's horizontal chord
    [xl, xr] covers pixel columns floor(xl) .. floor(xr); a rectangle x,y,w,h
    (rounded) covers columns x .. x+w-1 and rows y .. y+h-1."""
    poly = np.round(np.asarray(polygon, dtype=np.float32)).astype(np.float64).reshape(-1, 2)
    in_polygon = np.zeros((height, width), dtype=bool)
    for y in range(height):
        xs = []
        for (x0, y0), (x1, y1) in zip(poly, np.roll(poly, -1, axis=0)):
            if min(y0, y1) <= y <= max(y0, y1):
                xs += [x0, x1] if y0 == y1 else [x0 + (y - y0) * (x1 - x0) / (y1 - y0)]
        if xs:
            left, right = max(0, math.floor(min(xs))), min(width - 1, math.floor(max(xs)))
            in_polygon[y, left:right + 1] = True
    x, y, w, h = (int(v) for v in np.round(np.asarray(box, dtype=np.float32)))
    in_box = np.zeros((height, width), dtype=bool)
    in_box[max(0, y):max(0, y + h), max(0, x):max(0, x + w)] = True
    return in_box, in_polygon


def fine_grid_iou(box, polygon, samples_per_pixel=8, extent=400):
    """Continuous IoU by point sampling on a fine grid (no pixel rules at all)."""
    step = 1.0 / samples_per_pixel
    ys, xs = np.mgrid[step / 2:extent:step, step / 2:extent:step]
    x, y, w, h = box
    in_box = (xs >= x) & (xs < x + w) & (ys >= y) & (ys < y + h)
    poly = np.asarray(polygon).reshape(-1, 2)
    inside = np.ones_like(in_box)
    for (x0, y0), (x1, y1) in zip(poly, np.roll(poly, -1, axis=0)):   # convex, clockwise in image
        inside &= (x1 - x0) * (ys - y0) - (y1 - y0) * (xs - x0) >= 0
    return (in_box & inside).sum() / (in_box | inside).sum()


@pytest.mark.parametrize("angle", [0.0, 0.3, -0.7, math.pi / 4, 1.2])
def test_box_vs_rotated_polygon_matches_independent_pixel_rule(angle):
    polygon = rotated_rectangle(160.3, 140.6, 170.0, 90.0, angle)
    box = (95.4, 90.2, 140.0, 110.0)
    in_box, in_polygon = pixel_rule_masks(box, polygon, 320, 240)
    expected = (in_box & in_polygon).sum() / (in_box | in_polygon).sum()
    assert region_overlap(box, polygon, (320, 240)) == pytest.approx(expected, abs=1e-3)
    assert GroundTruthRaster(polygon, (320, 240)).overlap(box) == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("angle", [0.2, 0.9])
def test_large_regions_approach_the_continuous_iou(angle):
    # The pixel model adds about one pixel row/column to a polygon: for regions
    # of ~200 px the overlap is the continuous IoU within 0.015.
    polygon = rotated_rectangle(200.0, 200.0, 220.0, 160.0, angle)
    box = (110.0, 130.0, 200.0, 150.0)
    continuous = fine_grid_iou(box, polygon)
    assert 0.3 < continuous < 0.9
    assert region_overlap(box, polygon) == pytest.approx(continuous, abs=0.015)


def test_simple_cases_by_hand():
    assert region_overlap((10, 10, 20, 20), (10, 10, 20, 20)) == 1.0
    assert region_overlap((10, 10, 20, 20), (10, 10, 10, 20)) == 0.5      # 200 / 400 pixels
    assert region_overlap((10, 10, 20, 20), (40, 40, 5, 5)) == 0.0
    # the polygon of a rectangle covers one more column and row than the rectangle x,y,w,h:
    # 21 x 21 pixels (rows/columns 10..30) against 20 x 20
    assert region_overlap((10, 10, 20, 20), (10, 10, 30, 10, 30, 30, 10, 30)) == pytest.approx(400 / 441)
    # pixels outside the image do not count: 10 x 20 inside on each side
    assert region_overlap((-10, 0, 20, 20), (-10, 0, 20, 20), bounds=(100, 100)) == 1.0
    assert region_overlap((-10, 0, 20, 20), (-10, 0, 15, 20), bounds=(100, 100)) == pytest.approx(0.5)
    assert region_overlap((200, 200, 10, 10), (205, 200, 10, 10), bounds=(100, 100)) == 0.0
    assert region_overlap(None, (10, 10, 20, 20), bounds=(100, 100)) == 0.0
    mask = region_mask((2, 3, 4, 2), (0, 0, 9, 9))
    assert mask.sum() == 8 and mask[3:5, 2:6].all()


def random_region(rng, kind):
    if kind == 0:
        return tuple(rng.uniform(-30, 220, 2)) + tuple(rng.uniform(-5, 120, 2))
    if kind == 1:
        return rotated_rectangle(*rng.uniform(-20, 220, 2), *rng.uniform(1, 100, 2), rng.uniform(-3, 3))
    if kind == 2:
        return tuple(rng.uniform(-20, 220, 2 * int(rng.integers(3, 8))))
    return tuple(np.round(rng.uniform(-10, 210, 4) * 2) / 2)          # .5 ties


def test_cached_ground_truth_raster_equals_the_direct_overlap():
    rng = np.random.default_rng(1)
    for _ in range(300):
        size = tuple(int(v) for v in rng.integers(20, 200, 2))
        truth = random_region(rng, int(rng.integers(0, 3)))
        raster = GroundTruthRaster(truth, size)
        for _ in range(4):
            box = random_region(rng, int(rng.choice([0, 3])))
            assert raster.overlap(box) == region_overlap(box, truth, size), (box, truth, size)


def test_overlap_equals_the_vot_toolkit():
    vot_region = pytest.importorskip("vot.region")
    from vot.region.shapes import Polygon, Rectangle

    def toolkit(region):
        return Rectangle(*region) if len(region) == 4 else Polygon(list(zip(region[0::2], region[1::2])))

    rng = np.random.default_rng(2)
    for case in range(600):
        size = tuple(int(v) for v in rng.integers(20, 200, 2)) if case % 3 else None
        first, second = random_region(rng, int(rng.integers(0, 4))), random_region(rng, int(rng.integers(0, 4)))
        expected = vot_region.calculate_overlap(toolkit(first), toolkit(second), size)
        assert region_overlap(first, second, size) == pytest.approx(expected, abs=1e-12), (first, second, size)
        if size is not None and len(first) == 4:
            assert GroundTruthRaster(second, size).overlap(first) == pytest.approx(expected, abs=1e-12)
