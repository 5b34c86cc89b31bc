"""The Python API with what scripts really pass it (issue 21): grey, BGRA, 16-bit, float and
None frames, (x, y, w, h) tuples, update before init, frames smaller than the box, 1x1
frames.  Frames are converted as track.py converts image files (one conversion), or refused
with a ValueError that says what is expected; the box returned is always at least 1x1 px in
the frame."""

import cv2
import numpy as np
import pytest
from conftest import REPO_ROOT

from goturn_caffe.datasets.image_io import as_bgr_image, read_image
from goturn_caffe.geometry.boxes import Box
from goturn_caffe.track.api import ScriptBatchTracker, ScriptTracker, as_box, box_in_frame
from goturn_caffe.track.goturn import BatchedTracker, GoturnTracker

SAMPLE_FRAME = REPO_ROOT / "data" / "sample" / "vot" / "car" / "00000001.jpg"


class Blob:
    def __init__(self, shape):
        self.data = np.zeros(shape, np.float32)

    def reshape(self, *shape):
        self.data = np.zeros(shape, np.float32)


class ConstantNet:
    """A GOTURN-shaped net whose fc8 is ``out`` (the net's [0, 10] crop units) whatever it sees."""

    def __init__(self, out):
        self.blobs = {"target": Blob((1, 3, 227, 227)), "image": Blob((1, 3, 227, 227))}
        self.out = np.asarray(out, np.float32)
        self.seen = []

    def forward(self):
        self.seen.append(self.blobs["image"].data.copy())
        return {"fc8": np.tile(self.out, (self.blobs["image"].data.shape[0], 1))}


CENTRE = [2.5, 2.5, 7.5, 7.5]     # the previous box again: the search crop's middle half


# ---- one conversion: arrays as files are read --------------------------------------------
@pytest.mark.parametrize("kind", ["grey", "grey 16-bit", "BGRA", "BGRA 16-bit", "BGR 16-bit",
                                  "grey (H, W, 1)"])
def test_arrays_convert_as_the_same_pixels_read_from_a_file(kind, tmp_path):
    rng = np.random.default_rng(1)
    channels = 1 if kind.startswith("grey") else 4 if "BGRA" in kind else 3
    dtype = np.uint16 if "16-bit" in kind else np.uint8
    pixels = rng.integers(0, np.iinfo(dtype).max, (9, 11, channels), dtype=dtype)
    if kind in ("grey", "grey 16-bit"):
        pixels = pixels[:, :, 0]
    path = tmp_path / "frame.png"
    assert cv2.imwrite(str(path), pixels)
    from_file = read_image(path)          # what track.py tracks for this file
    converted = as_bgr_image(pixels)
    assert converted.dtype == np.uint8 and converted.shape == (9, 11, 3)
    assert np.array_equal(converted, from_file)


def test_a_bgr_uint8_frame_is_used_as_it_is():
    frame = cv2.imread(str(SAMPLE_FRAME))
    assert as_bgr_image(frame) is frame


@pytest.mark.parametrize("frame, said", [
    (None, "is None, not an image"),
    (np.zeros((8, 8, 3), np.float32), "has float32 pixels"),
    (np.zeros((8, 8, 3), np.int64), "has int64 pixels"),
    (np.zeros((8, 8, 2), np.uint8), "has shape (8, 8, 2)"),
    (np.zeros((0, 8, 3), np.uint8), "has shape (0, 8, 3)"),
    (np.zeros(8, np.uint8), "has shape (8,)"),
    ([[0, 1], [2, 3]], "is a list"),
])
def test_frames_that_cannot_be_converted_say_what_is_expected(frame, said):
    with pytest.raises(ValueError) as raised:
        as_bgr_image(frame, "update()'s frame")
    message = str(raised.value)
    assert message.startswith(f"update()'s frame {said}") and "expected a BGR image" in message


# ---- boxes --------------------------------------------------------------------------------
def test_a_box_or_an_xywh_tuple():
    assert as_box((10, 20, 30, 40)) == Box.from_xywh(10, 20, 30, 40) == as_box(np.array([10, 20, 30, 40]))
    assert as_box([1.5, 2, 3, 4]) == Box(1.5, 2, 4.5, 6)
    box = Box(1, 2, 3, 4)
    assert as_box(box) is box
    for bad in [(1, 2, 3), "10,20,30,40", None, (1, 2, 3, float("nan"))]:
        with pytest.raises(ValueError):
            as_box(bad)


@pytest.mark.parametrize("box, width, height, expected", [
    (Box(10, 10, 30, 40), 100, 100, Box(10, 10, 30, 40)),           # valid: unchanged
    (Box(26, 26, 10, 10), 10, 10, Box(9, 9, 10, 10)),               # inverted, off the frame
    (Box(33, 0, 39, 33), 40, 40, Box(33, 0, 39, 33)),
    (Box(40.1, 0, 39.9, 40), 40, 40, Box(39, 0, 40, 40)),          # negative width at the edge
    (Box(20, 20, 20, 20), 40, 40, Box(19.5, 19.5, 20.5, 20.5)),    # empty: 1 px around it
    (Box(3, 3, -2, -2), 1, 1, Box(0, 0, 1, 1)),                    # a 1x1 frame
    (Box(-5, -5, 20, 20), 1, 1, Box(-5, -5, 20, 20)),              # sticks out: valid as it is
    (Box(50, 10, 60, 20), 40, 40, Box(39, 10, 40, 20)),            # wholly off the frame
])
def test_box_in_frame(box, width, height, expected):
    result = box_in_frame(box, width, height)
    assert result.as_array() == pytest.approx(expected.as_array())
    assert result.width >= 1 and result.height >= 1 and result.overlaps_image(width, height)


# ---- the tracker a script gets -------------------------------------------------------------
@pytest.mark.parametrize("out, frame_size, box", [
    (CENTRE, (1, 1), (0, 0, 1, 1)),                  # a 1x1 frame
    ([9, 9, 10, 10], (10, 10), (0, 0, 20, 20)),      # the frame smaller than the box
    ([8, 2, 9, 8], (40, 40), (0, 0, 30, 30)),        # drifts off the right edge
    ([5, 5, 5, 5], (40, 40), (5, 5, 30, 30)),        # an empty estimate
])
def test_the_box_returned_is_always_at_least_a_pixel_in_the_frame(out, frame_size, box):
    """The net's estimate for these is empty or inverted (negative height before the fix);
    the tracker returns the nearest valid box and goes on from it."""
    net = ConstantNet(out)
    tracker = ScriptTracker(GoturnTracker(net))
    frame = np.full(frame_size[::-1] + (3,), 128, np.uint8)
    tracker.init(frame, box)
    for _ in range(3):
        result = tracker.update(frame)
        assert result.width >= 1 and result.height >= 1
        assert result.overlaps_image(*frame_size)
        assert tracker.tracker.batch.boxes == [result]     # it goes on from the box returned


def test_a_valid_estimate_comes_back_unchanged():
    frame = cv2.imread(str(SAMPLE_FRAME))
    raw, script = GoturnTracker(ConstantNet(CENTRE)), ScriptTracker(GoturnTracker(ConstantNet(CENTRE)))
    raw.init(frame, Box.from_xywh(100, 80, 60, 40))
    script.init(frame, (100, 80, 60, 40))
    for _ in range(2):
        assert script.update(frame) == raw.update(frame)


@pytest.mark.parametrize("convert", [
    lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2GRAY),
    lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2BGRA),
    lambda f: f.astype(np.uint16) * 257,
])
def test_grey_bgra_and_16_bit_frames_track_as_their_files_would(convert):
    frame = cv2.imread(str(SAMPLE_FRAME))
    expected, given = ConstantNet(CENTRE), ConstantNet(CENTRE)
    reference = ScriptTracker(GoturnTracker(expected))
    reference.init(as_bgr_image(convert(frame)), Box.from_xywh(100, 80, 60, 40))
    reference.update(as_bgr_image(convert(frame)))
    tracker = ScriptTracker(GoturnTracker(given))
    tracker.init(convert(frame), (100, 80, 60, 40))
    assert tracker.update(convert(frame)) == reference.box
    assert np.array_equal(given.seen[0], expected.seen[0])   # the net saw the same pixels


def test_script_mistakes_are_value_errors_that_say_what_to_do():
    frame = cv2.imread(str(SAMPLE_FRAME))
    tracker = ScriptTracker(GoturnTracker(ConstantNet(CENTRE)))
    with pytest.raises(ValueError, match=r"update\(\) before init\(\): start with init\(frame, box\)"):
        tracker.update(frame)
    with pytest.raises(ValueError, match=r"init\(\)'s frame is None"):
        tracker.init(None, (1, 1, 5, 5))
    with pytest.raises(ValueError, match=r"init\(\)'s box .* has zero or negative size"):
        tracker.init(frame, (10, 10, 0, 5))
    with pytest.raises(ValueError, match=r"init\(\)'s box '10,10,5,5': expected a Box or an \(x, y, w, h\)"):
        tracker.init(frame, "10,10,5,5")
    tracker.init(frame, (10, 10, 50, 50))
    with pytest.raises(ValueError, match=r"update\(\)'s frame has float64 pixels"):
        tracker.update(frame / 255.0)


def test_the_batch_tracker_takes_the_same_frames_and_boxes():
    frame = cv2.imread(str(SAMPLE_FRAME))
    tracker = ScriptBatchTracker(BatchedTracker(ConstantNet([9, 9, 10, 10])))
    with pytest.raises(ValueError, match=r"update_batch\(\) before init_batch\(\)"):
        tracker.update_batch([frame])
    with pytest.raises(ValueError, match="a list of frames, one per target"):
        tracker.init_batch(frame, [(1, 1, 5, 5)])
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    tracker.init_batch([grey, frame], [(600, 250, 100, 100), Box.from_xywh(10, 10, 50, 50)])
    boxes = tracker.update_batch([grey, frame])
    assert len(boxes) == 2 and all(b.width >= 1 and b.height >= 1 and b.overlaps_image(640, 272)
                                   for b in boxes)
    assert tracker.tracker.boxes == boxes


def test_open_tracker_returns_the_checked_tracker(caffe, tmp_path):
    """End to end with Caffe: open_tracker() takes a tuple box and a grey frame."""
    from vot_fixtures import write_tiny_goturn

    from goturn_caffe import open_batch_tracker, open_tracker

    prototxt, weights = write_tiny_goturn(tmp_path)
    frame = cv2.imread(str(SAMPLE_FRAME))
    tracker = open_tracker(weights, deploy=prototxt)
    assert isinstance(tracker, ScriptTracker) and tracker.model.weights == weights
    tracker.init(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (100, 80, 60, 40))
    box = tracker.update(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    assert box.width >= 1 and box.height >= 1
    assert isinstance(open_batch_tracker(weights, deploy=prototxt), ScriptBatchTracker)
