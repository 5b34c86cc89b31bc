"""Where the repository and the bundled real data live (defaults of the CLIs)."""

from __future__ import annotations

import os
from pathlib import Path

# src/goturn_caffe/paths.py -> the repository root (the package is installed editable).
REPO_ROOT = Path(__file__).resolve().parents[2]
OUTPUT_DIR = REPO_ROOT / "output"


def shared_data_dir() -> Path:
    """The shared real-data folder: $GOTURN_SHARED_DATA, else ``shared/data`` beside the repository.

    It may not exist (a user's checkout has no such folder); callers check.
    """
    return Path(os.environ.get("GOTURN_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


SAMPLE_DIR = REPO_ROOT / "data" / "sample"   # the real data bundled with the repository


def default_vot_dataset() -> Path:
    """The shared VOT subset when present, else the sample bundled in data/sample/vot."""
    shared = shared_data_dir() / "vot"
    return shared if shared.is_dir() else SAMPLE_DIR / "vot"


def user_cache_dir() -> Path:
    """The project's cache on this machine: $GOTURN_CAFFE_CACHE, default
    ``~/.cache/goturn-caffe`` (Caffe builds, downloads, file digests)."""
    return Path(os.environ.get("GOTURN_CAFFE_CACHE", Path.home() / ".cache" / "goturn-caffe"))
