"""A Python layer used by the build tests: top = scale * bottom**2 (element-wise)."""

import json

import caffe


class ScaledSquare(caffe.Layer):
    def setup(self, bottom, top):
        self.scale = float(json.loads(self.param_str)["scale"])

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].data.shape)

    def forward(self, bottom, top):
        top[0].data[...] = self.scale * bottom[0].data ** 2

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = 2.0 * self.scale * bottom[0].data * top[0].diff
