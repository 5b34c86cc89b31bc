"""Downloading the published models a user can get (``tools/fetch_models.py``, ``make model``).

Two files of the GOTURN family are still on the public internet:

- ``opencv-goturn``: OpenCV's trained GOTURN, a different architecture from the
  authors' (``prototxt/opencv/goturn.prototxt``; run it with ``--model-format
  opencv``).  opencv_extra holds it at a pinned commit as ``goturn.prototxt`` and
  a zip split in four parts; the caffemodel is the concatenation of the parts,
  unzipped.  It ends up in ``models/opencv/`` (:data:`OPENCV_MODEL`).
- ``caffenet``: ImageNet CaffeNet from the Caffe model zoo, the paper's
  initialisation; ``make weights`` turns it into ``models/goturn_init.caffemodel``.

Every file is pinned by name and size, and by SHA-1 where one is published
(:data:`MODELS`); every host is in one table (:data:`BASE_URLS`), which a mirror
(``--mirror`` or ``$GOTURN_MODEL_MIRROR``) replaces: files are then looked up by
name under it.  Downloads go to the download cache (:func:`default_cache_dir`)
through a hidden partial file that is resumed with HTTP Range on the next try
(and restarted when a server ignores Range), checked, and only then renamed.  A
file of the wrong size or SHA-1 is deleted.  OpenCV's parts are joined, the
zip's CRCs checked, and the caffemodel in it loaded into OpenCV's architecture
before anything is written under ``models/``.
"""

from __future__ import annotations

import http.client
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from goturn_caffe.caffe_env import import_caffe
from goturn_caffe.fileio import atomic_path, file_digest
from goturn_caffe.model.net import MODELS_DIR, OPENCV_DEPLOY, OPENCV_MODEL, ModelError, load_net
from goturn_caffe.paths import user_cache_dir

OPENCV_EXTRA_COMMIT = "c4219d5eb3105ed8e634278fad312a1a8d2c182d"
# Every host the models come from, once.  The opencv_extra files are served raw
# from the pinned commit (its master branch no longer has them).
BASE_URLS = {
    "opencv_extra": "https://raw.githubusercontent.com/opencv/opencv_extra/"
                    f"{OPENCV_EXTRA_COMMIT}/testdata/tracking",
    "caffe_zoo": "http://dl.caffe.berkeleyvision.org",
}
MIRROR_ENV = "GOTURN_MODEL_MIRROR"
CAFFENET_FILENAME = "bvlc_reference_caffenet.caffemodel"
# As printed in models/bvlc_reference_caffenet/readme.md of the Caffe source.
CAFFENET_SHA1 = "4c8d77deb20ea792f84eb5e6d0a11ca0a8660a46"
OPENCV_PART_SIZES = (99_614_720, 99_614_720, 99_614_720, 61_040_147)
CHUNK = 1 << 20


@dataclass(frozen=True)
class PinnedFile:
    name: str                 # the file's name at its host, and under a mirror
    host: str                 # a key of BASE_URLS
    size: int | None          # bytes; None where no size is published
    sha1: str | None = None   # where one is published


@dataclass(frozen=True)
class NamedModel:
    files: tuple              # PinnedFile, in order
    description: str
    opencv_zip: bool = False  # goturn.prototxt, then the parts of a split zip holding the caffemodel


MODELS = {
    "opencv-goturn": NamedModel(
        (PinnedFile("goturn.prototxt", "opencv_extra", 7_949),)
        + tuple(PinnedFile(f"goturn.caffemodel.zip.{idx:03d}", "opencv_extra", size)
                for idx, size in enumerate(OPENCV_PART_SIZES, 1)),
        "OpenCV's trained GOTURN (its own architecture: --model-format opencv)", opencv_zip=True),
    "caffenet": NamedModel(
        (PinnedFile(CAFFENET_FILENAME, "caffe_zoo", None, CAFFENET_SHA1),),
        "ImageNet CaffeNet, the paper's initialisation (make weights)"),
}
ALL = "all"


class DownloadError(ModelError):
    """A downloaded file that is not the pinned one (size, SHA-1, zip, architecture)."""


class Unreachable(ModelError):
    """A file that could not be downloaded; the message says where to put it by hand."""

    def __init__(self, url: str, dest, reason: str, connection: bool = True):
        self.url, self.dest, self.reason = url, Path(dest), reason
        self.connection = connection  # the host could not be reached at all
        super().__init__(f"cannot download {url} ({reason}): download it by hand to "
                         f"{self.dest}, then run again")


class NotDownloaded(ModelError):
    """Files that could not be downloaded: ``missing`` lists one :class:`Unreachable` each."""

    def __init__(self, missing: list):
        self.missing = list(missing)
        super().__init__("\n".join(str(exc) for exc in self.missing))


def default_cache_dir() -> Path:
    """The download cache on this machine: ``$GOTURN_CAFFE_CACHE/models`` (default
    ``~/.cache/goturn-caffe/models``, beside the Caffe build)."""
    return user_cache_dir() / "models"


def resolve_mirror(mirror=None) -> str | None:
    """The mirror base URL: ``mirror``, else ``$GOTURN_MODEL_MIRROR``, else None.
    A local folder is turned into a ``file://`` URL."""
    mirror = mirror or os.environ.get(MIRROR_ENV) or None
    if mirror is None:
        return None
    if "://" not in mirror:
        mirror = Path(mirror).expanduser().resolve().as_uri()
    return mirror.rstrip("/")


def file_url(pinned: PinnedFile, base_urls=None, mirror=None) -> str:
    """Where ``pinned`` is downloaded from: its host's base URL, or the mirror's."""
    base = mirror or (BASE_URLS if base_urls is None else base_urls)[pinned.host]
    return f"{base.rstrip('/')}/{pinned.name}"


def verify_file(path, source, size=None, sha1=None) -> None:
    """DownloadError naming ``source`` and both values unless ``path`` has ``size``
    bytes and the SHA-1 ``sha1`` (each checked when given)."""
    actual = Path(path).stat().st_size
    if size is not None and actual != size:
        raise DownloadError(f"{source}: size is {actual} bytes, expected {size}")
    if sha1 is not None:
        digest = file_digest(path, "sha1")
        if digest != sha1.lower():
            raise DownloadError(f"{source}: SHA-1 is {digest}, expected {sha1.lower()}")


def fetch_file(url: str, dest, size=None, sha1=None, *, timeout: float = 30.0,
               progress: bool = True, retries: int = 5) -> Path:
    """Download ``url`` to ``dest`` unless a file of the right size and SHA-1 is there.

    The bytes go to ``dest``'s hidden partial file (:func:`goturn_caffe.fileio.partial_path`),
    which a later call resumes with an HTTP Range request; a server that answers
    with the whole file instead is read from the start again.  A connection that
    breaks off is resumed up to ``retries`` times in a row without progress.
    The file is then checked against ``size`` and ``sha1`` and renamed to ``dest``.

    Raises :class:`Unreachable` when the file cannot be had (the partial file is
    kept for the next try), :class:`DownloadError` naming ``url`` and both values
    when it is not the pinned file (it is deleted, partial or not), and a
    DownloadError naming ``dest`` for a wrong file already at ``dest`` (deleted:
    the next call downloads it).
    """
    dest = Path(dest)
    if dest.is_file():
        try:
            verify_file(dest, dest, size, sha1)
            return dest
        except DownloadError as exc:
            dest.unlink()
            raise DownloadError(f"{exc} (not the file of {url}; deleted, run again to "
                                "download it)") from None
    with atomic_path(dest, keep_partial=True) as tmp:
        try:
            _download(url, tmp, dest.name, size, timeout, progress, retries)
            verify_file(tmp, url, size, sha1)
        except DownloadError as exc:
            tmp.unlink(missing_ok=True)
            raise DownloadError(f"{exc}; the download was deleted") from None
        except (OSError, http.client.HTTPException) as exc:
            raise _unreachable(url, dest, exc) from None
    return dest


def _unreachable(url: str, dest, exc) -> Unreachable:
    if isinstance(exc, urllib.error.HTTPError):
        return Unreachable(url, dest, f"HTTP {exc.code} {exc.reason}", connection=False)
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    return Unreachable(url, dest, str(reason) or type(reason).__name__)


def _download(url: str, tmp: Path, label: str, size, timeout, progress, retries) -> None:
    from tqdm import tqdm

    offset = tmp.stat().st_size if tmp.is_file() else 0
    if size is not None and offset > size:
        offset = 0  # longer than the pinned file: not a prefix of it
    bar = None
    stalls = 0
    try:
        while size is None or offset < size:
            before = offset
            request = urllib.request.Request(url)
            if offset:
                request.add_header("Range", f"bytes={offset}-")
            try:
                response = urllib.request.urlopen(request, timeout=timeout)
            except urllib.error.HTTPError as exc:
                if exc.code == 416 and offset:  # the partial file is no prefix: start over
                    offset = 0
                    continue
                raise
            with response:
                start, expected = _start(response, url, offset, size)
                if start is None:  # a range other than the one asked for: start over
                    offset = 0
                    continue
                if bar is None:
                    bar = tqdm(total=size or expected, unit="B", unit_scale=True,
                               unit_divisor=1024, desc=label, disable=not progress)
                bar.n = start
                bar.refresh()
                offset, complete = _copy_body(response, tmp, start, size, url, bar)
            if complete:
                return
            stalls = 0 if offset > before else stalls + 1
            if stalls > retries:
                raise ConnectionError(f"the connection keeps breaking off at byte {offset}")
            time.sleep(min(stalls, 5))
    finally:
        if bar is not None:
            bar.close()


def _start(response, url: str, offset: int, size) -> tuple:
    """``(offset, total)``: where the answer's body starts in the file (0 when the
    server ignored the Range request and sent the whole file) and the file's
    size it announced (None if it did not); ``(None, None)`` for a range that
    starts elsewhere than asked."""
    total = None
    status = getattr(response, "status", None)
    if status == 206:
        content_range = response.headers.get("Content-Range", "")
        span, _, whole = content_range.partition(" ")[2].partition("/")
        start = span.partition("-")[0]
        if not (start.isdigit() and int(start) == offset):
            return None, None
        total = int(whole) if whole.isdigit() else None
    else:
        offset = 0
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
    if size is not None and total is not None and total != size:
        raise DownloadError(f"{url}: size is {total} bytes, expected {size}")
    return offset, total


def _copy_body(response, tmp: Path, offset: int, size, url: str, bar) -> tuple:
    """Write the answer to ``tmp`` from ``offset`` on; ``(new offset, complete)``,
    not complete when the connection broke off before the announced length."""
    length = response.headers.get("Content-Length")
    remaining = int(length) if length and length.isdigit() else None
    try:
        out = open(tmp, "r+b" if offset else "wb")
    except OSError as exc:
        raise ModelError(f"{tmp}: cannot write ({exc.strerror})") from None
    with out:
        out.seek(offset)
        out.truncate()
        while True:
            try:
                chunk = response.read(CHUNK)
            except (OSError, http.client.HTTPException):
                return offset, False  # broken off mid-stream: the caller resumes
            if not chunk:
                break
            try:
                out.write(chunk)
            except OSError as exc:
                raise ModelError(f"{tmp}: cannot write ({exc.strerror})") from None
            offset += len(chunk)
            bar.update(len(chunk))
            if remaining is not None:
                remaining -= len(chunk)
            if size is not None and offset > size:
                raise DownloadError(f"{url}: size is at least {offset} bytes, expected {size}")
    return offset, not remaining  # no length announced: the end of the stream ends the file


def download_files(files, cache_dir=None, *, base_urls=None, mirror=None, timeout: float = 30.0,
                   progress: bool = True) -> list:
    """Each of ``files`` (PinnedFile) in ``cache_dir`` (default :func:`default_cache_dir`),
    downloaded and checked where not there yet; returns their paths.

    Raises :class:`NotDownloaded` listing every file that could not be had (a
    host that cannot be reached is not asked again for its next files), after
    downloading the others; DownloadError for a file that is not the pinned one.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    paths, missing, down = [], [], {}
    for pinned in files:
        url, dest = file_url(pinned, base_urls, mirror), cache_dir / pinned.name
        base = url.rsplit("/", 1)[0]
        if base in down and not dest.is_file():
            missing.append(Unreachable(url, dest, down[base]))
            continue
        try:
            paths.append(fetch_file(url, dest, pinned.size, pinned.sha1, timeout=timeout,
                                    progress=progress))
        except Unreachable as exc:
            missing.append(exc)
            if exc.connection:
                down[base] = exc.reason
    if missing:
        raise NotDownloaded(missing)
    return paths


def assemble_opencv(prototxt, parts, models_dir=MODELS_DIR, deploy=OPENCV_DEPLOY) -> Path:
    """Join the downloaded ``parts`` of OpenCV's zip, check its CRCs, extract its
    caffemodel, and load it into OpenCV's architecture ``deploy`` with the
    weights-fit check; only then write ``<models_dir>/opencv/goturn.caffemodel``
    and ``prototxt`` beside it.  Returns the caffemodel's path.

    Raises DownloadError (the parts are deleted, nothing is written under
    ``models_dir``) for a damaged zip, a zip without a caffemodel, or a
    caffemodel that does not fit; CaffeUnavailable without pycaffe.
    """
    import_caffe()  # the check needs Caffe: say so before the long work
    parts = [Path(p) for p in parts]
    label = f"{parts[0].name.rsplit('.', 1)[0]} ({' + '.join(p.name for p in parts)})"
    target = Path(models_dir) / OPENCV_MODEL.relative_to(MODELS_DIR)
    scratch = Path(tempfile.mkdtemp(prefix=".assemble-", dir=parts[0].parent))
    try:
        joined, caffemodel = scratch / "joined.zip", scratch / target.name
        with open(joined, "wb") as out:
            for part in parts:
                with open(part, "rb") as handle:
                    shutil.copyfileobj(handle, out, CHUNK)
        try:
            member = _unzip_caffemodel(joined, caffemodel, label)
            joined.unlink()
            try:
                load_net(deploy, caffemodel)
            except ModelError as exc:
                raise DownloadError(str(exc).replace(str(caffemodel), f"{label}: {member}")) \
                    from None
        except DownloadError as exc:
            for part in parts:
                part.unlink(missing_ok=True)
            raise DownloadError(f"{exc}; the downloaded parts were deleted") from None
        with atomic_path(target) as tmp:
            shutil.copyfile(caffemodel, tmp)
        with atomic_path(target.with_name("goturn.prototxt")) as tmp:
            shutil.copyfile(prototxt, tmp)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _unzip_caffemodel(archive_path: Path, dest: Path, label: str) -> str:
    """Extract the one ``.caffemodel`` member of the zip to ``dest``; its name."""
    try:
        with zipfile.ZipFile(archive_path) as archive:
            bad = archive.testzip()
            if bad is not None:
                raise DownloadError(f"{label}: CRC check failed for {bad} (a damaged download)")
            members = [info for info in archive.infolist()
                       if info.filename.endswith(".caffemodel") and not info.is_dir()]
            if len(members) != 1:
                names = ", ".join(archive.namelist()[:5]) or "nothing"
                raise DownloadError(f"{label}: holds {len(members) or 'no'} .caffemodel files, "
                                    f"expected one (it has {names})")
            with archive.open(members[0]) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
            return members[0].filename
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise DownloadError(f"{label}: not a readable zip ({exc})") from None


def opencv_model_files(models_dir=MODELS_DIR) -> tuple:
    """``(goturn.prototxt, goturn.caffemodel)`` of OpenCV's model under ``models_dir``."""
    caffemodel = Path(models_dir) / OPENCV_MODEL.relative_to(MODELS_DIR)
    return caffemodel.with_name("goturn.prototxt"), caffemodel


def fetch_model(name: str, models_dir=MODELS_DIR, cache_dir=None, *, mirror=None, table=None,
                base_urls=None, deploy=OPENCV_DEPLOY, timeout: float = 30.0,
                progress: bool = True) -> Path:
    """Get the named model (a key of ``table``, default :data:`MODELS`) and return
    its file: OpenCV's caffemodel under ``models_dir`` (nothing is downloaded
    when it and its prototxt are there), CaffeNet in ``cache_dir``.

    ``mirror`` (default ``$GOTURN_MODEL_MIRROR``) replaces every base URL of
    ``base_urls`` (default :data:`BASE_URLS`).  Raises NotDownloaded,
    DownloadError (see :func:`download_files`, :func:`assemble_opencv`).
    """
    table = MODELS if table is None else table
    if name not in table:
        raise ModelError(f"{name}: no such model; choose from {', '.join(table)}, {ALL}")
    model = table[name]
    if model.opencv_zip and all(p.is_file() for p in opencv_model_files(models_dir)):
        return opencv_model_files(models_dir)[1]
    paths = download_files(model.files, cache_dir, base_urls=base_urls, mirror=resolve_mirror(mirror),
                           timeout=timeout, progress=progress)
    if not model.opencv_zip:
        return paths[0]
    result = assemble_opencv(paths[0], paths[1:], models_dir, deploy)
    for part in paths[1:]:
        part.unlink(missing_ok=True)  # the caffemodel is in models_dir now
    return result
