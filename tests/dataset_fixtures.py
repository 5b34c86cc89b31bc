"""Small dataset trees written by the tests (ALOV, ImageNet DET, OTB layouts)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def write_jpeg(path: Path, width: int = 40, height: int = 30, seed: int = 0) -> Path:
    """A small textured JPEG (random blocks, so decoding errors would show)."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(height // 5 + 1, width // 5 + 1, 3), dtype=np.uint8)
    image = cv2.resize(blocks, (width, height), interpolation=cv2.INTER_NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    path.write_bytes(data.tobytes())
    return path


def write_truncated_jpeg(path: Path, seed: int = 0) -> Path:
    """A JPEG cut in the middle of its scan data, like a broken download."""
    write_jpeg(path, 64, 48, seed)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


def ann_line(frame: int, x1: float, y1: float, x2: float, y2: float) -> str:
    """An ALOV .ann line (1-based frame, corners in ALOV's 1-based pixels), corners A..D clockwise."""
    return f"{frame} {x2} {y1} {x1} {y1} {x1} {y2} {x2} {y2}"


def make_alov_video(root: Path, category: str, video: str, num_frames: int, lines: list,
                    jpeg: bool = True) -> None:
    """One ALOV video: ``num_frames`` frames (real JPEGs, or empty files when ``jpeg`` is False)."""
    frames_dir = root / "imagedata++" / category / video
    frames_dir.mkdir(parents=True, exist_ok=True)
    for i in range(1, num_frames + 1):
        path = frames_dir / f"{i:08d}.jpg"
        if jpeg:
            write_jpeg(path, seed=i)
        else:
            path.touch()
    ann = root / "alov300++_rectangleAnnotation_full" / category / f"{video}.ann"
    ann.parent.mkdir(parents=True, exist_ok=True)
    ann.write_text("".join(line + "\n" for line in lines))


def det_xml(folder: str, filename: str, width: int, height: int, boxes: list) -> str:
    objects = "".join(
        f"<object><name>thing</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
        f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>" for b in boxes)
    return (f"<annotation><folder>{folder}</folder><filename>{filename}</filename>"
            f"<size><width>{width}</width><height>{height}</height><depth>3</depth></size>"
            f"{objects}</annotation>")


DET_LAYOUTS = {
    "ILSVRC2015": ("ILSVRC/Annotations/DET/train", "ILSVRC/Data/DET/train"),
    "ILSVRC2014": ("ILSVRC2014_DET_bbox_train", "ILSVRC2014_DET_train"),
}


def make_det_image(root: Path, layout: str, folder: str, name: str, annotated_size: tuple,
                   boxes: list, image_size: tuple | None = None, seed: int = 0) -> Path:
    """One DET image + XML; the JPEG is ``image_size`` (default: the annotated size)."""
    annotations, images = DET_LAYOUTS[layout]
    xml = root / annotations / folder / f"{name}.xml"
    xml.parent.mkdir(parents=True, exist_ok=True)
    xml.write_text(det_xml(folder, name, *annotated_size, boxes))
    width, height = image_size or annotated_size
    return write_jpeg(root / images / folder / f"{name}.JPEG", width, height, seed)


def make_otb_sequence(root: Path, name: str, boxes: list, separator: str = ",",
                      num_frames: int | None = None, groundtruth: str = "groundtruth_rect.txt") -> Path:
    """An OTB sequence folder with one frame per box (or ``num_frames``)."""
    sequence = root / name
    for i in range(1, (num_frames or len(boxes)) + 1):
        path = sequence / "img" / f"{i:04d}.jpg"
        if not path.exists():
            write_jpeg(path, seed=100 + i)
    (sequence / groundtruth).write_text(
        "".join(separator.join(str(v) for v in box) + "\n" for box in boxes))
    return sequence


def exif_with_thumbnail(thumbnail: bytes) -> bytes:
    """An APP1 EXIF segment holding ``thumbnail`` (a whole JPEG, with its own SOI,
    scan and EOI markers): a little-endian TIFF header, an empty IFD0 and an IFD1
    giving the thumbnail's offset and length, as cameras write them."""
    import struct

    ifd1_offset = 8 + 6                       # after the header and the empty IFD0
    thumb_offset = ifd1_offset + 2 + 2 * 12 + 4
    tiff = (b"II*\0" + struct.pack("<I", 8)
            + struct.pack("<HI", 0, ifd1_offset)                     # IFD0: no entries, then IFD1
            + struct.pack("<H", 2)
            + struct.pack("<HHII", 0x0201, 4, 1, thumb_offset)        # JPEGInterchangeFormat
            + struct.pack("<HHII", 0x0202, 4, 1, len(thumbnail))      # JPEGInterchangeFormatLength
            + struct.pack("<I", 0) + thumbnail)
    body = b"Exif\0\0" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def jpeg_with_exif_thumbnail(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    """A textured JPEG whose EXIF block (right after SOI) holds a 16x12 thumbnail."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(height // 4 + 1, width // 4 + 1, 3), dtype=np.uint8)
    image = cv2.resize(blocks, (width, height), interpolation=cv2.INTER_NEAREST)
    main = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    thumbnail = cv2.imencode(".jpg", cv2.resize(image, (16, 12)))[1].tobytes()
    return main[:2] + exif_with_thumbnail(thumbnail) + main[2:]


def cut_inside_main_scan(data: bytes) -> bytes:
    """``data`` cut halfway through its last scan (the main image's, after any
    thumbnail): everything up to the thumbnail's EOI marker is still there."""
    scan = data.rfind(b"\xff\xda")
    return data[:scan + (len(data) - scan) // 2]
