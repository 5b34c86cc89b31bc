"""Writing files so that a crash never leaves a half-written one under its final name,
and never onto a file the run reads.

Every output of the project goes through :func:`atomic_path`: the data is
written to a hidden partial file beside the target, then renamed onto the
target.  The partial's name is private to the writing process
(``.<stem>.partial.<pid>-<token><suffix>``: two runs writing the same output
never mix their lines; the suffix stays last, so writers that pick a format
from it, such as ``cv2.VideoWriter`` or matplotlib, still work).  A run that
crashed leaves its partial behind; the next writer of the same target removes
those of processes that no longer run (:func:`remove_dead_partials`), and
:func:`remove_stale_partials` clears a whole folder's.  A download that is
resumed keeps the one shared name of :func:`partial_path`
(``.<stem>.partial<suffix>``) so the next run finds it.

:func:`check_not_inputs` is the one check, run by every tool before it writes
anything, that no output is a file the run reads (through links, ``..`` and
hard links) and that no two outputs are one file.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Optional

PARTIAL_TAG = ".partial"
CHUNK = 1 << 20
# what a write to a file that opened fine can fail with: the file is to blame
WRITE_ERRORS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EIO, errno.EROFS}


def partial_path(path) -> Path:
    """The shared partial file of ``path``: the one a resumable download
    (``atomic_path(keep_partial=True)``) continues on the next run."""
    path = Path(path)
    return path.with_name(f".{path.stem}{PARTIAL_TAG}{path.suffix}")


def private_partial_path(path) -> Path:
    """A partial file of ``path`` that only this process writes: its process id and
    a random token in the name, the suffix last."""
    path = Path(path)
    return path.with_name(f".{path.stem}{PARTIAL_TAG}.{os.getpid()}-{secrets.token_hex(4)}"
                          f"{path.suffix}")


def is_partial(path) -> bool:
    name = Path(path).name
    return name.startswith(".") and PARTIAL_TAG in name


def partial_owner(path) -> Optional[int]:
    """The process id in a private partial's name; None for a shared partial."""
    tail = Path(path).name.rsplit(PARTIAL_TAG + ".", 1)
    if len(tail) != 2:
        return None
    pid = tail[1].split("-", 1)[0]
    return int(pid) if pid.isdigit() else None


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:         # another user's process: alive
        return True
    return True


def _stale(path: Path) -> bool:
    """A partial no running process writes: a shared one, or a private one whose
    process has ended."""
    owner = partial_owner(path)
    return owner is None or not _process_alive(owner)


def partials_of(path) -> list:
    """Every partial file (shared or private) of the target ``path``."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    prefix, suffix = f".{path.stem}{PARTIAL_TAG}", path.suffix
    shared = partial_path(path).name
    return sorted(p for p in path.parent.iterdir()
                  if p.name == shared or (p.name.startswith(prefix + ".") and p.name.endswith(suffix)
                                          and partial_owner(p) is not None))


def remove_dead_partials(path) -> list:
    """Delete the private partials of the target ``path`` that a crashed run left (their
    process no longer runs): what a rerun of the same output cleans up.  The shared
    partial (a resumable download) and those of running processes stay."""
    dead = [p for p in partials_of(path) if partial_owner(p) is not None and _stale(p)]
    for partial in dead:
        partial.unlink(missing_ok=True)
    return dead


def claim_private_partial(path) -> Path:
    """Ready ``path``'s folder for a new private partial file: make the folder,
    delete the partials a crashed run left (:func:`remove_dead_partials`), and
    return this process's new partial name (:func:`private_partial_path`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_partials(path)
    return private_partial_path(path)


@contextmanager
def atomic_path(path, make_parents: bool = True, keep_partial: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on any
    error it is deleted (``path`` keeps its old content, if any).  The temporary
    path is private to this process (:func:`private_partial_path`).  With
    ``keep_partial`` it is the shared :func:`partial_path` instead, and an error
    leaves it where it is for the next run to continue (a download to resume);
    the writer deletes it itself when its content is wrong."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder, not a file to write")
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    if keep_partial:
        tmp = partial_path(path)
    else:   # not claim_private_partial: that would make the parents make_parents=False leaves out
        remove_dead_partials(path)
        tmp = private_partial_path(path)
    done = False
    try:
        with errors_naming(path):
            yield tmp
            os.replace(tmp, path)
        done = True
    finally:
        if done or not keep_partial:
            tmp.unlink(missing_ok=True)


@contextmanager
def errors_naming(path) -> Iterator[None]:
    """Make an OSError raised inside the block without a file name (a write that
    hits a full disk or the file-size limit: ``[Errno 28] No space left on
    device``) name ``path``, the file the user asked for."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None or exc.errno not in WRITE_ERRORS:
            raise
        raise type(exc)(exc.errno, exc.strerror or os.strerror(exc.errno), str(path)) from exc


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
    """Delete the partial files crashed runs left directly in ``folder`` (those of
    processes still running stay: another run may be writing them); returns them."""
    folder = Path(folder)
    stale = [p for p in folder.iterdir() if is_partial(p) and p.is_file() and _stale(p)] \
        if folder.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def _identity(path) -> tuple:
    """(the path with links and ``..`` resolved, (device, inode) or None when there is no
    such file yet): two paths name one file when either is equal."""
    path = Path(path)
    try:
        found = os.stat(path)
        inode = (found.st_dev, found.st_ino)
    except OSError:
        inode = None
    return path.resolve(), inode


def same_file(a, b) -> bool:
    """True when paths ``a`` and ``b`` name one file: the same path once links and
    ``..`` are resolved, or, for two existing files, the same inode (a hard link).
    Writing ``a`` would then destroy ``b``."""
    (path_a, inode_a), (path_b, inode_b) = _identity(a), _identity(b)
    return path_a == path_b or (inode_a is not None and inode_a == inode_b)


def _paths(value) -> list:
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike)):
        return [value]
    return [v for v in value if v is not None]


def _in_folder(output: Path, folder: Path) -> bool:
    """Whether the existing file ``output`` is one of the files of the input ``folder``:
    below it by path, or a hard link to a file in it."""
    if output.resolve().is_relative_to(folder.resolve()):
        return True
    found = output.stat()
    if found.st_nlink < 2:      # no other name anywhere: nothing to search for
        return False
    for parent, _, names in os.walk(folder):
        for name in names:
            try:
                other = os.stat(os.path.join(parent, name))
            except OSError:
                continue
            if (other.st_dev, other.st_ino) == (found.st_dev, found.st_ino):
                return True
    return False


def check_not_inputs(outputs: Mapping, inputs: Iterable) -> None:
    """Refuse, with a ValueError naming the file, an output that is a file the run
    reads, and two outputs that are one file.

    ``outputs`` maps an option (``"--output"``) to a path, a list of paths or None;
    ``inputs`` is every file the run reads (None entries are skipped), with the
    defaults already resolved to their paths; an input folder (a dataset root)
    stands for every file in it.  Paths are compared after links and ``..`` are
    resolved, and by inode, so a symbolic or hard link to an input is an input too
    (:func:`same_file`; each input is looked at once, so a sequence of thousands of
    frames costs milliseconds).  Call it before anything is written, or loaded."""
    named = [(option, Path(path)) for option, value in outputs.items() for path in _paths(value)]
    readings = [Path(path) for path in _paths(list(inputs))]
    by_path, by_inode = {}, {}
    for other in readings:
        resolved, inode = _identity(other)
        by_path.setdefault(resolved, other)
        if inode is not None:
            by_inode.setdefault(inode, other)
    folders = [other for other in readings if other.is_dir()]
    identities = []
    for option, path in named:
        resolved, inode = _identity(path)
        identities.append((resolved, inode))
        other = by_path.get(resolved) or (by_inode.get(inode) if inode is not None else None)
        if other is None and inode is not None and path.is_file():
            other = next((folder for folder in folders if _in_folder(path, folder)), None)
        if other is not None:
            raise ValueError(f"{path}: {option} would overwrite an input of the run "
                             f"({other}); choose another file")
    # Two outputs that are one file (same_file's rule), found through the identities
    # above: an evaluation names thousands of outputs, too many to compare in pairs.
    seen_path, seen_inode = {}, {}
    for (option, path), (resolved, inode) in zip(named, identities):
        earlier = seen_path.get(resolved) or (seen_inode.get(inode) if inode is not None else None)
        if earlier is not None:
            raise ValueError(f"{earlier[1]}: {earlier[0]} and {option} are the same file")
        seen_path.setdefault(resolved, (option, path))
        if inode is not None:
            seen_inode.setdefault(inode, (option, path))


def hash_file(path, digests: Iterable) -> None:
    """Feed the file's bytes to each of the hashlib objects ``digests``, reading it once."""
    digests = list(digests)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            for digest in digests:
                digest.update(chunk)


def file_digest(path, algorithm: str = "sha256") -> str:
    """Hex digest of a file (``algorithm``: any hashlib name, e.g. md5, sha1, sha256)."""
    digest = hashlib.new(algorithm)
    hash_file(path, [digest])
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
