from goturn_caffe.datasets.base import Frame, SkipReport, StillImage, Video  # noqa: F401
