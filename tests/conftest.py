"""Shared test fixtures.  Real data comes from the shared data folder when it is
there (GOTURN_SHARED_DATA, default ../shared/data beside the repository);
tests that need it skip, or use fixtures they write, when it is absent."""

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # test-only Caffe Python layers


def shared_data_dir() -> Path:
    return Path(os.environ.get("GOTURN_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    root = shared_data_dir()
    if not root.is_dir():
        pytest.skip(f"shared data folder {root} not present")
    return root


@pytest.fixture(scope="session")
def caffe():
    from goturn_caffe.caffe_env import import_caffe

    return import_caffe()
