"""Downloading the published models a user can get (``tools/fetch_models.py``, ``make model``).

Two files of the GOTURN family are still on the public internet:

- ``opencv-goturn``: OpenCV's trained GOTURN, a different architecture from the
  authors' (``prototxt/opencv/goturn.prototxt``; run it with ``--model-format
  opencv``).  opencv_extra holds it at a pinned commit as ``goturn.prototxt`` and
  a zip split in four parts; the caffemodel is the concatenation of the parts,
  unzipped.  It ends up in ``models/opencv/`` (:data:`OPENCV_MODEL`).
- ``caffenet``: ImageNet CaffeNet from the Caffe model zoo, the paper's
  initialisation; ``make weights`` turns it into ``models/goturn_init.caffemodel``.

Every file is pinned by name and size, and by every digest that is known of it
(:data:`MODELS`: SHA-1, SHA-256, or the git blob id a repository listing
shows); every host is in one table (:data:`BASE_URLS`), which a mirror
(``--mirror`` or ``$GOTURN_MODEL_MIRROR``) replaces: files are then looked up by
name under it.  Downloads go to the download cache (:func:`default_cache_dir`)
through a hidden partial file that is resumed with HTTP Range on the next try
(and restarted when a server ignores Range), checked, and only then renamed.  A
file of the wrong size or digest is deleted.  A server that sends less than
:data:`PROGRESS_BYTES` within the timeout is given up on, however steadily it
trickles.  OpenCV's ``goturn.prototxt`` must also parse as OpenCV's GOTURN
architecture; its parts are joined, the zip's CRCs checked, and the caffemodel
in it loaded into that architecture before anything is written under
``models/``.
"""

from __future__ import annotations

import hashlib
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
from goturn_caffe.fileio import atomic_path, hash_file
from goturn_caffe.model.net import (
    MODELS_DIR,
    OPENCV_DEPLOY,
    OPENCV_MODEL,
    ModelError,
    load_net,
    read_net_prototxt,
)
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
# goturn.prototxt at the pinned commit: 7,949 bytes.  The SHA-1 is the one OpenCV for
# Unity's asset downloader pins for this URL; OpenCV's GOTURN net written out as the
# other public copies of this file spell it (the concat layer tab-indented, no final
# newline) is 7,949 bytes with exactly that SHA-1, and the SHA-256 is that file's.
OPENCV_PROTOTXT_SIZE = 7_949
OPENCV_PROTOTXT_SHA1 = "d9016c4f3c0e7b36338564993ea33a5510e715ab"
OPENCV_PROTOTXT_SHA256 = "34e0a44494c228b8e14c80e7ea4c3a40fd8853dce86896c82c58052a8660e926"
OPENCV_PART_SIZES = (99_614_720, 99_614_720, 99_614_720, 61_040_147)
# No digest of the four zip parts is published; they are pinned by size, the zip's own
# CRC-32s and the load check.  The pinned commit's tree lists their git blob ids, and a
# good download can be hashed: a value filled in here is checked like any other digest.
OPENCV_PART_SHA256 = (None, None, None, None)
OPENCV_PART_GIT_BLOBS = (None, None, None, None)
CHUNK = 1 << 20
READ_SIZE = 64 << 10     # bytes asked of the network at a time, so the bar moves on a slow line
PROGRESS_BYTES = 64 << 10  # a server must send this much within the timeout to be waited for


@dataclass(frozen=True)
class PinnedFile:
    name: str                 # the file's name at its host, and under a mirror
    host: str                 # a key of BASE_URLS
    size: int | None          # bytes; None where no size is published
    sha1: str | None = None   # where one is published
    sha256: str | None = None
    git_blob: str | None = None  # SHA-1 of b"blob <size>\0" + content, as git lists it

    @property
    def digests(self) -> dict:
        """The known digests, by algorithm name (see :func:`file_digests`)."""
        known = {"sha1": self.sha1, "sha256": self.sha256, "git-blob": self.git_blob}
        return {name: value.lower() for name, value in known.items() if value}


@dataclass(frozen=True)
class NamedModel:
    files: tuple              # PinnedFile, in order
    description: str
    opencv_zip: bool = False  # goturn.prototxt, then the parts of a split zip holding the caffemodel


MODELS = {
    "opencv-goturn": NamedModel(
        (PinnedFile("goturn.prototxt", "opencv_extra", OPENCV_PROTOTXT_SIZE, OPENCV_PROTOTXT_SHA1,
                    OPENCV_PROTOTXT_SHA256),)
        + tuple(PinnedFile(f"goturn.caffemodel.zip.{idx:03d}", "opencv_extra", size, None, sha256,
                           blob)
                for idx, (size, sha256, blob) in enumerate(
                    zip(OPENCV_PART_SIZES, OPENCV_PART_SHA256, OPENCV_PART_GIT_BLOBS), 1)),
        "OpenCV's trained GOTURN (its own architecture: --model-format opencv)", opencv_zip=True),
    "caffenet": NamedModel(
        (PinnedFile(CAFFENET_FILENAME, "caffe_zoo", None, CAFFENET_SHA1),),
        "ImageNet CaffeNet, the paper's initialisation (make weights)"),
}
ALL = "all"


class DownloadError(ModelError):
    """A downloaded file that is not the pinned one (size, digest, zip, architecture)."""


class TooSlow(ConnectionError):
    """A server that keeps the connection open but sends (almost) nothing."""


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


DIGEST_LABELS = {"sha1": "SHA-1", "sha256": "SHA-256", "git-blob": "git blob id"}


def file_digests(path, algorithms) -> dict:
    """Hex digests of the file, by name: ``sha1``, ``sha256`` or ``git-blob`` (the
    SHA-1 of ``b"blob <size>\0"`` and the content, as a repository lists a file),
    read in one pass."""
    path = Path(path)
    hashes = {}
    for name in algorithms:
        if name == "git-blob":
            hashes[name] = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
        elif name in DIGEST_LABELS:
            hashes[name] = hashlib.new(name)
        else:
            raise ValueError(f"unknown digest {name!r}; known: {', '.join(DIGEST_LABELS)}")
    hash_file(path, hashes.values())
    return {name: digest.hexdigest() for name, digest in hashes.items()}


def verify_file(path, source, size=None, sha1=None, digests=None) -> None:
    """DownloadError naming ``source`` and both values unless ``path`` has ``size``
    bytes, the SHA-1 ``sha1`` and each of ``digests`` (name -> hex, see
    :func:`file_digests`); each is checked when given."""
    actual = Path(path).stat().st_size
    if size is not None and actual != size:
        raise DownloadError(f"{source}: size is {actual} bytes, expected {size}")
    wanted = dict(digests or {})
    if sha1 is not None:
        wanted["sha1"] = sha1
    found = file_digests(path, wanted)
    for name, expected in wanted.items():
        if found[name] != expected.lower():
            raise DownloadError(f"{source}: {DIGEST_LABELS[name]} is {found[name]}, "
                                f"expected {expected.lower()}")


def fetch_file(url: str, dest, size=None, sha1=None, *, digests=None, timeout: float = 30.0,
               progress: bool = True, retries: int = 5, progress_bytes: int = PROGRESS_BYTES,
               progress_seconds: float | None = None) -> Path:
    """Download ``url`` to ``dest`` unless a file of the right size and digests is there.

    The bytes go to ``dest``'s hidden partial file (:func:`goturn_caffe.fileio.partial_path`),
    which a later call resumes with an HTTP Range request; a server that answers
    with the whole file instead is read from the start again.  A connection that
    breaks off is resumed up to ``retries`` times in a row without progress.
    A server that sends fewer than ``progress_bytes`` within ``progress_seconds``
    (default ``timeout``; ``timeout`` alone bounds each wait for a single byte) is
    given up on.  The file is then checked against ``size``, ``sha1`` and
    ``digests`` (see :func:`verify_file`) and renamed to ``dest``.

    Raises :class:`Unreachable` when the file cannot be had (the partial file is
    kept for the next try), :class:`DownloadError` naming ``url`` and both values
    when it is not the pinned file (it is deleted, partial or not), and a
    DownloadError naming ``dest`` for a wrong file already at ``dest`` (deleted:
    the next call downloads it).
    """
    dest = Path(dest)
    if dest.is_file():
        try:
            verify_file(dest, dest, size, sha1, digests)
            return dest
        except DownloadError as exc:
            dest.unlink()
            raise DownloadError(f"{exc} (not the file of {url}; deleted, run again to "
                                "download it)") from None
    with atomic_path(dest, keep_partial=True) as tmp:
        try:
            deadline = (progress_bytes, timeout if progress_seconds is None else progress_seconds)
            _download(url, tmp, dest.name, size, timeout, progress, retries, deadline)
            verify_file(tmp, url, size, sha1, digests)
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


def _download(url: str, tmp: Path, label: str, size, timeout, progress, retries,
              deadline) -> None:
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
                offset, complete = _copy_body(response, tmp, start, size, url, bar, deadline)
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


def _copy_body(response, tmp: Path, offset: int, size, url: str, bar, deadline) -> tuple:
    """Write the answer to ``tmp`` from ``offset`` on; ``(new offset, complete)``,
    not complete when the connection broke off before the announced length.
    ``deadline``: ``(bytes, seconds)``, TooSlow when fewer bytes than that arrive
    within that many seconds."""
    length = response.headers.get("Content-Length")
    remaining = int(length) if length and length.isdigit() else None
    # read1 returns what has arrived instead of waiting for a whole READ_SIZE
    read = getattr(response, "read1", response.read)
    need_bytes, need_seconds = deadline
    window_start, window_bytes = time.monotonic(), 0
    try:
        out = open(tmp, "r+b" if offset else "wb")
    except OSError as exc:
        raise ModelError(f"{tmp}: cannot write ({exc.strerror})") from None
    with out:
        out.seek(offset)
        out.truncate()
        while True:
            try:
                chunk = read(READ_SIZE)
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
            window_bytes += len(chunk)
            if window_bytes >= need_bytes:
                window_start, window_bytes = time.monotonic(), 0
            elif time.monotonic() - window_start > need_seconds:
                # the bytes so far stay in the partial file for the next try
                raise TooSlow(f"too slow: {window_bytes} bytes in the last {need_seconds:g} s, "
                              f"fewer than the {need_bytes} wanted (stopped at byte {offset}; "
                              "--timeout waits longer)")
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
            paths.append(fetch_file(url, dest, pinned.size, digests=pinned.digests, timeout=timeout,
                                    progress=progress))
        except Unreachable as exc:
            missing.append(exc)
            if exc.connection:
                down[base] = exc.reason
    if missing:
        raise NotDownloaded(missing)
    return paths


def _net_inputs(param) -> list:
    """``(name, shape)`` of each input of a NetParameter: the old ``input:`` fields
    (OpenCV's file) or ``Input`` layers (the project's)."""
    shapes = [tuple(shape.dim) for shape in param.input_shape]
    if not shapes and param.input_dim:
        dims = list(param.input_dim)
        shapes = [tuple(dims[i:i + 4]) for i in range(0, len(dims), 4)]
    inputs = list(zip(param.input, shapes)) if shapes else [(name, ()) for name in param.input]
    for layer in param.layer:
        if layer.type == "Input":
            inputs += [(top, tuple(shape.dim)) for top, shape in zip(layer.top, layer.input_param.shape)]
    return inputs


def _layer_signature(layer) -> tuple:
    """What of a layer decides the net's function and its weights' shapes (fillers,
    learning rates and spelled-out default values do not)."""
    conv, pool, power = layer.convolution_param, layer.pooling_param, layer.power_param
    return (layer.name, layer.type, tuple(layer.bottom), tuple(layer.top),
            (conv.num_output, tuple(conv.kernel_size), tuple(conv.stride), tuple(conv.pad),
             conv.group) if layer.type == "Convolution" else None,
            layer.inner_product_param.num_output if layer.type == "InnerProduct" else None,
            (pool.pool, pool.kernel_size, pool.stride) if layer.type == "Pooling" else None,
            (power.power, power.scale, power.shift) if layer.type == "Power" else None)


def check_opencv_prototxt(prototxt, deploy=OPENCV_DEPLOY) -> None:
    """DownloadError naming ``prototxt`` unless it parses as a Caffe net with the
    inputs and layers of OpenCV's architecture ``deploy`` (an HTML error page or
    another net of the right size is not taken)."""
    try:
        got = read_net_prototxt(prototxt)
    except ModelError as exc:
        raise DownloadError(str(exc)) from None
    expected = read_net_prototxt(deploy)
    if _net_inputs(got) != _net_inputs(expected):
        raise DownloadError(f"{prototxt}: net inputs {_net_inputs(got) or 'none'}, expected "
                            f"{_net_inputs(expected)} (not OpenCV's GOTURN prototxt)")
    got_layers = [_layer_signature(layer) for layer in got.layer if layer.type != "Input"]
    want_layers = [_layer_signature(layer) for layer in expected.layer if layer.type != "Input"]
    if got_layers != want_layers:
        index = next(i for i in range(max(len(got_layers), len(want_layers)))
                     if got_layers[i:i + 1] != want_layers[i:i + 1])
        got_layer = " ".join(got_layers[index][:2]) if index < len(got_layers) else "nothing"
        want_layer = " ".join(want_layers[index][:2]) if index < len(want_layers) else "nothing"
        raise DownloadError(f"{prototxt}: not OpenCV's GOTURN architecture (layer {index + 1} is "
                            f"{got_layer}, expected {want_layer} with its settings)")


def _check_downloaded_prototxt(prototxt, deploy) -> None:
    """:func:`check_opencv_prototxt`, deleting a downloaded file that fails it."""
    try:
        check_opencv_prototxt(prototxt, deploy)
    except DownloadError as exc:
        Path(prototxt).unlink(missing_ok=True)
        raise DownloadError(f"{exc}; it was deleted, run again to download it") from None


def assemble_opencv(prototxt, parts, models_dir=MODELS_DIR, deploy=OPENCV_DEPLOY) -> Path:
    """Check that ``prototxt`` is OpenCV's architecture ``deploy``
    (:func:`check_opencv_prototxt`), join the downloaded ``parts`` of OpenCV's
    zip, check its CRCs, extract its caffemodel, and load it into ``deploy`` with
    the weights-fit check; only then write ``<models_dir>/opencv/goturn.caffemodel``
    and ``prototxt`` beside it.  Returns the caffemodel's path.

    Raises DownloadError (nothing is written under ``models_dir``) for a
    prototxt of another net (it is deleted, the parts are kept), a damaged zip,
    a zip without a caffemodel, or a caffemodel that does not fit (the parts
    are deleted); CaffeUnavailable without pycaffe.
    """
    import_caffe()  # the check needs Caffe: say so before the long work
    _check_downloaded_prototxt(prototxt, deploy)
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
    when it and its prototxt are there, unless that prototxt is not the pinned
    file: it alone is then downloaded again), CaffeNet in ``cache_dir``.

    ``mirror`` (default ``$GOTURN_MODEL_MIRROR``) replaces every base URL of
    ``base_urls`` (default :data:`BASE_URLS`).  Raises NotDownloaded,
    DownloadError (see :func:`download_files`, :func:`assemble_opencv`).
    """
    table = MODELS if table is None else table
    if name not in table:
        raise ModelError(f"{name}: no such model; choose from {', '.join(table)}, {ALL}")
    model = table[name]
    fetch_options = dict(base_urls=base_urls, mirror=resolve_mirror(mirror), timeout=timeout,
                         progress=progress)
    if model.opencv_zip and all(p.is_file() for p in opencv_model_files(models_dir)):
        installed, caffemodel = opencv_model_files(models_dir)
        pinned = model.files[0]
        try:
            verify_file(installed, installed, pinned.size, digests=pinned.digests)
        except DownloadError:
            # installed unchecked by an earlier version (an HTML error page): replace it alone
            (fresh,) = download_files(model.files[:1], cache_dir, **fetch_options)
            import_caffe()
            _check_downloaded_prototxt(fresh, deploy)
            with atomic_path(installed) as tmp:
                shutil.copyfile(fresh, tmp)
        return caffemodel
    paths = download_files(model.files, cache_dir, **fetch_options)
    if not model.opencv_zip:
        return paths[0]
    result = assemble_opencv(paths[0], paths[1:], models_dir, deploy)
    for part in paths[1:]:
        part.unlink(missing_ok=True)  # the caffemodel is in models_dir now
    return result
