"""Small one-pass-evaluation trees: OTB-benchmark and UAV123 layouts with hand-made
boxes (GOT-10k, LaSOT and TrackingNet come from ``new_dataset_fixtures``).

Frames that no test decodes are empty files (the static tracker never reads
pixels; OPE scoring reads the ground truth only, and the first frame's size for
GOT-10k, whose fixtures write real JPEGs)."""

from __future__ import annotations

from pathlib import Path

from dataset_fixtures import write_jpeg


def touch_frames(folder: Path, names) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).touch()


def xywh_lines(boxes) -> str:
    return "".join(("NaN,NaN,NaN,NaN" if b is None else ",".join(f"{v:g}" for v in b)) + "\n"
                   for b in boxes)


def make_otb_folder(root: Path, name: str, boxes: list, images: int | None = None,
                    groundtruth: str = "groundtruth_rect.txt", real_first: bool = False) -> Path:
    """``root/name/img/0001.jpg ...`` (``images`` of them, default one per box;
    empty files unless ``real_first``) and the ground truth file."""
    folder = root / name
    count = images or len(boxes)
    touch_frames(folder / "img", [f"{i:04d}.jpg" for i in range(2 if real_first else 1, count + 1)])
    if real_first:
        write_jpeg(folder / "img" / "0001.jpg", 64, 48)
    (folder / groundtruth).write_text(xywh_lines(boxes))
    return folder


# images in the released folders of the sequences scored on a range of them
RANGED_IMAGES = {"David": 770, "Football1": 74, "Freeman3": 460, "Freeman4": 283, "Diving": 231}


def make_otb_benchmark(root: Path, version: str = "100", skip=(), ranges: bool = False) -> Path:
    """Every target of OTB-``version`` (two frames each, boxes 10,10,20,20 then 12,10,20,20),
    the two-target sequences as numbered ground-truth files of one folder, less the
    targets in ``skip``.  ``ranges``: the five sequences scored on a frame range get
    their released image count and one moving box per frame of the range."""
    from goturn_caffe.datasets.otb import OFFICIAL_FRAME_RANGES, otb_targets

    for target in otb_targets(version):
        if target in skip:
            continue
        folder, _, number = target.partition(".")
        name = f"groundtruth_rect.{number}.txt" if number else "groundtruth_rect.txt"
        if ranges and target in OFFICIAL_FRAME_RANGES:
            first, last = OFFICIAL_FRAME_RANGES[target]
            boxes = [(10 + i % 9, 10 + i % 5, 20, 20) for i in range(last - first + 1)]
            make_otb_folder(root, folder, boxes, images=RANGED_IMAGES[target])
            continue
        make_otb_folder(root, folder, [(10, 10, 20, 20), (12, 10, 20, 20)], groundtruth=name)
        if target == "Human4.2":        # as released: an empty file for a first target
            (root / folder / "groundtruth_rect.1.txt").write_text("")
    return root


def make_uav_target(root: Path, name: str, boxes: list, folder: str | None = None, first: int = 1,
                    version: str = "UAV123", attributes=None) -> Path:
    """``anno/<version>/<name>.txt`` and frames ``first..`` of ``data_seq/UAV123/<folder>/``
    (only the first and last of a range are written: the reader checks those)."""
    folder = folder or name
    frames = root / "data_seq" / "UAV123" / folder
    last = first + len(boxes) - 1
    touch_frames(frames, sorted({f"{first:06d}.jpg", f"{last:06d}.jpg"}))
    anno = root / "anno" / version
    anno.mkdir(parents=True, exist_ok=True)
    (anno / f"{name}.txt").write_text(xywh_lines(boxes))
    if attributes is not None:
        (anno / "att").mkdir(exist_ok=True)
        (anno / "att" / f"{name}.txt").write_text(",".join(str(f) for f in attributes) + "\n")
    return root


def make_tcolor128_sequence(root: Path, name: str, boxes: list, first: int = 1) -> Path:
    """``root/name/img/NNNN.jpg`` for frames ``first..``, ``<name>_gt.txt`` and ``<name>_frames.txt``."""
    folder = root / name
    last = first + len(boxes) - 1
    touch_frames(folder / "img", [f"{i:04d}.jpg" for i in range(first, last + 1)])
    (folder / f"{name}_gt.txt").write_text(xywh_lines(boxes))
    (folder / f"{name}_frames.txt").write_text(f"{first},{last}\n")
    return folder


def make_nfs_sequence(root: Path, name: str, corners_240: list, frames: int, fps: int = 30) -> Path:
    """``root/name/<fps>/<name>/00001.jpg ...`` (``frames`` of them) and the 240 fps
    annotation ``root/name/<fps>/<name>.txt`` with one line per (left, top, right, bottom)."""
    folder = root / name / str(fps)
    touch_frames(folder / name, [f"{i:05d}.jpg" for i in range(1, frames + 1)])
    (folder / f"{name}.txt").write_text("".join(
        f"1 {left:g} {top:g} {right:g} {bottom:g} {i + 1} 0 0 0 \"thing\"\n"
        for i, (left, top, right, bottom) in enumerate(corners_240)))
    return folder
