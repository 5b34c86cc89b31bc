"""Checksums and safe extraction of downloaded dataset archives (zip, tar, tar.gz, ...).

An archive member may not escape the destination: absolute paths, ``..``
components, links and device files are refused before anything is written.
Extraction goes to a hidden folder beside the destination and its top-level
entries are moved in only when everything was extracted, so an interrupted
extraction leaves no half-extracted dataset behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from goturn_caffe.datasets.image_io import DatasetError
from goturn_caffe.fileio import file_digest


def verify_checksum(path, checksum: str) -> None:
    """Check ``path`` against ``"<algorithm>:<hex>"`` (e.g. ``md5:9001...``); DatasetError if different."""
    algorithm, _, expected = checksum.partition(":")
    if not expected or algorithm.lower() not in hashlib.algorithms_available:
        raise DatasetError(checksum, "bad checksum: expected <algorithm>:<hex>, e.g. sha256:ab12...")
    actual = file_digest(path, algorithm.lower())
    if actual != expected.strip().lower():
        raise DatasetError(path, f"checksum mismatch: {algorithm} is {actual}, expected {expected}")


def check_member_name(name: str, archive) -> None:
    """Refuse a member path that is absolute or climbs out with ``..``."""
    posix = name.replace("\\", "/")
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        raise DatasetError(archive, f"unsafe archive member: absolute path {name!r}")
    if ".." in PurePosixPath(posix).parts:
        raise DatasetError(archive, f"unsafe archive member: {name!r} leaves the destination")


def _check_tar(archive: Path, tar: tarfile.TarFile) -> None:
    for member in tar.getmembers():
        check_member_name(member.name, archive)
        if not (member.isfile() or member.isdir()):
            raise DatasetError(archive, f"unsafe archive member: {member.name!r} is a link or "
                                        "special file")


def _extract_all(archive: Path, into: Path) -> None:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zipped:
            for name in zipped.namelist():
                check_member_name(name, archive)
            zipped.extractall(into)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tar:
            _check_tar(archive, tar)   # the same rules as tarfile's "data" filter, and stricter
            if hasattr(tarfile, "data_filter"):
                tar.extractall(into, filter="data")
            else:   # Pythons before 3.11.4 / 3.10.12 (Debian 12's 3.11.2): checked above
                tar.extractall(into)
    else:
        raise DatasetError(archive, "unknown archive format: not a zip or tar file")


def safe_extract(archive, dest) -> list:
    """Extract ``archive`` so that its top-level entries land in folder ``dest``.

    Every member is checked first (see module doc). Nothing is moved into
    ``dest`` unless all members extracted and none of the top-level entries
    already exists there. Returns the top-level names, sorted.
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise DatasetError(archive, "missing archive")
    dest.mkdir(parents=True, exist_ok=True)
    staging = dest / f".{archive.name}.partial"
    if staging.exists():  # left by an interrupted run
        shutil.rmtree(staging)
    try:
        _extract_all(archive, staging)
        names = sorted(os.listdir(staging))
        clashes = [name for name in names if (dest / name).exists()]
        if clashes:
            raise DatasetError(dest, f"already extracted: {', '.join(clashes)} exists; remove it first")
        for name in names:
            os.replace(staging / name, dest / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return names


def extract_nested_tars(folder, remove: bool = False) -> list:
    """Extract each ``<name>.tar`` directly in ``folder`` into ``folder/<name>/``.

    ImageNet's ILSVRC2014 DET training archive holds one tar per synset.
    Already extracted ones (the folder exists) are skipped, so this resumes.
    Returns the folders written this run.
    """
    written = []
    for inner in sorted(Path(folder).glob("*.tar")):
        target = inner.with_suffix("")
        if not target.exists():
            staging = target.with_name(f".{target.name}.tmp")
            if staging.exists():  # left by an interrupted run
                shutil.rmtree(staging)
            safe_extract(inner, staging)
            os.replace(staging, target)
            written.append(target)
        if remove:
            inner.unlink()
    return written
