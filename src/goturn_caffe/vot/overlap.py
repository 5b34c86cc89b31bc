"""Region overlap exactly as the VOT toolkit computes it (``vot.region.calculate_overlap``).

A region is a tuple of numbers: 4 are a rectangle ``x, y, w, h``, an even
count >= 6 a polygon ``x1, y1, x2, y2, ...``; ``None`` is an empty region.
Both regions are rasterised on the integer pixel grid inside the union of
their bounding boxes, clipped to the image (``bounds = (width, height)``), and
the overlap is |A and B| / |A or B| in pixels. This is not the continuous IoU
of the min/max boxes: for a static box on VOT2014 ``car`` the mean accuracy
differs by about 0.005, so the toolkit's rasterisation is reproduced rule for
rule (coordinates rounded, a rectangle covers ``x .. x + w - 1``, polygons by
scanline with the toolkit's node rules), including its corner cases (two
regions whose union box is a single row or column count as identical).
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

Region = Optional[Sequence[float]]
RasterBounds = tuple  # (left, top, right, bottom), inclusive pixel indices


def _rounded(region: Sequence[float]) -> np.ndarray:
    # The toolkit stores coordinates as float32 and rounds those (half to even).
    return np.round(np.asarray(region, dtype=np.float32)).astype(np.float64)


def region_bounds(region: Region) -> RasterBounds:
    """Inclusive pixel bounds ``(left, top, right, bottom)`` of a region; (0, 0, 0, 0) if empty."""
    if region is None:
        return (0, 0, 0, 0)
    values = _rounded(region)
    if values.size == 4:
        x, y, w, h = values
        return (int(x), int(y), int(x + w - 1), int(y + h - 1))
    xs, ys = values[0::2], values[1::2]
    return (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))


def _rectangle_mask(values: np.ndarray, bounds: RasterBounds) -> np.ndarray:
    left, top, right, bottom = bounds
    mask = np.zeros((bottom - top + 1, right - left + 1), dtype=bool)
    x, y, w, h = (int(v) for v in values)
    if x > right or x + w - 1 < left or y > bottom or y + h - 1 < top:
        return mask
    # The toolkit clamps the far edge with the absolute bound (a no-op inside the image).
    col0, row0 = max(0, x - left), max(0, y - top)
    col1, row1 = min(right, x + w - 1 - left), min(bottom, y + h - 1 - top)
    mask[row0:row1 + 1, col0:col1 + 1] = True
    return mask


def _polygon_crossings(values: np.ndarray, bounds: RasterBounds) -> tuple:
    """The scanline crossings of a polygon's edges with the raster rows.

    Every edge whose closed y-range holds a row crosses it at
    ``trunc((x_i - left) + (row - y_i) / rise * run)`` in raster columns, in the
    toolkit's floating-point order: which side of an integer a crossing lands
    on can depend on ``left``. Returns ``(first_row, nodes, count)``: nodes
    (R, N) float sorted per row (edges off the row last, as inf) for the rows
    ``first_row ..`` that the polygon spans inside the raster, count (R,) the
    crossings per row; R is 0 when the polygon misses the raster rows.
    """
    left, top, right, bottom = bounds
    points = values.reshape(-1, 2) - np.array([left, top], dtype=np.float64)
    xi, yi = points[:, 0], points[:, 1]
    previous = np.arange(len(points)) - 1
    xj, yj = xi[previous], yi[previous]                   # edge i runs from vertex i-1 to i
    first_row, last_row = max(0, int(yi.min())), min(bottom - top, int(yi.max()))
    rows = np.arange(first_row, last_row + 1, dtype=np.float64)[:, None]   # (R, 1)
    crosses = (rows >= np.minimum(yi, yj)) & (rows <= np.maximum(yi, yj))  # (R, N)
    rise, run = yj - yi, xj - xi
    with np.errstate(divide="ignore", invalid="ignore"):
        node_x = np.where(rise != 0, xi + (rows - yi) / rise * run, xi)
    nodes = np.sort(np.where(crosses, np.trunc(node_x), np.inf), axis=1)
    return first_row, nodes, crosses.sum(axis=1)


def _fill_crossings(first_row: int, nodes: np.ndarray, count: np.ndarray,
                    height: int, width: int) -> np.ndarray:
    """Fill the sorted crossings pairwise per row (the toolkit's walk: stop at a
    crossing right of the raster, skip a repeated crossing once unless it is the
    last pair, clamp to the raster) -> (height, width) bool, rows vectorised."""
    mask = np.zeros((height, width), dtype=bool)
    if not len(nodes):
        return mask
    row_ids = np.arange(len(nodes))
    last = nodes.shape[1] - 1
    index = np.zeros(len(nodes), dtype=np.int64)
    active = count > 1
    spans = []                                             # (row, start, stop) per filled pair
    while active.any():
        first = nodes[row_ids, np.minimum(index, last)]
        second = nodes[row_ids, np.minimum(index + 1, last)]
        active &= first < width
        skip = active & (first == second) & (index < count - 2)
        fill = active & ~skip & (second >= 0)
        spans.append((row_ids[fill], np.maximum(first[fill], 0), np.minimum(second[fill], width - 1)))
        index += np.where(skip, 1, 2)
        active &= index < count - 1
    span_rows, starts, stops = (np.concatenate(parts) for parts in zip(*spans))
    if not len(span_rows):
        return mask
    # Paint the spans with a difference array: +1 at each start, -1 after each stop.
    flat = (span_rows + first_row) * (width + 1)
    edges = np.bincount(np.concatenate([flat + starts.astype(np.int64),
                                        flat + stops.astype(np.int64) + 1]),
                        weights=np.repeat([1.0, -1.0], len(flat)),
                        minlength=height * (width + 1))
    return np.cumsum(edges.reshape(height, width + 1), axis=1)[:, :width] > 0.5


def _polygon_mask(values: np.ndarray, bounds: RasterBounds) -> np.ndarray:
    left, top, right, bottom = bounds
    return _fill_crossings(*_polygon_crossings(values, bounds), bottom - top + 1, right - left + 1)


def region_mask(region: Region, bounds: RasterBounds) -> np.ndarray:
    """Boolean (H, W) raster of ``region`` over the inclusive pixel ``bounds``."""
    left, top, right, bottom = bounds
    if region is None:
        return np.zeros((bottom - top + 1, right - left + 1), dtype=bool)
    values = _rounded(region)
    if values.size == 4:
        return _rectangle_mask(values, bounds)
    return _polygon_mask(values, bounds)


def raster_bounds(first: RasterBounds, second: RasterBounds,
                  bounds: Optional[tuple] = None) -> Optional[RasterBounds]:
    """The pixels the toolkit rasterises two regions over: the union of their bounds,
    clipped to the image ``bounds = (width, height)``.

    Returns None when the union is a single row or column (the toolkit then calls
    the regions identical, overlap 1) and an empty tuple when the clipped union
    is (they are outside the image, overlap 0).
    """
    union = (min(first[0], second[0]), min(first[1], second[1]),
             max(first[2], second[2]), max(first[3], second[3]))
    if union[0] >= union[2] or union[1] >= union[3]:
        return None
    if bounds is not None:
        union = (max(0, union[0]), max(0, union[1]),
                 min(int(bounds[0]) - 1, union[2]), min(int(bounds[1]) - 1, union[3]))
        if union[0] >= union[2] or union[1] >= union[3]:
            return ()
    return union


def region_overlap(first: Region, second: Region, bounds: Optional[tuple] = None) -> float:
    """Pixel overlap |A & B| / |A | B| of two regions, as ``vot.region.calculate_overlap``.

    ``bounds``: the image ``(width, height)``; pixels outside it do not count.
    """
    union = raster_bounds(region_bounds(first), region_bounds(second), bounds)
    if union is None:
        return 1.0
    if not union:
        return 0.0
    mask_a, mask_b = region_mask(first, union), region_mask(second, union)
    total = np.count_nonzero(mask_a | mask_b)
    return float(np.count_nonzero(mask_a & mask_b)) / total if total else 0.0


class GroundTruthRaster:
    """One ground-truth region rasterised once inside the image, then overlapped
    with many tracker rectangles in O(1) each (a summed-area table).

    ``overlap(rectangle)`` equals ``region_overlap(rectangle, region, image_size)``.
    The toolkit rasterises over the union window of both regions; a rectangle's
    pixels and a polygon's rows do not depend on that window, but a polygon
    crossing computed relative to the window's left edge can round to the other
    side of an integer. So the raster is built over the region's own window,
    and a query whose window starts further left recomputes the crossings
    there and uses them (cached per left edge) when any of them differs.
    """

    def __init__(self, region: Region, image_size: tuple):
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.values = _rounded(region)
        self.bounds = region_bounds(region)
        left, top, right, bottom = self.bounds
        self.window = (max(0, left), max(0, top),
                       min(self.image_size[0] - 1, right), min(self.image_size[1] - 1, bottom))
        self.empty = self.window[0] > self.window[2] or self.window[1] > self.window[3]
        self.crossings = None
        if self.empty:
            mask = np.zeros((0, 0), dtype=bool)
        elif self.values.size == 4:
            mask = _rectangle_mask(self.values, self.window)
        else:
            self.crossings = _polygon_crossings(self.values, self.window)
            mask = _fill_crossings(*self.crossings, *self._shape(self.window[0]))
        # left edge of a raster window -> (origin column, summed-area table) drawn there
        self.rasters = {self.window[0]: (self.window[0], self._summed_area(mask))}

    def _shape(self, left: int) -> tuple:
        return self.window[3] - self.window[1] + 1, self.window[2] - left + 1

    @staticmethod
    def _summed_area(mask: np.ndarray) -> np.ndarray:
        table = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), dtype=np.int64)
        table[1:, 1:] = mask.cumsum(axis=0).cumsum(axis=1)
        return table

    def _raster(self, left: int) -> tuple:
        """(origin column, summed-area table) of the region as the toolkit draws it
        in a window starting at column ``left`` (<= the region's own window)."""
        if left not in self.rasters:
            own = self.window[0]
            first_row, nodes, count = _polygon_crossings(self.values, (left,) + self.window[1:])
            if np.array_equal(nodes, self.crossings[1] + (own - left)):
                self.rasters[left] = self.rasters[own]
            else:
                self.rasters[left] = (left, self._summed_area(
                    _fill_crossings(first_row, nodes, count, *self._shape(left))))
        return self.rasters[left]

    def overlap(self, rectangle: Sequence[float]) -> float:
        """Overlap of a tracker rectangle ``(x, y, w, h)`` with the region."""
        x, y, w, h = (int(v) for v in _rounded(rectangle))
        union = raster_bounds((x, y, x + w - 1, y + h - 1), self.bounds, self.image_size)
        if union is None:
            return 1.0
        if not union:
            return 0.0
        left, top, right, bottom = union
        origin, table = self._raster(left) if self.crossings is not None \
            else self.rasters[self.window[0]]
        x0, y0 = max(x, left), max(y, top)
        x1, y1 = min(x + w - 1, right), min(y + h - 1, bottom)
        rect_pixels = max(0, x1 - x0 + 1) * max(0, y1 - y0 + 1)
        # The rectangle's pixels inside the region's raster (table coordinates).
        c0, r0 = max(x0, origin) - origin, max(y0, self.window[1]) - self.window[1]
        c1 = min(x1, self.window[2]) - origin + 1
        r1 = min(y1, self.window[3]) - self.window[1] + 1
        inside = 0
        if rect_pixels and not self.empty and c1 > c0 and r1 > r0:
            inside = int(table[r1, c1] - table[r0, c1] - table[r1, c0] + table[r0, c0])
        total = int(table[-1, -1]) + rect_pixels - inside
        return inside / total if total else 0.0
