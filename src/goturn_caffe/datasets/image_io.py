"""The one image reader of the project: file or cached bytes -> BGR uint8 array.

Every dataset image goes through :func:`decode_image`, whether it comes from a
file or from the LMDB training cache, so both paths give identical pixels.
``cv2.imread`` happily returns a partially decoded (grey-bottomed) image for a
truncated JPEG and only prints a libjpeg warning; training on such a frame
would teach the net garbage, so a JPEG whose last scan has no end-of-image
marker is rejected before decoding.  Tracking reads its frames with
:func:`read_frame`, which turns such a frame into None (skipped, reported).
"""

from __future__ import annotations

import os

import cv2
import numpy as np

JPEG_START = b"\xff\xd8"   # SOI
JPEG_SCAN = b"\xff\xda"    # SOS: start of a scan (progressive JPEGs have several)
JPEG_END = b"\xff\xd9"     # EOI


class DatasetError(ValueError):
    """A dataset file that cannot be used: ``str()`` is ``"<source>: <reason>"``.

    ``reason`` starts with a short category (``"truncated JPEG"``) so that a
    :class:`~goturn_caffe.datasets.base.SkipReport` can group it.
    """

    def __init__(self, source, reason: str):
        super().__init__(f"{source}: {reason}")
        self.source, self.reason = str(source), reason

    def __reduce__(self):  # picklable across worker processes
        return (type(self), (self.source, self.reason))


def jpeg_is_complete(data: bytes) -> bool:
    """True when a JPEG byte string has an end-of-image marker after its last scan.

    Inside entropy-coded data a 0xFF byte is always followed by 0x00 or a restart
    marker, so 0xFFD9 / 0xFFDA cannot occur there by chance; an EXIF thumbnail's
    own markers come before the main scan and do not count. Trailing padding after
    the marker (some files end in zeros) is accepted. Searching back from the end
    for the marker first keeps this cheap for complete files (microseconds).
    """
    end = data.rfind(JPEG_END)
    return end >= 0 and 0 <= data.find(JPEG_SCAN) < end and data.find(JPEG_SCAN, end) < 0


def decode_image(data: bytes, source: str) -> np.ndarray:
    """Decode encoded image bytes to an (H, W, 3) BGR uint8 array.

    ``source`` names the file (or cache key) in the error. Raises
    :class:`DatasetError` for an empty, undecodable or truncated JPEG image.
    """
    if not data:
        raise DatasetError(source, "empty image file")
    if data.startswith(JPEG_START) and not jpeg_is_complete(data):
        raise DatasetError(source, "truncated JPEG: no end-of-image marker after the last scan")
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError(source, "undecodable image")
    return image


FRAME_EXPECTED = ("a BGR image as cv2.imread gives it: a uint8 (or 16-bit) numpy array of "
                  "shape (H, W, 3), (H, W, 4) with alpha, or (H, W) grey")


def as_bgr_image(image, source: str = "frame") -> np.ndarray:
    """An image array -> the (H, W, 3) BGR uint8 array :func:`decode_image` gives for the
    same pixels in a file: grey is repeated into three channels, an alpha channel
    dropped, 16 bits shifted down to 8 (what ``cv2.IMREAD_COLOR`` does).  A uint8
    BGR array comes back as it is.  ValueError naming ``source`` and saying what is
    expected for anything else (None, floats whose scale is unknown, other shapes)."""
    if image is None:
        raise ValueError(f"{source} is None, not an image (cv2.imread and VideoCapture.read "
                         f"give None when they cannot read): expected {FRAME_EXPECTED}")
    if not isinstance(image, np.ndarray):
        raise ValueError(f"{source} is a {type(image).__name__}: expected {FRAME_EXPECTED}")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f"{source} has {image.dtype} pixels: expected {FRAME_EXPECTED} (scale a "
                         "float image to 0..255 and convert it with .astype(np.uint8))")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)) \
            or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"{source} has shape {image.shape}: expected {FRAME_EXPECTED}")
    if image.ndim == 2:
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGRA2BGR)
    return image


def read_image_bytes(path: str | os.PathLike) -> bytes:
    """The raw bytes of an image file; :class:`DatasetError` when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise DatasetError(path, f"unreadable file: {exc.strerror or exc}") from None


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as an (H, W, 3) BGR uint8 array, like ``cv2.imread``.

    Raises :class:`DatasetError` naming the file when it is missing, unreadable,
    undecodable or a truncated JPEG.
    """
    return decode_image(read_image_bytes(path), str(path))


def read_frame(path: str | os.PathLike, problems=None) -> np.ndarray | None:
    """A video frame for tracking: :func:`read_image`, but a frame that cannot be
    used (missing, unreadable, undecodable, a truncated JPEG) gives None, and its
    :class:`DatasetError` goes to ``problems`` (a
    :class:`~goturn_caffe.datasets.base.SkipReport`; None: not recorded), so the
    tracker keeps its last box and the caller reports the frame."""
    try:
        return read_image(path)
    except DatasetError as exc:
        if problems is not None:
            problems.skip(exc.source, exc.reason)
        return None
