"""Small VOT datasets written by the tests (VOT2014 legacy and VOT2016+ layouts)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from goturn_caffe.datasets.base import Frame, Video
from goturn_caffe.geometry.boxes import Box


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


def rotated_polygon(cx: float, cy: float, w: float, h: float, angle: float) -> tuple:
    """The corners of a w x h rectangle centred on (cx, cy), turned by ``angle`` radians."""
    c, s = np.cos(angle), np.sin(angle)
    corners = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    return tuple(v for dx, dy in corners for v in (cx + c * dx - s * dy, cy + s * dx + c * dy))


def write_toolkit_dataset(root: Path, sample_car: Path, num_frames: int = 50) -> Path:
    """The dataset the official-toolkit comparisons run on, whatever the machine has:

    - ``car``: the bundled real VOT2014 excerpt (legacy layout, axis-aligned
      polygons, ``*.label`` tags);
    - ``turning``: a VOT2016+ layout (``color/``, ``sequence`` file, ``*.tag``)
      whose ground truth is a rotated rectangle moving and turning, so overlaps
      are polygon overlaps with the min/max box;
    - ``untagged``: a VOT2015-style folder (images beside ``groundtruth.txt``, no
      tag files) with rotated polygons.

    A static box fails on every sequence (car near its end), so failures,
    re-initialisation and burn-in are all exercised.
    """
    import shutil

    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(sample_car, root / "car")
    images, regions = square_frames(num_frames, width=120, height=90, size=24, step=1)
    lines = []
    for i, (x, y, w, h) in enumerate(regions):
        polygon = rotated_polygon(x + w / 2, y + h / 2 + 0.5 * i, w, h * 0.8, 0.05 + 0.03 * i)
        lines.append(",".join(f"{v:.2f}" for v in polygon))
    write_vot_sequence(root, "turning", images, lines, "vot2016",
                       {"camera_motion": [i % 3 == 0 for i in range(num_frames)],
                        "occlusion": [i >= num_frames // 2 for i in range(num_frames)]})
    write_vot_sequence(root, "untagged", images[::-1], lines[::-1], "vot2014")
    (root / "list.txt").write_text("car\nturning\nuntagged\n")
    return root


# ---- for tools/eval_vot2014.py with GOTURN and worker processes ---------------------------
TINY_GOTURN_NET = """
name: "tiny_goturn"
layer { name: "target" type: "Input" top: "target" input_param { shape { dim: 1 dim: 3 dim: 227 dim: 227 } } }
layer { name: "image" type: "Input" top: "image" input_param { shape { dim: 1 dim: 3 dim: 227 dim: 227 } } }
layer { name: "pool_t" type: "Pooling" bottom: "target" top: "pool_t" pooling_param { pool: AVE kernel_size: 19 stride: 19 } }
layer { name: "pool_i" type: "Pooling" bottom: "image" top: "pool_i" pooling_param { pool: AVE kernel_size: 19 stride: 19 } }
layer { name: "concat" type: "Concat" bottom: "pool_t" bottom: "pool_i" top: "concat" }
layer { name: "fc8-shapes" type: "InnerProduct" bottom: "concat" top: "fc8" inner_product_param { num_output: 4 } }
"""


def write_tiny_goturn(folder: Path, seed: int = 0) -> tuple:
    """A GOTURN-shaped deploy net small enough to load in a blink (inputs ``target``,
    ``image``; output ``fc8``) and its weights: fc8 is the crop's centre box plus a
    small random function of both crops, so boxes move with the pixels.  Returns
    ``(prototxt, caffemodel)``; ``seed`` picks the weights."""
    from goturn_caffe.model.net import load_net

    folder.mkdir(parents=True, exist_ok=True)
    prototxt, weights = folder / "tiny_goturn.prototxt", folder / f"tiny_goturn_{seed}.caffemodel"
    prototxt.write_text(TINY_GOTURN_NET)
    net = load_net(prototxt)
    fc8_weights, fc8_bias = net.params["fc8-shapes"]
    fc8_weights.data[...] = np.random.default_rng(seed).normal(0, 2e-4, fc8_weights.data.shape)
    fc8_bias.data[...] = [2.5, 2.5, 7.5, 7.5]
    net.save(str(weights))
    return prototxt, weights


def write_car_excerpts(root: Path, sample_car: Path, starts=(1, 30), frames: int = 6) -> Path:
    """A VOT dataset of short excerpts of the bundled real ``car`` sequence:
    ``car_<start>`` holds frames start .. start + frames - 1 (images, ground truth,
    tags), renumbered from 1."""
    import shutil

    truth = (sample_car / "groundtruth.txt").read_text().splitlines()
    labels = {p.name: p.read_text().splitlines() for p in sample_car.glob("*.label")}
    names = []
    for start in starts:
        name = f"car_{start}"
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        span = range(start - 1, start - 1 + frames)
        for i, frame in enumerate(span, 1):
            shutil.copy(sample_car / f"{frame + 1:08d}.jpg", folder / f"{i:08d}.jpg")
        (folder / "groundtruth.txt").write_text("".join(truth[i] + "\n" for i in span))
        for label, lines in labels.items():
            (folder / label).write_text("".join(lines[i] + "\n" for i in span))
        names.append(name)
    (root / "list.txt").write_text("".join(n + "\n" for n in names))
    return root


class DyingTracker:
    """A static box whose process kills itself (SIGKILL, as the OOM killer or
    ``kill -9`` would) on its ``after``-th update, once per ``marker`` file."""

    uses_images = False
    last_timing = None

    def __init__(self, marker: Path, after: int):
        self.marker, self.after, self.updates, self.box = Path(marker), after, 0, None

    def init(self, frame, box):
        self.box = box

    def update(self, frame):
        import os
        import signal

        self.updates += 1
        if self.updates == self.after and not self.marker.exists():
            self.marker.write_text("died\n")
            os.kill(os.getpid(), signal.SIGKILL)
        return self.box


def dying_tracker(marker: str, after: int, name: str) -> DyingTracker:
    """A picklable tracker factory (``functools.partial(dying_tracker, marker, after)``)."""
    return DyingTracker(Path(marker), after)


# A tiny GOTURN-shaped net with one convolution big enough (K = 6 x 13 x 13 = 1014 products
# per output, 16 x 441 outputs) for OpenBLAS to split it across threads, so its sums --
# and the boxes -- change in the last bits with the BLAS thread count, as the real net's do.
TINY_CONV_GOTURN_NET = """
name: "tiny_conv_goturn"
layer { name: "target" type: "Input" top: "target" input_param { shape { dim: 1 dim: 3 dim: 227 dim: 227 } } }
layer { name: "image" type: "Input" top: "image" input_param { shape { dim: 1 dim: 3 dim: 227 dim: 227 } } }
layer { name: "pool_t" type: "Pooling" bottom: "target" top: "pool_t" pooling_param { pool: AVE kernel_size: 7 stride: 7 } }
layer { name: "pool_i" type: "Pooling" bottom: "image" top: "pool_i" pooling_param { pool: AVE kernel_size: 7 stride: 7 } }
layer { name: "concat" type: "Concat" bottom: "pool_t" bottom: "pool_i" top: "concat" }
layer { name: "conv" type: "Convolution" bottom: "concat" top: "conv" convolution_param { num_output: 16 kernel_size: 13 } }
layer { name: "fc8-shapes" type: "InnerProduct" bottom: "conv" top: "fc8" inner_product_param { num_output: 4 } }
"""


def write_tiny_conv_goturn(folder: Path, seed: int = 0, fc8_scale: float = 2e-5) -> tuple:
    """Like :func:`write_tiny_goturn`, with a convolution whose float sums depend on
    the BLAS thread count (see TINY_CONV_GOTURN_NET). Returns ``(prototxt, caffemodel)``."""
    from goturn_caffe.model.net import load_net

    folder.mkdir(parents=True, exist_ok=True)
    prototxt = folder / "tiny_conv_goturn.prototxt"
    weights = folder / f"tiny_conv_goturn_{seed}.caffemodel"
    prototxt.write_text(TINY_CONV_GOTURN_NET)
    net = load_net(prototxt)
    rng = np.random.default_rng(seed)
    conv_weights, conv_bias = net.params["conv"]
    conv_weights.data[...] = rng.normal(0, 0.05, conv_weights.data.shape)
    conv_bias.data[...] = 0
    fc8_weights, fc8_bias = net.params["fc8-shapes"]
    fc8_weights.data[...] = rng.normal(0, fc8_scale, fc8_weights.data.shape)
    fc8_bias.data[...] = [2.5, 2.5, 7.5, 7.5]
    net.save(str(weights))
    return prototxt, weights


class ThreadProbeTracker:
    """A static box that writes, on every init, the thread count of each OpenBLAS its
    process has loaded to ``<folder>/<pid>.json`` (what that process tracks with)."""

    uses_images = False
    last_timing = None

    def __init__(self, folder: Path):
        self.folder, self.box = Path(folder), None

    def init(self, frame, box):
        import ctypes
        import json
        import os

        from goturn_caffe.track import workers as runner

        counts = {}
        for path in runner._loaded_openblas():
            getter = runner._blas_function(ctypes.CDLL(path), runner.BLAS_THREAD_GETTERS)
            if getter is not None:
                counts[path] = int(getter())
        (self.folder / f"{os.getpid()}.json").write_text(json.dumps(counts))
        self.box = box

    def update(self, frame):
        return self.box


def thread_probe_tracker(folder: str, name: str) -> ThreadProbeTracker:
    """A picklable tracker factory (``functools.partial(thread_probe_tracker, folder)``)."""
    return ThreadProbeTracker(Path(folder))


class GatedTracker:
    """A static box whose ``update`` waits until the file ``gate`` exists (so a run
    never ends by itself); ``init`` first writes ``<folder>/started-<pid>``."""

    uses_images = False
    last_timing = None

    def __init__(self, folder: Path):
        self.folder, self.box = Path(folder), None

    def init(self, frame, box):
        import os

        (self.folder / f"started-{os.getpid()}").write_text("tracking\n")
        self.box = box

    def update(self, frame):
        import time

        while not (self.folder / "gate").exists():
            time.sleep(0.05)
        return self.box


def gated_tracker(folder: str, name: str) -> GatedTracker:
    """A picklable tracker factory (``functools.partial(gated_tracker, folder)``)."""
    return GatedTracker(Path(folder))
