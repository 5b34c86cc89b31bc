"""ImageNet DET (ILSVRC, VOC-style XML) reader: the still images of GOTURN.

Two layouts are recognised under ``root``:

* ILSVRC2014: ``ILSVRC2014_DET_bbox_train/<set>/<id>.xml`` +
  ``ILSVRC2014_DET_train/<set>/<id>.JPEG``
* ILSVRC2015: ``ILSVRC/Annotations/DET/train/<set>/<id>.xml`` +
  ``ILSVRC/Data/DET/train/<set>/<id>.JPEG`` (``root`` may also be the ``ILSVRC`` folder)

The authors' filters (``loader_imagenet_det.cpp``): a box wider than 0.66 of
the annotated image width or taller than 0.66 of its height is skipped (random
crops cannot simulate motion for it), and so is an invalid box (xmin < 0,
ymin < 0, xmax <= xmin, ymax <= ymin); an image left without boxes is dropped.
Box coordinates are kept as written (no origin shift), as the authors do.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from goturn_caffe.datasets.base import SkipReport, StillImage
from goturn_caffe.datasets.image_io import DatasetError, read_image
from goturn_caffe.geometry.boxes import Box

MAX_BOX_FRACTION = 0.66
IMAGE_EXTENSION = ".JPEG"

# (annotations, images) folders of each known layout, relative to ``root``.
LAYOUTS = {
    "ILSVRC2015": ("ILSVRC/Annotations/DET/train", "ILSVRC/Data/DET/train"),
    "ILSVRC2015 (ILSVRC folder)": ("Annotations/DET/train", "Data/DET/train"),
    "ILSVRC2014": ("ILSVRC2014_DET_bbox_train", "ILSVRC2014_DET_train"),
}


def find_det_folders(root: str | Path) -> tuple[Path, Path]:
    """(annotations folder, images folder) of the DET layout found under ``root``."""
    root = Path(root)
    for annotations_dir, images_dir in LAYOUTS.values():
        if (root / annotations_dir).is_dir() and (root / images_dir).is_dir():
            return root / annotations_dir, root / images_dir
    expected = "; ".join(f"{name}: {a}/ and {i}/" for name, (a, i) in LAYOUTS.items())
    raise DatasetError(root, f"no ImageNet DET layout found (expected {expected})")


def _xml_number(element: ElementTree.Element, tag: str) -> float:
    text = element.findtext(tag)
    if text is None:
        raise ValueError(f"missing <{tag}>")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"<{tag}> is not a number: {text.strip()!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"<{tag}> is not finite: {text.strip()!r}")
    return value


def box_skip_reason(xmin: float, ymin: float, xmax: float, ymax: float,
                    image_width: float, image_height: float) -> Optional[str]:
    """Why the authors' loader drops this box (None when it is kept)."""
    width, height = xmax - xmin, ymax - ymin
    if width > MAX_BOX_FRACTION * image_width or height > MAX_BOX_FRACTION * image_height:
        return (f"box too large: {width:g} x {height:g} in a {image_width:g} x {image_height:g} "
                f"image (limit {MAX_BOX_FRACTION} of each side)")
    if xmin < 0 or ymin < 0 or xmax <= xmin or ymax <= ymin:
        return f"invalid box: xmin={xmin:g} ymin={ymin:g} xmax={xmax:g} ymax={ymax:g}"
    return None


def parse_det_xml(xml_path: Path, report: SkipReport) -> tuple[str, str, tuple, list]:
    """Read one annotation file -> (folder, filename, (width, height), kept boxes).

    Skipped boxes are recorded in ``report``; an unreadable file raises
    :class:`DatasetError`.
    """
    try:
        annotation = ElementTree.parse(xml_path).getroot()
        size = annotation.find("size")
        if size is None:
            raise ValueError("missing <size>")
        width, height = _xml_number(size, "width"), _xml_number(size, "height")
        if width <= 0 or height <= 0:
            raise ValueError(f"image size {width:g} x {height:g} is empty")
    except (ElementTree.ParseError, ValueError) as exc:
        raise DatasetError(xml_path, f"bad annotation file: {exc}") from None
    boxes = []
    for number, obj in enumerate(annotation.iter("object"), 1):
        where = f"{xml_path} object {number}"
        bndbox = obj.find("bndbox")
        try:
            if bndbox is None:
                raise ValueError("missing <bndbox>")
            xmin, ymin, xmax, ymax = (_xml_number(bndbox, t) for t in ("xmin", "ymin", "xmax", "ymax"))
        except ValueError as exc:
            report.skip(where, f"bad box: {exc}")
            continue
        reason = box_skip_reason(xmin, ymin, xmax, ymax, width, height)
        if reason:
            report.skip(where, reason)
        else:
            boxes.append(Box(xmin, ymin, xmax, ymax))
    folder = (annotation.findtext("folder") or "").strip()
    filename = (annotation.findtext("filename") or xml_path.stem).strip()
    return folder, filename, (int(width), int(height)), boxes


def _image_path(xml_path: Path, annotations_dir: Path, images_dir: Path,
                folder: str, filename: str) -> Optional[Path]:
    """The image of an annotation: beside the XML's mirror in the image tree, else <folder>/<filename>."""
    name = filename if Path(filename).suffix else filename + IMAGE_EXTENSION
    candidates = [images_dir / xml_path.parent.relative_to(annotations_dir) / name,
                  images_dir / folder / name]
    return next((path for path in candidates if path.is_file()), None)


def load_imagenet_det(root: str | Path, report: Optional[SkipReport] = None) -> list:
    """Read ImageNet DET under ``root`` -> list[StillImage] (sorted by annotation path).

    Each image keeps the boxes that pass the authors' filters and the size they
    were annotated at; images without a usable box, or whose image file is
    missing, are recorded in ``report`` and dropped.
    """
    annotations_dir, images_dir = find_det_folders(root)
    report = report if report is not None else SkipReport()
    images = []
    for xml_path in sorted(annotations_dir.rglob("*.xml")):
        try:
            folder, filename, size, boxes = parse_det_xml(xml_path, report)
        except DatasetError as exc:
            report.skip(exc.source, exc.reason)
            continue
        if not boxes:
            report.skip(xml_path, "no usable box: every box was filtered out")
            continue
        image_path = _image_path(xml_path, annotations_dir, images_dir, folder, filename)
        if image_path is None:
            report.skip(xml_path, f"missing image: {filename} not found under {images_dir}")
            continue
        images.append(StillImage(str(image_path), boxes, size))
    return images


def boxes_in_image(still: StillImage, image_width: int, image_height: int) -> list:
    """``still``'s boxes in the coordinates of its real image (W x H pixels).

    The annotation may have been made on a resized copy (``annotated_size``);
    the boxes are scaled by real / annotated size per axis. Returns new boxes:
    ``still`` is never modified, so calling this repeatedly cannot compound.
    """
    if still.annotated_size is None:
        return list(still.boxes)
    annotated_width, annotated_height = still.annotated_size
    if (annotated_width, annotated_height) == (image_width, image_height):
        return list(still.boxes)
    sx, sy = image_width / annotated_width, image_height / annotated_height
    return [box.scaled(sx, sy) for box in still.boxes]


def load_still_image(still: StillImage,
                     read: Callable[[str], np.ndarray] = read_image) -> tuple[np.ndarray, list]:
    """Decode ``still``'s image with ``read`` -> ((H, W, 3) BGR uint8, boxes rescaled to it)."""
    image = read(still.path)
    return image, boxes_in_image(still, image.shape[1], image.shape[0])
