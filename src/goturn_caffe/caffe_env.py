"""The one place that imports pycaffe, with a clear error when it is missing.

Everything Caffe-facing calls :func:`import_caffe` instead of ``import caffe``,
so ``import goturn_caffe`` keeps working on machines without Caffe.
"""

from __future__ import annotations

import os

BUILD_HINT = ("pycaffe is not importable: build it with `make caffe` (or `make test`), "
              "which compiles Caffe from source into ~/.cache/goturn-caffe and links it "
              "into the project's virtualenv (.venv); then run with .venv/bin/python")


class CaffeUnavailable(ImportError):
    pass


def import_caffe():
    """Import pycaffe quietly; ``CaffeUnavailable`` (with how to build it) when missing.

    The device is left as it is (Caffe starts on the CPU): a Python layer
    imported inside a GPU solver must not switch it back.
    """
    # Caffe logs every layer it builds to stderr through glog; keep tools readable.
    os.environ.setdefault("GLOG_minloglevel", "2")
    try:
        import caffe  # the only import of caffe in the package
    except ImportError as exc:
        raise CaffeUnavailable(f"{BUILD_HINT} ({exc})") from exc
    return caffe


def select_device(gpu: int | None = None):
    """Run Caffe on GPU ``gpu``, or on the CPU when None; returns the caffe module."""
    caffe = import_caffe()
    if gpu is None:
        caffe.set_mode_cpu()
        return caffe
    if not caffe_has_gpu(caffe):
        raise CaffeUnavailable(f"--gpu {gpu} asked for, but this Caffe build is CPU-only "
                               "(rebuild on a CUDA machine: `make caffe` with nvcc and a GPU)")
    caffe.set_device(int(gpu))
    caffe.set_mode_gpu()
    return caffe


def caffe_has_gpu(caffe) -> bool:
    info = build_info(caffe)
    return bool(info.get("flags", {}).get("cuda")) if info else False


def caffe_has_cudnn(caffe=None) -> bool:
    """Whether the Caffe build was compiled with cuDNN (BUILD_INFO.json's flags)."""
    cuda = ((build_info(caffe) or {}).get("flags") or {}).get("cuda") or {}
    return bool(cuda.get("cudnn"))


def build_info(caffe=None) -> dict | None:
    """BUILD_INFO.json of the Caffe build that ``caffe`` was imported from."""
    import json
    from pathlib import Path

    if caffe is None:
        try:
            import caffe  # noqa: F811
        except ImportError:
            return None
    # <cache>/<key>/src/python/caffe/__init__.py -> <cache>/<key>/BUILD_INFO.json
    path = Path(caffe.__file__).resolve().parents[3] / "BUILD_INFO.json"
    return json.loads(path.read_text()) if path.exists() else None
