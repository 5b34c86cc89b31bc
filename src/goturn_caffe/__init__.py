"""goturn-caffe: GOTURN (Held, Thrun, Savarese, ECCV 2016) reproduced in Caffe.

The package imports without Caffe: geometry, datasets and the VOT protocol are
pure numpy/OpenCV.  Modules that need pycaffe import it through
:func:`goturn_caffe.caffe_env.import_caffe`, which explains how to build it
when it is missing.
"""

__version__ = "0.1.0"

# The scripting API (goturn_caffe.track.api), imported on first use so that
# `import goturn_caffe` stays free of pycaffe.
_API = {"open_tracker": "goturn_caffe.track.api", "open_batch_tracker": "goturn_caffe.track.api",
        "choose_model": "goturn_caffe.track.api", "Box": "goturn_caffe.geometry.boxes"}
__all__ = ["__version__", *_API]


def __getattr__(name):
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'goturn_caffe' has no attribute {name!r}")
