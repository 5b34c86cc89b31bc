"""Small VOT datasets written by the tests (VOT2014 legacy and VOT2016+ layouts)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from goturn_caffe.boxes import Box
from goturn_caffe.datasets.base import Frame, Video


def square_frames(num_frames: int, width: int = 96, height: int = 72, size: int = 20,
                  step: int = 2) -> tuple:
    """Frames of a bright textured square moving right by ``step`` px per frame on a
    dark noisy background -> (images, regions x,y,w,h)."""
    rng = np.random.default_rng(0)
    background = rng.integers(0, 60, size=(height, width, 3), dtype=np.uint8)
    texture = rng.integers(150, 256, size=(size, size, 3), dtype=np.uint8)
    images, regions = [], []
    for i in range(num_frames):
        x, y = 10 + step * i, 20
        image = background.copy()
        image[y:y + size, x:x + size] = texture
        images.append(image)
        regions.append((float(x), float(y), float(size), float(size)))
    return images, regions


def polygon_line(region: tuple) -> str:
    """A rectangle x,y,w,h as a VOT 8-number polygon line (clockwise from the top left)."""
    x, y, w, h = region
    return ",".join(f"{v:.2f}" for v in (x, y, x + w, y, x + w, y + h, x, y + h))


def write_vot_sequence(root: Path, name: str, images: list, lines: list, layout: str = "vot2016",
                       tags: dict | None = None) -> Path:
    """One sequence folder: ``vot2014`` = images + ``*.label`` in the folder;
    ``vot2016`` = ``color/`` + ``sequence`` file + ``*.tag``."""
    folder = root / name
    image_folder = folder / "color" if layout == "vot2016" else folder
    image_folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images, 1):
        assert cv2.imwrite(str(image_folder / f"{i:08d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    (folder / "groundtruth.txt").write_text("".join(line + "\n" for line in lines))
    suffix = ".tag" if layout == "vot2016" else ".label"
    for tag, flags in (tags or {}).items():
        (folder / f"{tag}{suffix}").write_text("".join(f"{int(f) if isinstance(f, bool) else f}\n" for f in flags))
    if layout == "vot2016":
        (folder / "sequence").write_text(f"channels.color=color/%08d.jpg\nformat=default\nfps=30\n"
                                         f"name={name}\n")
    return folder


def write_vot_dataset(root: Path, num_frames: int = 30) -> Path:
    """Two moving-square sequences, one per layout, with tags; ``list.txt``."""
    images, regions = square_frames(num_frames)
    lines = [polygon_line(r) for r in regions]
    occlusion = [i >= num_frames // 2 for i in range(num_frames)]
    write_vot_sequence(root, "legacy", images, lines, "vot2014", {"occlusion": occlusion})
    write_vot_sequence(root, "modern", images, lines, "vot2016",
                       {"camera_motion": [True] * num_frames})
    (root / "list.txt").write_text("legacy\nmodern\n")
    return root


def synthetic_video(regions: list, tags: list | None = None, name: str = "synthetic") -> Video:
    """A Video without images (for trackers that need none): frame paths are dummies."""
    tags = tags or [frozenset()] * len(regions)
    frames = [Frame(f"/nonexistent/{i:08d}.jpg", None if r is None else Box.from_polygon(r), r, t)
              for i, (r, t) in enumerate(zip(regions, tags))]
    return Video(name, frames, "vot")
