"""Small dataset trees in today's official layouts (GOT-10k, LaSOT, TrackingNet), written by tests.

Boxes are given per frame as ``(x, y, w, h)``, ``None`` (written as a NaN line),
or a raw line string. Frames are small real JPEGs (``dataset_fixtures.write_jpeg``),
64 x 48 unless a size is given.
"""

from __future__ import annotations

from pathlib import Path

from dataset_fixtures import write_jpeg

SIZE = (64, 48)


def box_line(box) -> str:
    """``(x, y, w, h)`` -> ``"x,y,w,h"``; None -> a NaN line; a string is written as is."""
    if box is None:
        return "nan,nan,nan,nan"
    if isinstance(box, str):
        return box
    return ",".join(f"{v:g}" for v in box)


def write_lines(path: Path, lines) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def write_frames(folder: Path, names, size=SIZE, seed: int = 0) -> list:
    return [write_jpeg(folder / name, *size, seed=seed + i) for i, name in enumerate(names)]


# ---- GOT-10k -------------------------------------------------------------------------
def make_got10k_sequence(split_dir: Path, name: str, boxes: list, absence=None, cover=None,
                         cut_by_image=None, object_class: str = "thing", first_line_only: bool = False,
                         size=SIZE) -> Path:
    """One GOT-10k sequence folder: ``00000001.jpg ...``, ``groundtruth.txt``, the three label
    files (defaults: all visible, cover 8, nothing cut) and ``meta_info.ini``. With
    ``first_line_only`` (the test split) only the first box is written and no labels."""
    folder = split_dir / name
    write_frames(folder, [f"{i:08d}.jpg" for i in range(1, len(boxes) + 1)], size)
    write_lines(folder / "groundtruth.txt", [box_line(b) for b in boxes[:1 if first_line_only else None]])
    if not first_line_only:
        count = len(boxes)
        write_lines(folder / "absence.label", absence or [0] * count)
        write_lines(folder / "cover.label", cover or [8] * count)
        write_lines(folder / "cut_by_image.label", cut_by_image or [0] * count)
        write_lines(folder / "meta_info.ini", [
            "[METAINFO]", "url: https://example.invalid/video", "begin: 00:00:01", "end: 00:00:09",
            "anno_fps: 10Hz", f"object_class: {object_class}", "motion_class: walking",
            "major_class: thing", "root_class: object", "motion_adverb: slowly"])
    return folder


def make_got10k_split(root: Path, split: str, sequences: dict, list_file: bool = True) -> Path:
    """``root/<split>/`` with one sequence per ``name -> make_got10k_sequence keywords``
    (``boxes`` included) and, with ``list_file``, ``list.txt`` naming them in order."""
    split_dir = root / split
    for name, options in sequences.items():
        make_got10k_sequence(split_dir, name, first_line_only=split == "test", **options)
    if list_file:
        write_lines(split_dir / "list.txt", list(sequences))
    return split_dir


# ---- LaSOT -----------------------------------------------------------------------------
def make_lasot_sequence(root: Path, name: str, boxes: list, full_occlusion=None, out_of_view=None,
                        flat: bool = False, attributes=None, size=SIZE) -> Path:
    """One LaSOT sequence ``<category>/<name>/`` (``flat``: ``<name>/`` under ``root``, as the
    test set alone is distributed): ``img/00000001.jpg ...``, ``groundtruth.txt``, the flag
    files as one comma-separated line (default all 0) and ``nlp.txt``. ``attributes``: 14
    flags written to ``root/att/<name>.txt`` as the LaSOT toolkit has them."""
    category = name.rpartition("-")[0]
    folder = root / name if flat else root / category / name
    write_frames(folder / "img", [f"{i:08d}.jpg" for i in range(1, len(boxes) + 1)], size)
    write_lines(folder / "groundtruth.txt", [box_line(b) for b in boxes])
    for file, flags in (("full_occlusion.txt", full_occlusion), ("out_of_view.txt", out_of_view)):
        write_lines(folder / file, [",".join(str(f) for f in (flags or [0] * len(boxes)))])
    write_lines(folder / "nlp.txt", [f"the {category} in the middle"])
    if attributes is not None:
        write_lines(root / "att" / f"{name}.txt", [",".join(str(f) for f in attributes)])
    return folder


# ---- TrackingNet -----------------------------------------------------------------------
def make_trackingnet_sequence(root: Path, chunk: str, name: str, boxes: list,
                              first_line_only: bool = False, size=SIZE) -> Path:
    """``root/<chunk>/frames/<name>/0.jpg ...`` and ``root/<chunk>/anno/<name>.txt``
    (``first_line_only``: the test set's single line)."""
    chunk_dir = root / chunk
    write_frames(chunk_dir / "frames" / name, [f"{i}.jpg" for i in range(len(boxes))], size)
    write_lines(chunk_dir / "anno" / f"{name}.txt",
                [box_line(b) for b in boxes[:1 if first_line_only else None]])
    return chunk_dir
