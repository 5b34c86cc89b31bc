"""The pycaffe tracker end to end with real Caffe (issue 7)."""

import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import REPO_ROOT

from goturn_caffe.geometry.boxes import Box
from goturn_caffe.geometry.cropping import crop_and_resize, decode_box
from goturn_caffe.track.goturn import BatchedTracker, GoturnTracker, track_sequence

SAMPLE_CAR = REPO_ROOT / "data" / "sample" / "vot" / "car"
# With context factor 2 the previous box fills the middle half of the search
# crop: in the net's [0, 10] units it is (2.5, 2.5, 7.5, 7.5).
CROP_CENTRE_BOX = np.array([2.5, 2.5, 7.5, 7.5], dtype=np.float32)


@pytest.fixture
def centre_net(deploy_net):
    """The deploy net made to output the crop's centre box whatever it sees."""
    weights, bias = deploy_net.params["fc8-shapes"]
    saved = weights.data.copy(), bias.data.copy()
    weights.data[...] = 0
    bias.data[...] = CROP_CENTRE_BOX
    yield deploy_net
    weights.data[...], bias.data[...] = saved


def textured_frame(width=320, height=240, seed=0):
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)


@pytest.mark.parametrize("box", [Box.from_xywh(100, 80, 60, 40),     # interior, 2w and 2h whole
                                 Box.from_xywh(5, 5, 60, 40),         # at the top-left corner
                                 Box.from_xywh(270, 210, 50, 30)])    # touching the bottom-right
def test_static_object_keeps_its_box(centre_net, box):
    frame = textured_frame()
    tracker = GoturnTracker(net=centre_net)
    tracker.init(frame, box)
    for _ in range(3):   # the output is constant: a drift would show at once
        estimate = tracker.update(frame)
        assert estimate.as_array() == pytest.approx(box.as_array(), abs=1e-3)


def test_output_equals_the_geometry_cores_prediction(centre_net):
    frame = textured_frame(seed=1)
    box = Box(37.3, 51.9, 101.15, 88.4)  # fractional: canvas sizes round up
    tracker = GoturnTracker(net=centre_net)
    tracker.init(frame, box)
    for _ in range(3):
        _, geometry = crop_and_resize(frame, box)
        expected = decode_box(CROP_CENTRE_BOX, geometry)
        box = tracker.update(frame)
        assert box.as_array() == pytest.approx(expected.as_array(), abs=1e-3)


def test_batched_tracking_equals_single_trackers(deploy_net):
    frames = [cv2.imread(str(SAMPLE_CAR / f"{i:08d}.jpg")) for i in range(1, 6)]
    boxes = [Box.from_xywh(6, 166, 43, 27), Box.from_xywh(200, 100, 80, 60),
             Box.from_xywh(400, 50, 30, 90)]
    singles = []
    for box in boxes:
        tracker = GoturnTracker(net=deploy_net)
        result = track_sequence(tracker, frames, box)
        singles.append(result.boxes)
    batched = BatchedTracker(deploy_net)
    batched.init_batch([frames[0]] * 3, boxes)
    for t in range(1, 5):
        estimates = batched.update_batch([frames[t]] * 3)
        for target, estimate in enumerate(estimates):
            assert estimate.as_array() == pytest.approx(singles[target][t].as_array(), abs=1e-3)


def test_bad_initial_boxes_are_refused(centre_net):
    frame = textured_frame()
    tracker = GoturnTracker(net=centre_net)
    with pytest.raises(ValueError, match="zero or negative size"):
        tracker.init(frame, Box(10, 10, 10, 40))
    with pytest.raises(ValueError, match="outside the 320x240 frame"):
        tracker.init(frame, Box(400, 10, 450, 40))


def test_undecodable_frame_keeps_the_last_box(centre_net):
    frame = textured_frame()
    box = Box.from_xywh(100, 80, 60, 40)
    result = track_sequence(GoturnTracker(net=centre_net), [frame, frame, None, frame], box)
    assert result.skipped == [2]
    assert len(result.boxes) == 4
    assert result.boxes[2] == result.boxes[1]


@pytest.fixture(scope="module")
def random_weights(deploy_net_once, tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "random.caffemodel"
    deploy_net_once.save(str(path))
    return path


def test_track_py_writes_one_line_per_frame(random_weights, tmp_path):
    out = tmp_path / "car.txt"
    video = tmp_path / "car.mp4"
    run = subprocess.run([sys.executable, str(REPO_ROOT / "tools" / "track.py"), str(SAMPLE_CAR),
                          "--weights", str(random_weights), "--output", str(out),
                          "--save-video", str(video)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    lines = out.read_text().splitlines()
    frames = len(list(SAMPLE_CAR.glob("*.jpg")))
    assert len(lines) == frames == 60
    first_truth = [float(v) for v in (SAMPLE_CAR / "groundtruth.txt").read_text().split()[0].split(",")]
    xs, ys = first_truth[0::2], first_truth[1::2]
    expected = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
    assert [float(v) for v in lines[0].split(",")] == pytest.approx(expected, abs=0.006)
    for line in lines:
        values = line.split(",")
        assert len(values) == 4 and all(float(v) == float(v) for v in values)
    assert "fps network only" in run.stdout and "fps end to end" in run.stdout
    capture = cv2.VideoCapture(str(video))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == frames
    capture.release()


@pytest.mark.parametrize("args, message", [
    (["/nonexistent/video.mp4"], "no such file or folder"),
    (["--box", "1,2,3"], "expected four numbers"),
    (["--box", "10,10,0,20"], "zero or negative size"),
    (["--weights", str(REPO_ROOT / "README.md")], "README.md: "),
])
def test_track_py_bad_input(args, message, tmp_path):
    run = subprocess.run([sys.executable, str(REPO_ROOT / "tools" / "track.py")] + args +
                         ["--output", str(tmp_path / "x.txt")], capture_output=True, text=True)
    assert run.returncode == 2
    assert message in run.stderr and run.stderr.startswith("track.py: ")
    assert "Traceback" not in run.stderr
