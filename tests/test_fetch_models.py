"""Model downloads (tools/fetch_models.py, goturn_caffe.model.fetch) against a local
HTTP server on 127.0.0.1 (issues 15, 21): the pinned table is replaced by small fixture
files; OpenCV's zip and prototxt are checked against the real OpenCV architecture."""

import filecmp
import hashlib
import http.server
import io
import random
import re
import runpy
import socket
import subprocess
import sys
import threading
import time
import zipfile

import numpy as np
import pytest
from conftest import REPO_ROOT

from goturn_caffe.fileio import partial_path
from goturn_caffe.model import fetch
from goturn_caffe.model.fetch import (
    CAFFENET_FILENAME,
    DownloadError,
    NamedModel,
    NotDownloaded,
    PinnedFile,
    fetch_file,
    fetch_model,
    file_url,
)
from goturn_caffe.model.net import OPENCV_DEPLOY

TOOL = REPO_ROOT / "tools" / "fetch_models.py"
PART_NAMES = [f"goturn.caffemodel.zip.{idx:03d}" for idx in range(1, 5)]


class FileServer:
    """Serves ``files`` (name -> bytes) with Range support; switches: ``ignore_range``,
    ``cut`` (names whose next answer breaks off halfway), ``wrong`` (names served with
    their middle byte changed).  ``requests`` records (name, Range header)."""

    def __init__(self):
        self.files, self.cut, self.wrong, self.requests = {}, set(), set(), []
        self.ignore_range = False
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                owner.answer(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def served(self, name: str) -> bytes:
        data = self.files[name]
        if name in self.wrong:
            middle = len(data) // 2
            data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]
        return data

    def answer(self, handler) -> None:
        name, byte_range = handler.path.lstrip("/"), handler.headers.get("Range")
        self.requests.append((name, byte_range))
        if name not in self.files:
            handler.send_error(404)
            return
        data, start = self.served(name), 0
        if byte_range and not self.ignore_range:
            start = int(byte_range.split("=")[1].split("-")[0])
            handler.send_response(206)
            handler.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            handler.send_response(200)
        body = data[start:]
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if name in self.cut:
            self.cut.discard(name)
            handler.wfile.write(body[:len(body) // 2])
            handler.close_connection = True  # the socket closes short of Content-Length
            return
        handler.wfile.write(body)


@pytest.fixture(scope="module")
def module_server():
    server = FileServer()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def server(module_server):
    module_server.files.clear()
    module_server.cut.clear()
    module_server.wrong.clear()
    module_server.requests.clear()
    module_server.ignore_range = False
    return module_server


def random_bytes(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def serve(server, name: str, data: bytes):
    """``(url, size, sha1)`` of ``data`` served as ``name``."""
    server.files[name] = data
    return f"{server.url}/{name}", len(data), sha1(data)


def listing(folder) -> list:
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def test_a_good_file_is_downloaded_checked_and_renamed(server, tmp_path):
    data = random_bytes(3_000_000)
    url, size, digest = serve(server, "a.bin", data)
    path = fetch_file(url, tmp_path / "a.bin", size, digest, progress=False)
    assert path.read_bytes() == data
    assert listing(tmp_path) == ["a.bin"]  # no partial file left
    assert server.requests == [("a.bin", None)]
    assert fetch_file(url, tmp_path / "a.bin", size, digest, progress=False) == path
    assert len(server.requests) == 1  # a checked copy is not downloaded again


def test_a_wrong_size_deletes_the_download_and_names_url_and_sizes(server, tmp_path):
    url, _, digest = serve(server, "a.bin", random_bytes(1000))
    with pytest.raises(DownloadError, match=re.escape(f"{url}: size is 1000 bytes, expected 1024")):
        fetch_file(url, tmp_path / "a.bin", 1024, digest, progress=False)
    assert listing(tmp_path) == []


def test_a_wrong_sha1_deletes_the_download_and_names_url_and_digests(server, tmp_path):
    url, size, digest = serve(server, "a.bin", random_bytes(5000))
    server.wrong.add("a.bin")
    actual = sha1(server.served("a.bin"))
    assert actual != digest
    with pytest.raises(DownloadError, match=re.escape(f"{url}: SHA-1 is {actual}, expected {digest}")):
        fetch_file(url, tmp_path / "a.bin", size, digest, progress=False)
    assert listing(tmp_path) == []


def test_a_connection_cut_halfway_is_resumed_to_the_right_bytes(server, tmp_path):
    data = random_bytes(3_000_001)
    url, size, digest = serve(server, "a.bin", data)
    server.cut.add("a.bin")
    path = fetch_file(url, tmp_path / "a.bin", size, digest, progress=False)
    assert path.read_bytes() == data
    half = len(data) // 2
    assert server.requests == [("a.bin", None), ("a.bin", f"bytes={half}-")]  # only the rest again
    assert listing(tmp_path) == ["a.bin"]


def test_an_interrupted_run_is_resumed_by_the_next(server, tmp_path):
    data = random_bytes(20_000)
    url, size, digest = serve(server, "a.bin", data)
    partial_path(tmp_path / "a.bin").write_bytes(data[:7000])  # what the first run got
    assert fetch_file(url, tmp_path / "a.bin", size, digest, progress=False).read_bytes() == data
    assert server.requests == [("a.bin", "bytes=7000-")]
    assert listing(tmp_path) == ["a.bin"]


def test_a_failed_try_keeps_the_partial_file_for_the_next(server, tmp_path):
    partial = partial_path(tmp_path / "a.bin")
    partial.write_bytes(b"y" * 7000)
    with pytest.raises(fetch.Unreachable, match="HTTP 404"):  # not served (any more)
        fetch_file(f"{server.url}/a.bin", tmp_path / "a.bin", 20_000, progress=False)
    assert partial.read_bytes() == b"y" * 7000 and not (tmp_path / "a.bin").exists()


def test_a_server_that_ignores_range_is_read_from_the_start(server, tmp_path):
    data = random_bytes(20_000)
    url, size, digest = serve(server, "a.bin", data)
    server.ignore_range = True
    partial_path(tmp_path / "a.bin").write_bytes(b"x" * 7000)  # appending to it would corrupt the file
    assert fetch_file(url, tmp_path / "a.bin", size, digest, progress=False).read_bytes() == data
    assert server.requests == [("a.bin", "bytes=7000-")]  # asked for the rest, got all of it
    assert listing(tmp_path) == ["a.bin"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("name, files", [("caffenet", [CAFFENET_FILENAME]),
                                         ("opencv-goturn", ["goturn.prototxt"] + PART_NAMES)])
def test_no_server_prints_one_line_per_file_with_url_and_place(tmp_path, name, files):
    mirror = f"http://127.0.0.1:{closed_port()}"
    cache, models = tmp_path / "cache", tmp_path / "models"
    done = subprocess.run([sys.executable, str(TOOL), name, "--mirror", mirror, "--cache", str(cache),
                           "--models-dir", str(models)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == len(files)  # one line per file, no traceback
    for line, file_name in zip(lines, files):
        assert f"{mirror}/{file_name}" in line and f"download it by hand to {cache / file_name}" in line
    assert listing(cache) == [] and not models.exists()


def test_a_mirror_replaces_every_base_url(server, tmp_path, monkeypatch):
    data = random_bytes(4000)
    serve(server, "model.bin", data)
    table = {"m": NamedModel((PinnedFile("model.bin", "zoo", len(data), sha1(data)),), "test")}
    unreachable = {"zoo": f"http://127.0.0.1:{closed_port()}/models"}
    assert file_url(table["m"].files[0], unreachable, mirror=server.url + "/") == f"{server.url}/model.bin"
    monkeypatch.setenv(fetch.MIRROR_ENV, server.url)
    got = fetch_model("m", tmp_path / "models", tmp_path / "cache", table=table, base_urls=unreachable,
                      progress=False)
    assert got.read_bytes() == data and server.requests == [("model.bin", None)]
    # A local folder works as a mirror too.
    folder = tmp_path / "copy"
    folder.mkdir()
    (folder / "model.bin").write_bytes(data)
    got = fetch_model("m", tmp_path / "models", tmp_path / "cache2", mirror=str(folder), table=table,
                      base_urls=unreachable, progress=False)
    assert got.read_bytes() == data


# --- OpenCV's split zip -------------------------------------------------------------------

def stored_zip(members: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def serve_split_zip(server, zipped: bytes, prototxt: bytes = None) -> dict:
    """Serve ``zipped`` as four parts plus goturn.prototxt (default: the project's copy
    of OpenCV's architecture); the pinned table for them."""
    prototxt = OPENCV_DEPLOY.read_bytes() if prototxt is None else prototxt
    cuts = [0, len(zipped) // 4, len(zipped) // 2, 3 * len(zipped) // 4, len(zipped)]
    files = [PinnedFile("goturn.prototxt", "opencv", len(prototxt))]
    server.files["goturn.prototxt"] = prototxt
    for name, start, end in zip(PART_NAMES, cuts, cuts[1:]):
        server.files[name] = zipped[start:end]
        files.append(PinnedFile(name, "opencv", end - start))
    return {"opencv-goturn": NamedModel(tuple(files), "test", opencv_zip=True)}


def fetch_opencv(server, table, tmp_path):
    return fetch_model("opencv-goturn", tmp_path / "models", tmp_path / "cache", table=table,
                       base_urls={"opencv": server.url}, progress=False)


def test_split_zip_is_joined_crc_checked_and_load_checked(server, opencv_model, tmp_path, monkeypatch):
    """The whole path through the CLI, with OpenCV's architecture and a 400 MB model."""
    _, folder = opencv_model
    caffemodel = folder / "goturn.caffemodel"
    zipped = tmp_path / "goturn.caffemodel.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_STORED) as archive:
        archive.write(caffemodel, "goturn.caffemodel")
    prototxt = OPENCV_DEPLOY.read_bytes()
    table = serve_split_zip(server, zipped.read_bytes(), prototxt)
    zipped.unlink()
    monkeypatch.setitem(fetch.MODELS, "opencv-goturn", table["opencv-goturn"])
    cache, models = tmp_path / "cache", tmp_path / "models"
    args = ["opencv-goturn", "--mirror", server.url, "--cache", str(cache), "--models-dir", str(models),
            "--no-progress"]
    assert runpy.run_path(str(TOOL))["main"](args) == 0
    assert [name for name, _ in server.requests] == ["goturn.prototxt"] + PART_NAMES
    assert filecmp.cmp(models / "opencv" / "goturn.caffemodel", caffemodel, shallow=False)
    assert (models / "opencv" / "goturn.prototxt").read_bytes() == prototxt
    assert listing(models) == ["goturn.caffemodel", "goturn.prototxt", "opencv"]
    assert listing(cache) == ["goturn.prototxt"]  # the parts and the joined zip are gone
    # There already: nothing is downloaded again.
    assert runpy.run_path(str(TOOL))["main"](args) == 0
    assert len(server.requests) == 5


def test_a_damaged_part_fails_the_crc_check_and_nothing_is_kept(server, caffe, tmp_path):
    table = serve_split_zip(server, stored_zip({"goturn.caffemodel": random_bytes(200_000)}))
    server.wrong.add(PART_NAMES[1])  # same size, one byte changed: only the CRC can tell
    with pytest.raises(DownloadError, match="CRC check failed for goturn.caffemodel"):
        fetch_opencv(server, table, tmp_path)
    assert not (tmp_path / "models").exists()
    assert listing(tmp_path / "cache") == ["goturn.prototxt"]  # the damaged parts are deleted


def test_a_caffemodel_that_does_not_fit_opencvs_net_is_rejected(server, caffe, tmp_path):
    param = caffe.proto.caffe_pb2.NetParameter()
    layer = param.layer.add()
    layer.name = "conv11"
    for shape in ((96, 3, 5, 5), (96,)):  # OpenCV's conv11 is 96x3x11x11
        blob = layer.blobs.add()
        blob.shape.dim.extend(shape)
        blob.data.extend(np.zeros(int(np.prod(shape)), np.float32))
    table = serve_split_zip(server, stored_zip({"goturn.caffemodel": param.SerializeToString()}))
    with pytest.raises(DownloadError, match=r"goturn.caffemodel: layer conv11 blob 0 has shape "
                                            r"\(96, 3, 5, 5\).* expects \(96, 3, 11, 11\)"):
        fetch_opencv(server, table, tmp_path)
    assert not (tmp_path / "models").exists()
    assert listing(tmp_path / "cache") == ["goturn.prototxt"]


def test_a_zip_without_a_caffemodel_is_rejected(server, caffe, tmp_path):
    table = serve_split_zip(server, stored_zip({"readme.txt": random_bytes(50_000)}))
    with pytest.raises(DownloadError, match=r"holds no \.caffemodel files.*readme\.txt"):
        fetch_opencv(server, table, tmp_path)
    assert not (tmp_path / "models").exists()


def test_a_wrong_file_where_the_download_goes_is_named_and_deleted(server, tmp_path):
    data = random_bytes(1000)
    url, size, digest = serve(server, "a.bin", data)
    (tmp_path / "a.bin").write_bytes(data[:10])
    with pytest.raises(DownloadError, match=re.escape(f"{tmp_path / 'a.bin'}: size is 10 bytes, "
                                                      f"expected {size}")):
        fetch_file(url, tmp_path / "a.bin", size, digest, progress=False)
    assert listing(tmp_path) == [] and server.requests == []
    assert fetch_file(url, tmp_path / "a.bin", size, digest, progress=False).read_bytes() == data


def test_not_downloaded_lists_each_missing_file(server, tmp_path):
    data = random_bytes(1000)
    serve(server, "here.bin", data)
    files = (PinnedFile("here.bin", "h", len(data)), PinnedFile("gone.bin", "h", 5))
    with pytest.raises(NotDownloaded) as caught:
        fetch.download_files(files, tmp_path, base_urls={"h": server.url}, progress=False)
    assert [(m.url, m.dest, m.reason) for m in caught.value.missing] == [
        (f"{server.url}/gone.bin", tmp_path / "gone.bin", "HTTP 404 Not Found")]
    assert (tmp_path / "here.bin").read_bytes() == data  # the others are still downloaded


# --- issue 21: digests, the prototxt's architecture, servers that trickle ------------------

def test_every_published_file_is_pinned_by_a_digest_except_opencvs_zip_parts():
    for model in fetch.MODELS.values():
        for pinned in model.files:
            if pinned.name.startswith("goturn.caffemodel.zip."):
                assert pinned.size in fetch.OPENCV_PART_SIZES  # no digest published: size + CRC
            else:
                assert {"sha1", "sha256"} & set(pinned.digests), pinned.name
    prototxt = fetch.MODELS["opencv-goturn"].files[0]
    assert (prototxt.name, prototxt.size, prototxt.sha1) == (
        "goturn.prototxt", 7949, "d9016c4f3c0e7b36338564993ea33a5510e715ab")


def test_sha256_and_git_blob_ids_are_checked_like_sha1(server, tmp_path):
    data = random_bytes(5000, seed=3)
    url, size, _ = serve(server, "a.bin", data)
    (tmp_path / "copy.bin").write_bytes(data)
    blob = subprocess.run(["git", "hash-object", str(tmp_path / "copy.bin")], capture_output=True,
                          text=True, check=True).stdout.strip()
    good = {"sha256": hashlib.sha256(data).hexdigest(), "git-blob": blob}
    assert fetch.file_digests(tmp_path / "copy.bin", good) == good
    path = fetch_file(url, tmp_path / "a.bin", size, digests=good, progress=False)
    assert path.read_bytes() == data
    path.unlink()
    for name in good:
        wrong = dict(good, **{name: "0" * len(good[name])})
        label = fetch.DIGEST_LABELS[name]
        with pytest.raises(DownloadError, match=re.escape(f"{url}: {label} is {good[name]}, expected")):
            fetch_file(url, tmp_path / "a.bin", size, digests=wrong, progress=False)
        assert listing(tmp_path) == ["copy.bin"]


def html_page(size: int) -> bytes:
    page = b"<!DOCTYPE html><html><body><h1>404 Not Found</h1>"
    return page + b" " * (size - len(page) - len(b"</body></html>")) + b"</body></html>"


def test_an_html_page_of_the_pinned_size_is_refused_as_goturn_prototxt(server, tmp_path):
    """The real pinned table, through a mirror: only the digest can tell."""
    server.files["goturn.prototxt"] = html_page(fetch.OPENCV_PROTOTXT_SIZE)
    with pytest.raises(DownloadError, match=re.escape(
            f"{server.url}/goturn.prototxt: SHA-1 is {sha1(server.files['goturn.prototxt'])}, "
            f"expected {fetch.OPENCV_PROTOTXT_SHA1}; the download was deleted")):
        fetch_model("opencv-goturn", tmp_path / "models", tmp_path / "cache", mirror=server.url,
                    progress=False)
    assert listing(tmp_path / "cache") == [] and not (tmp_path / "models").exists()
    # The same page left in the cache by hand is named and deleted, never installed.
    (tmp_path / "cache" / "goturn.prototxt").write_bytes(html_page(fetch.OPENCV_PROTOTXT_SIZE))
    with pytest.raises(DownloadError, match="goturn.prototxt: SHA-1 is .* deleted, run again"):
        fetch_model("opencv-goturn", tmp_path / "models", tmp_path / "cache", mirror=server.url,
                    progress=False)
    assert listing(tmp_path / "cache") == [] and not (tmp_path / "models").exists()


def test_a_prototxt_of_another_net_is_refused_deleted_and_downloaded_again(server, caffe, tmp_path):
    """Without a digest (the check is pluggable) the architecture check still refuses a
    junk prototxt of the right size, deletes it from the cache, and the next run
    downloads the real one instead of installing the junk."""
    table = serve_split_zip(server, stored_zip({"readme.txt": random_bytes(50_000)}))
    good = server.files["goturn.prototxt"]
    junk = (REPO_ROOT / "prototxt" / "goturn_deploy.prototxt").read_bytes()[:len(good)]
    junk += b"\n" * (len(good) - len(junk))
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "goturn.prototxt").write_bytes(junk)
    with pytest.raises(DownloadError, match=re.escape(f"{cache / 'goturn.prototxt'}: ")
                       + r".*(not OpenCV's GOTURN|not a valid net).*it was deleted"):
        fetch_opencv(server, table, tmp_path)
    assert not (cache / "goturn.prototxt").exists() and not (tmp_path / "models").exists()
    assert [name for name, _ in server.requests] == PART_NAMES  # the junk was never asked for
    server.requests.clear()
    with pytest.raises(DownloadError, match=r"holds no \.caffemodel"):  # past the prototxt check
        fetch_opencv(server, table, tmp_path)
    assert (cache / "goturn.prototxt").read_bytes() == good
    assert [name for name, _ in server.requests] == ["goturn.prototxt"]  # the parts were kept


@pytest.mark.parametrize("text, problem", [
    (html_page(3000).decode(), "not a valid net prototxt"),
    ('name: "GOTURN"\ninput: "data1"\n', "net inputs"),
])
def test_check_opencv_prototxt_names_the_problem(caffe, tmp_path, text, problem):
    path = tmp_path / "goturn.prototxt"
    path.write_text(text)
    with pytest.raises(DownloadError, match=re.escape(f"{path}: {problem}")):
        fetch.check_opencv_prototxt(path)
    fetch.check_opencv_prototxt(OPENCV_DEPLOY)  # the project's copy is the architecture


class TrickleServer:
    """Announces ``size`` bytes, then sends one byte every ``interval`` seconds for at
    most ``limit`` bytes (then closes); answers 404 after the first request, so a
    client that does not give up fails rather than waiting forever."""

    def __init__(self, size=1_000_000, interval=0.02, limit=1500):
        self.requests = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                owner.requests += 1
                if owner.requests > 1:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(size))
                self.end_headers()
                try:
                    for _ in range(limit):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(interval)
                except OSError:
                    pass  # the client gave up
                self.close_connection = True

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/slow.bin"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def trickle():
    server = TrickleServer()
    yield server
    server.close()


def test_a_server_that_trickles_is_given_up_on_with_one_line(trickle, tmp_path):
    """Each byte comes well within the socket timeout (60 s), so only the progress
    deadline (64 KiB within 1 s) can end it; the trickle lasts 30 s at most."""
    with pytest.raises(fetch.Unreachable) as caught:
        fetch_file(trickle.url, tmp_path / "slow.bin", 1_000_000, timeout=60.0,
                   progress_seconds=1.0, progress=False)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"cannot download {trickle.url} (too slow: ")
    assert f"fewer than the {fetch.PROGRESS_BYTES} wanted" in message
    assert trickle.requests == 1  # given up on, not retried
    kept = partial_path(tmp_path / "slow.bin")
    assert 0 < kept.stat().st_size < 1500 and set(kept.read_bytes()) == {ord("x")}  # resumable
    assert not (tmp_path / "slow.bin").exists()


def test_the_tool_bounds_a_trickling_server_with_timeout(trickle, tmp_path):
    done = subprocess.run([sys.executable, str(TOOL), "caffenet", "--mirror", trickle.url.rsplit("/", 1)[0],
                           "--cache", str(tmp_path / "cache"), "--models-dir", str(tmp_path / "models"),
                           "--timeout", "1", "--no-progress"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert lines[0].startswith(f"fetch_models.py: cannot download {trickle.url.rsplit('/', 1)[0]}/"
                               f"{CAFFENET_FILENAME} (")
    assert not (tmp_path / "cache" / CAFFENET_FILENAME).exists()


def test_a_junk_prototxt_installed_by_an_earlier_version_is_replaced_alone(server, caffe, tmp_path):
    """models/opencv/ already holds the model, but its goturn.prototxt is an HTML page
    of the right size (installed unchecked before): only the prototxt is downloaded
    again, checked, and put in its place; the caffemodel is left as it is."""
    good = OPENCV_DEPLOY.read_bytes()
    table = serve_split_zip(server, stored_zip({"readme.txt": b"unused"}), good)
    pinned = table["opencv-goturn"].files
    table = {"opencv-goturn": NamedModel((PinnedFile("goturn.prototxt", "opencv", len(good),
                                                     sha1(good)),) + pinned[1:], "test",
                                         opencv_zip=True)}
    folder = tmp_path / "models" / "opencv"
    folder.mkdir(parents=True)
    (folder / "goturn.caffemodel").write_bytes(b"weights checked when they were installed")
    (folder / "goturn.prototxt").write_bytes(html_page(len(good)))
    assert fetch_opencv(server, table, tmp_path) == folder / "goturn.caffemodel"
    assert server.requests == [("goturn.prototxt", None)]
    assert (folder / "goturn.prototxt").read_bytes() == good
    assert (folder / "goturn.caffemodel").read_bytes() == b"weights checked when they were installed"
    assert fetch_opencv(server, table, tmp_path) == folder / "goturn.caffemodel"
    assert len(server.requests) == 1  # the pinned prototxt is there now: nothing is downloaded
