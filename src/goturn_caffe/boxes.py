"""Axis-aligned boxes: the one box type shared by datasets, training and tracking.

A :class:`Box` is ``(x1, y1, x2, y2)`` in continuous pixel coordinates of the
image it belongs to (0-based: the left edge of the first pixel column is 0).
Conversions keep each annotation format's own origin except where the
authors' loader says otherwise (ALOV300++ is 1-based and is shifted by -1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

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
    def from_center_size(cls, cx: float, cy: float, w: float, h: float) -> "Box":
        return cls(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)

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


def boxes_to_array(boxes: Iterable[Box]) -> np.ndarray:
    """Stack boxes into an ``(N, 4)`` float64 array."""
    rows = [b.as_array() for b in boxes]
    return np.stack(rows) if rows else np.zeros((0, 4), dtype=np.float64)
