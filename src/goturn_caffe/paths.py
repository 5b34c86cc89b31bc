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
