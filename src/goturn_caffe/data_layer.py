"""The Python data layer under the module name that training prototxts name.

``prototxt/goturn_train.prototxt`` (and every prototxt a user generated from it)
says ``module: "goturn_caffe.data_layer"``; the layer itself lives in
:mod:`goturn_caffe.train.data_layer`.
"""

from goturn_caffe.train.data_layer import GoturnDataLayer  # noqa: F401
