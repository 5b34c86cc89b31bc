"""Writing files so that a crash never leaves a half-written one under its final name.

Every output of the project goes through :func:`atomic_path`: the data is
written to a hidden partial file beside the target
(``.<stem>.partial<suffix>``: the suffix stays last, so writers that pick a
format from it, such as ``cv2.VideoWriter`` or matplotlib, still work), then
renamed onto the target.  A rerun writes the same partial name again, so a
crash's leftover is replaced, and :func:`remove_stale_partials` clears the ones
nothing will rewrite.
"""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

PARTIAL_TAG = ".partial"
CHUNK = 1 << 20


def partial_path(path) -> Path:
    """The hidden file that :func:`atomic_path` writes before renaming it to ``path``."""
    path = Path(path)
    return path.with_name(f".{path.stem}{PARTIAL_TAG}{path.suffix}")


def is_partial(path) -> bool:
    name = Path(path).name
    return name.startswith(".") and PARTIAL_TAG in name


@contextmanager
def atomic_path(path, make_parents: bool = True, keep_partial: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on any
    error it is deleted (``path`` keeps its old content, if any).  With
    ``keep_partial`` an error leaves the temporary file where it is, hidden
    under its partial name, for the next run to continue (a download to
    resume); the writer deletes it itself when its content is wrong."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder, not a file to write")
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(path)
    done = False
    try:
        yield tmp
        os.replace(tmp, path)
        done = True
    finally:
        if done or not keep_partial:
            tmp.unlink(missing_ok=True)


def write_bytes_atomic(path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json_atomic(path, data, indent: int = 1) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=indent, default=str) + "\n")


def remove_stale_partials(folder) -> list:
    """Delete the partial files a crashed run left directly in ``folder``; returns them."""
    folder = Path(folder)
    stale = [p for p in folder.iterdir() if is_partial(p) and p.is_file()] if folder.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def same_file(a, b) -> bool:
    """True when paths ``a`` and ``b`` name one file (after resolving links and
    ``..``, or the same inode): writing ``a`` would destroy ``b``."""
    a, b = Path(a), Path(b)
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def file_digest(path, algorithm: str = "sha256") -> str:
    """Hex digest of a file (``algorithm``: any hashlib name, e.g. md5, sha1, sha256)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


DIGEST_CACHE = "digests.json"


def cached_digest(path, algorithm: str = "sha256", cache_file=None) -> str:
    """:func:`file_digest`, remembered by (absolute path, size, modification time) in
    ``cache_file`` (default ``digests.json`` in :func:`goturn_caffe.paths.user_cache_dir`),
    so that a large unchanged file (a 455 MB model) is hashed once.  A file that is
    replaced or touched is hashed again; an unwritable cache only costs the rehash.
    FileNotFoundError when ``path`` does not exist."""
    from goturn_caffe.paths import user_cache_dir

    path = Path(path).resolve()
    stat = path.stat()
    cache_file = Path(cache_file) if cache_file is not None else user_cache_dir() / DIGEST_CACHE
    try:
        entries = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        entries = {}
    if not isinstance(entries, dict):
        entries = {}
    key = f"{algorithm}:{path}"
    stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    entry = entries.get(key)
    if isinstance(entry, dict) and {k: entry.get(k) for k in stamp} == stamp and entry.get("digest"):
        return entry["digest"]
    digest = file_digest(path, algorithm)
    entries[key] = dict(stamp, digest=digest)
    try:
        write_json_atomic(cache_file, entries)
    except OSError:
        pass
    return digest
