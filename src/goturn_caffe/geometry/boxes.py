"""Axis-aligned boxes: the one box type shared by datasets, training and tracking.

A :class:`Box` is ``(x1, y1, x2, y2)`` in continuous pixel coordinates of the
image it belongs to (0-based: the left edge of the first pixel column is 0).
Conversions keep each annotation format's own origin except where the
authors' loader says otherwise (ALOV300++ is 1-based and is shifted by -1).

The text form is here too: :func:`parse_numbers` / :func:`parse_region` /
:func:`parse_xywh` read the ``x,y,w,h`` (and polygon) lines of VOT, OTB, our
results files and ``--box``, and :func:`pixel_rect` turns a box into the integer
rectangle that OpenCV's APIs take.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np


@dataclass(frozen=True)
class Box:
    """An axis-aligned box ``(x1, y1, x2, y2)``; coordinates must be finite."""

    x1: float
    y1: float
    x2: float
    y2: float

    def __post_init__(self):
        for name in ("x1", "y1", "x2", "y2"):
            value = float(getattr(self, name))
            if not math.isfinite(value):
                raise ValueError(f"box coordinate {name}={value} is not finite")
            object.__setattr__(self, name, value)

    # ---- views -----------------------------------------------------------
    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def center_x(self) -> float:
        return (self.x1 + self.x2) / 2.0

    @property
    def center_y(self) -> float:
        return (self.y1 + self.y2) / 2.0

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)

    def as_array(self) -> np.ndarray:
        """``[x1, y1, x2, y2]`` as float64, shape (4,)."""
        return np.array([self.x1, self.y1, self.x2, self.y2], dtype=np.float64)

    def to_xywh(self) -> tuple[float, float, float, float]:
        """``(x, y, w, h)``: the OTB / VOT rectangle form."""
        return (self.x1, self.y1, self.width, self.height)

    # ---- constructors ----------------------------------------------------
    @classmethod
    def from_array(cls, values: Sequence[float]) -> "Box":
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if values.size != 4:
            raise ValueError(f"a box needs 4 numbers (x1, y1, x2, y2), got {values.size}")
        return cls(*values)

    @classmethod
    def from_xywh(cls, x: float, y: float, w: float, h: float) -> "Box":
        """From an OTB / VOT rectangle ``x, y, w, h`` (same origin as the file)."""
        return cls(x, y, float(x) + float(w), float(y) + float(h))

    @classmethod
    def from_polygon(cls, coords: Sequence[float]) -> "Box":
        """The min/max box of a polygon ``x1, y1, x2, y2, ...`` (VOT ground truth).

        Four numbers are read as a VOT rectangle ``x, y, w, h``.
        """
        coords = np.asarray(coords, dtype=np.float64).reshape(-1)
        if coords.size == 4:
            return cls.from_xywh(*coords)
        if coords.size < 6 or coords.size % 2:
            raise ValueError(
                f"a polygon needs an even number (>= 6) of coordinates, got {coords.size}")
        xs, ys = coords[0::2], coords[1::2]
        return cls(xs.min(), ys.min(), xs.max(), ys.max())

    @classmethod
    def from_alov(cls, coords: Sequence[float]) -> "Box":
        """From the 8 corner numbers of an ALOV300++ ``.ann`` line (frame number removed).

        ALOV is 1-based; the authors take the min/max box and subtract 1.
        """
        coords = np.asarray(coords, dtype=np.float64).reshape(-1)
        if coords.size != 8:
            raise ValueError(f"an ALOV annotation has 8 corner numbers, got {coords.size}")
        box = cls.from_polygon(coords)
        return cls(box.x1 - 1, box.y1 - 1, box.x2 - 1, box.y2 - 1)

    # ---- operations ------------------------------------------------------
    def clip(self, image_width: float, image_height: float) -> "Box":
        """Clip to the image ``[0, width] x [0, height]``."""
        return Box(
            min(max(self.x1, 0.0), image_width), min(max(self.y1, 0.0), image_height),
            min(max(self.x2, 0.0), image_width), min(max(self.y2, 0.0), image_height))

    def scaled(self, sx: float, sy: float) -> "Box":
        """Multiply x by ``sx`` and y by ``sy`` (an image resized by those factors)."""
        return Box(self.x1 * sx, self.y1 * sy, self.x2 * sx, self.y2 * sy)

    def iou(self, other: "Box") -> float:
        """Intersection over union of two boxes (0 when either is empty)."""
        ix = min(self.x2, other.x2) - max(self.x1, other.x1)
        iy = min(self.y2, other.y2) - max(self.y1, other.y1)
        if ix <= 0 or iy <= 0:
            return 0.0
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def is_valid(self) -> bool:
        """Positive width and height."""
        return self.x2 > self.x1 and self.y2 > self.y1

    def overlaps_image(self, image_width: float, image_height: float) -> bool:
        """True when the box covers some of the image (it may stick out partly)."""
        return bool(overlaps_image(self.x1, self.y1, self.x2, self.y2, image_width, image_height))


def overlaps_image(x1, y1, x2, y2, image_width, image_height):
    """Whether the box ``(x1, y1, x2, y2)`` covers some of the ``image_width`` x
    ``image_height`` image (it may stick out partly); elementwise on numpy
    arrays of coordinates (a bool array), a bool for numbers."""
    return (x2 > 0) & (y2 > 0) & (x1 < image_width) & (y1 < image_height)


def pixel_rect(box: Box, rounding: str = "nearest",
               min_size: Optional[int] = None) -> tuple[int, int, int, int]:
    """``box`` as the integer ``(x, y, w, h)`` that pixel APIs (OpenCV's trackers) take.

    ``rounding="nearest"``: x, y, w and h each rounded to the nearest integer
    (Python's ``round``: halves to even).  ``rounding="truncate"``: each cut
    towards zero, as C++ turns a float into an ``int`` -- what OpenCV's own
    GOTURN loop works with, so its reproduction keeps it.  ``min_size``, when
    given: w and h raised to at least this.
    """
    if rounding == "nearest":
        x, y, w, h = (int(round(v)) for v in box.to_xywh())
    elif rounding == "truncate":
        x, y, w, h = (int(v) for v in box.to_xywh())
    else:
        raise ValueError(f"unknown rounding {rounding!r} (nearest or truncate)")
    if min_size is not None:
        w, h = max(min_size, w), max(min_size, h)
    return x, y, w, h


# ---- text form: one annotation line -----------------------------------------
_SEPARATORS = re.compile(r"[,\s]+")


def parse_numbers(line: str) -> tuple[float, ...]:
    """The numbers of one line, separated by commas and/or whitespace (any count,
    NaN and infinities included); ValueError on a field that is not a number."""
    try:
        return tuple(float(v) for v in _SEPARATORS.split(line.strip()) if v)
    except ValueError:
        raise ValueError(f"non-numeric value in {line.strip()!r}") from None


def is_region_length(count: int, polygon: bool = True) -> bool:
    """Whether ``count`` numbers make a region: 4 (``x,y,w,h``) or, with
    ``polygon``, an even count >= 6."""
    return count == 4 or (polygon and count >= 6 and count % 2 == 0)


def parse_region(line: str, polygon: bool = True, finite: bool = True) -> tuple[float, ...]:
    """One region line -> its numbers: 4 (a rectangle ``x,y,w,h``) or, with
    ``polygon``, an even count >= 6 (``x1,y1,x2,y2,...``).  ValueError naming
    the problem: a non-number, a wrong count, or (with ``finite``) NaN or an
    infinity.  The caller adds the file and line number."""
    numbers = parse_numbers(line)
    count = len(numbers)
    if not is_region_length(count, polygon):
        raise ValueError(f"expected 4 (x,y,w,h) or an even number >= 6 (polygon) of values, got {count}"
                         if polygon else f"expected four numbers x,y,w,h, got {count}")
    if finite and not all(math.isfinite(v) for v in numbers):
        raise ValueError(f"non-finite value in {line.strip()!r}")
    return numbers


def parse_xywh(line: str) -> Box:
    """One ``x,y,w,h`` line (commas and/or whitespace) -> Box; ValueError unless
    it is four finite numbers (see :func:`parse_region`)."""
    return Box.from_xywh(*parse_region(line, polygon=False))
