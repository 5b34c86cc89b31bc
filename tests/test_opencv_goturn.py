"""OpenCV's GOTURN model through our pycaffe tracker equals cv2.TrackerGOTURN (issue 10)."""

import cv2
import pytest
from conftest import REPO_ROOT

from goturn_caffe.geometry.boxes import Box
from goturn_caffe.track.opencv import OpenCVGoturnTracker, intersect_frame

SAMPLE_CAR = REPO_ROOT / "data" / "sample" / "vot" / "car"


def test_same_boxes_as_cv2_tracker_goturn_on_every_frame(opencv_model):
    net, folder = opencv_model
    frames = [cv2.imread(str(p)) for p in sorted(SAMPLE_CAR.glob("*.jpg"))]
    params = cv2.TrackerGOTURN_Params()
    params.modelTxt, params.modelBin = str(folder / "goturn.prototxt"), str(folder / "goturn.caffemodel")
    reference = cv2.TrackerGOTURN_create(params)
    ours = OpenCVGoturnTracker(net=net)
    init = (6, 166, 43, 27)  # the car's first ground-truth box, as OpenCV's integer Rect
    reference.init(frames[0], init)
    ours.init(frames[0], Box.from_xywh(*init))
    moved = 0
    for frame in frames[1:]:
        _, expected = reference.update(frame)
        got = ours.update(frame).to_xywh()
        assert tuple(got) == tuple(expected), (got, expected)
        moved += tuple(expected) != init
    assert moved > 0  # the comparison exercised real, changing boxes


def test_rect_intersection_matches_opencv():
    assert intersect_frame(-5, 10, 20, 20, 100, 50) == (0, 10, 15, 20)
    assert intersect_frame(90, 40, 20, 20, 100, 50) == (90, 40, 10, 10)
    assert intersect_frame(200, 10, 5, 5, 100, 50) == (0, 0, 0, 0)


def test_authors_layout_check_names_opencv_files(opencv_model):
    from goturn_caffe.model.net import DEPLOY_PROTOTXT, ModelError, load_net

    _, folder = opencv_model
    with pytest.raises(ModelError, match="use --model-format opencv"):
        load_net(DEPLOY_PROTOTXT, folder / "goturn.caffemodel")
