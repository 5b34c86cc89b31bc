"""The search region around a box, and box coding in and out of it.

GOTURN looks at a box through a crop ``k`` times its size (context factor
``k = 2``) centred on it: ``crop_and_resize(frame, box)`` gives the 227 x 227
network input and a :class:`CropGeometry`; ``encode_box`` turns a box into the
network's label (coordinates in ``[0, scale_factor]`` of the crop) and
``decode_box`` turns the network's output back into a box in the frame.
Training (targets, searches, labels) and tracking use these same functions.

The semantics are the authors' (``ComputeCropPadImageLocation``,
``CropPadImage`` and ``BoundingBox::Recenter/Scale/Unscale/Uncenter`` of their
C++ release), including their quirks: the pixel rectangle is the truncation of
a fractional location, while the labels use the fractional location.  The one
deviation: where a floating-point rounding would make their ``cv::Rect`` reach
one pixel past the image or the canvas (an assertion failure in OpenCV), the
copied rectangle is shortened to fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Union

import cv2
import numpy as np

from goturn_caffe.geometry.boxes import Box
from goturn_caffe.geometry.preprocess import INPUT_SIZE

CONTEXT_FACTOR = 2.0   # crop size / box size (the paper's k1 = k2 = 2)
SCALE_FACTOR = 10.0    # labels span [0, 10] across the crop (the net's output range)


@dataclass(frozen=True)
class CropGeometry:
    """Where a search region lies in its image: what maps boxes in and out of it.

    ``location`` is the authors' search location (the crop's extent inside the
    image, fractional pixels); ``edge_spacing_x/y`` how far the crop sticks out
    past the left/top image border; ``canvas_width/height`` the padded crop's
    size before the resize to 227 (the unit of the labels).  ``image_roi``
    ``(x, y, width, height)`` and ``paste_x/y`` are the integer pixel
    rectangles actually copied: ``canvas[paste_y:paste_y + height,
    paste_x:paste_x + width] = image[y:y + height, x:x + width]``.
    """

    location: Box
    edge_spacing_x: float
    edge_spacing_y: float
    canvas_width: int
    canvas_height: int
    image_width: int
    image_height: int
    image_roi: tuple[int, int, int, int]
    paste_x: int
    paste_y: int

    @property
    def needs_padding(self) -> bool:
        """False when the image pixels fill the whole canvas (the crop is a plain view)."""
        x, y, width, height = self.image_roi
        return (self.paste_x, self.paste_y, width, height) != (
            0, 0, self.canvas_width, self.canvas_height)


@dataclass(frozen=True)
class _Axis:
    """One axis of the crop (x or y): the authors' formulas are the same for both."""

    location_start: float
    location_end: float
    edge_spacing: float
    canvas_size: int
    roi_start: int
    roi_size: int
    paste_start: int


def _crop_axis(start: float, end: float, image_size: int, context_factor: float) -> _Axis:
    center = (start + end) / 2.0
    output = max(1.0, context_factor * (end - start))  # the crop is at least 1 px
    # ComputeCropPadImageLocation: the crop centred on the box, cut at the image borders.
    location_start = max(0.0, center - output / 2)
    before = min(output / 2, center)
    after = min(output / 2, image_size - center)
    location_end = location_start + max(1.0, before + after)
    # CropPadImage: cv::Rect truncates the fractional location to int pixels.
    roi_start = int(min(location_start, image_size - 1))
    roi_size = int(min(image_size, max(1.0, math.ceil(location_end - location_start))))
    canvas_size = int(max(math.ceil(output), roi_size))
    edge_spacing = min(max(0.0, output / 2 - center), canvas_size - 1.0)
    paste_start = int(edge_spacing)
    # The one deviation (see the module docstring): never copy past an edge.
    roi_size = min(roi_size, image_size - roi_start, canvas_size - paste_start)
    return _Axis(location_start, location_end, edge_spacing, canvas_size,
                 roi_start, roi_size, paste_start)


def crop_geometry(box: Box, image_width: int, image_height: int,
                  context_factor: float = CONTEXT_FACTOR) -> CropGeometry:
    """The search region of ``box`` in an ``image_width`` x ``image_height`` image.

    Any finite box is accepted, as in the authors' tracker (a collapsed or
    off-image estimate still gives a crop of at least 1 pixel).
    """
    if image_width < 1 or image_height < 1:
        raise ValueError(f"cannot crop a {image_width}x{image_height} image")
    x = _crop_axis(box.x1, box.x2, int(image_width), context_factor)
    y = _crop_axis(box.y1, box.y2, int(image_height), context_factor)
    return CropGeometry(
        location=Box(x.location_start, y.location_start, x.location_end, y.location_end),
        edge_spacing_x=x.edge_spacing, edge_spacing_y=y.edge_spacing,
        canvas_width=x.canvas_size, canvas_height=y.canvas_size,
        image_width=int(image_width), image_height=int(image_height),
        image_roi=(x.roi_start, y.roi_start, x.roi_size, y.roi_size),
        paste_x=x.paste_start, paste_y=y.paste_start)


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or 0 in image.shape[:2]:
        shape = getattr(image, "shape", type(image).__name__)
        raise ValueError(f"expected an (H, W) or (H, W, C) image array, got {shape}")


def crop_pad(image: np.ndarray, box: Box, context_factor: float = CONTEXT_FACTOR):
    """The authors' ``CropPadImage``: ``(canvas, geometry)``.

    ``canvas`` is (canvas_height, canvas_width[, C]) with the image's dtype:
    the image pixels of the search region on a zero (black) background.  When
    no padding is needed it is a view into ``image`` (no copy): copy it before
    writing to it.
    """
    _check_image(image)
    geometry = crop_geometry(box, image.shape[1], image.shape[0], context_factor)
    x, y, width, height = geometry.image_roi
    pixels = image[y:y + height, x:x + width]
    if not geometry.needs_padding:
        return pixels, geometry
    right = geometry.canvas_width - geometry.paste_x - width
    bottom = geometry.canvas_height - geometry.paste_y - height
    canvas = cv2.copyMakeBorder(pixels, geometry.paste_y, bottom, geometry.paste_x, right,
                                cv2.BORDER_CONSTANT, value=0)
    return canvas, geometry


def crop_and_resize(image: np.ndarray, box: Box, context_factor: float = CONTEXT_FACTOR,
                    size: int = INPUT_SIZE, out: Optional[np.ndarray] = None):
    """The network's view of ``box``: ``(crop, geometry)``.

    ``crop`` is the :func:`crop_pad` canvas resized to ``size`` x ``size`` with
    bilinear interpolation (cv2.INTER_LINEAR, as the authors' cv::resize), same
    dtype and channels as ``image`` (BGR uint8 (227, 227, 3) for a frame).
    ``out``, a C-contiguous array of that shape and dtype (e.g. one row of a
    batch), receives the crop in place and is returned.
    """
    canvas, geometry = crop_pad(image, box, context_factor)
    if out is None:
        return cv2.resize(canvas, (size, size), interpolation=cv2.INTER_LINEAR), geometry
    expected = (size, size) + image.shape[2:]
    if out.shape != expected or out.dtype != image.dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous {expected} {image.dtype} array, "
                         f"got {out.shape} {out.dtype}")
    cv2.resize(canvas, (size, size), dst=out, interpolation=cv2.INTER_LINEAR)
    return out, geometry


# ---- box coding ----------------------------------------------------------
# Arrays hold boxes as (..., 4) [x1, y1, x2, y2]; every function is vectorised.

BoxArray = Union[np.ndarray, list, tuple]


def _as_boxes(boxes: BoxArray) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.shape[-1:] != (4,):
        raise ValueError(f"boxes must have shape (..., 4), got {boxes.shape}")
    return boxes


def _per_coordinate(x: float, y: float) -> np.ndarray:
    return np.array([x, y, x, y], dtype=np.float64)


def recenter(boxes: BoxArray, geometry: CropGeometry) -> np.ndarray:
    """Image coordinates -> canvas pixel coordinates (the authors' ``Recenter``)."""
    location = geometry.location
    return (_as_boxes(boxes) - _per_coordinate(location.x1, location.y1)
            + _per_coordinate(geometry.edge_spacing_x, geometry.edge_spacing_y))


def scale(boxes: BoxArray, geometry: CropGeometry, scale_factor: float = SCALE_FACTOR) -> np.ndarray:
    """Canvas pixels -> ``[0, scale_factor]`` across the canvas (the authors' ``Scale``)."""
    size = _per_coordinate(geometry.canvas_width, geometry.canvas_height)
    return _as_boxes(boxes) / size * scale_factor


def unscale(outputs: BoxArray, geometry: CropGeometry, scale_factor: float = SCALE_FACTOR) -> np.ndarray:
    """``[0, scale_factor]`` -> canvas pixels (the authors' ``Unscale``)."""
    size = _per_coordinate(geometry.canvas_width, geometry.canvas_height)
    return _as_boxes(outputs) / scale_factor * size


def uncenter(boxes: BoxArray, geometry: CropGeometry) -> np.ndarray:
    """Canvas pixels -> image coordinates, clipped the authors' way (``Uncenter``).

    Only the sides that can leave the image are clipped: x1, y1 >= 0 and
    x2 <= image width, y2 <= image height.
    """
    location = geometry.location
    image = (_as_boxes(boxes) + _per_coordinate(location.x1, location.y1)
             - _per_coordinate(geometry.edge_spacing_x, geometry.edge_spacing_y))
    image[..., :2] = np.maximum(image[..., :2], 0.0)
    image[..., 2:] = np.minimum(image[..., 2:], [geometry.image_width, geometry.image_height])
    return image


def encode_boxes(boxes: BoxArray, geometry: CropGeometry,
                 scale_factor: float = SCALE_FACTOR) -> np.ndarray:
    """Training labels: image boxes (..., 4) -> the net's coordinates in the crop (..., 4)."""
    return scale(recenter(boxes, geometry), geometry, scale_factor)


def decode_boxes(outputs: BoxArray, geometry: CropGeometry,
                 scale_factor: float = SCALE_FACTOR) -> np.ndarray:
    """Network outputs (..., 4) in the crop -> image boxes (..., 4), clipped to the image."""
    return uncenter(unscale(outputs, geometry, scale_factor), geometry)


def encode_box(box: Box, geometry: CropGeometry, scale_factor: float = SCALE_FACTOR) -> np.ndarray:
    """The label of one box: float64 (4,) in ``[0, scale_factor]`` when inside the crop."""
    return encode_boxes(box.as_array(), geometry, scale_factor)


def decode_box(output: BoxArray, geometry: CropGeometry, scale_factor: float = SCALE_FACTOR) -> Box:
    """The tracker's estimate: the net's 4 outputs -> a :class:`Box` in the image.

    A non-finite output raises ValueError (the net diverged).
    """
    return Box.from_array(decode_boxes(output, geometry, scale_factor))
