"""goturn-caffe: GOTURN (Held, Thrun, Savarese, ECCV 2016) reproduced in Caffe.

The package imports without Caffe: geometry, datasets and the VOT protocol are
pure numpy/OpenCV.  Modules that need pycaffe import it through
:func:`goturn_caffe.caffe_env.import_caffe`, which explains how to build it
when it is missing.
"""

__version__ = "0.1.0"
