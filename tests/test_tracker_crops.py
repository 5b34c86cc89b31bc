"""What the tracker feeds the network, frame by frame (issue 17).

The authors' semantics (REFERENCE.md, the first trap): the target crop comes from
the PREVIOUS frame at the previous estimate, the search crop from the CURRENT frame
at the same box, and the output is decoded through the search crop's geometry.

A net whose output is constant cannot show which crops go in, so these tests
record the exact input blobs the net receives at every step, from a stand-in
net whose answer depends on those inputs (the estimate moves) and from the real
Caffe deploy net with non-zero fc8 weights, and compare them with crops built
independently by the geometry core.  Each test also checks that the wrong crops
(current frame as target, or a previous frame never updated) differ from the
right ones, so that the comparison can tell them apart.
"""

import cv2
import numpy as np
import pytest
from conftest import REPO_ROOT, restored

from goturn_caffe.geometry.boxes import Box
from goturn_caffe.geometry.cropping import crop_and_resize, decode_box
from goturn_caffe.geometry.preprocess import preprocess
from goturn_caffe.track.goturn import BatchedTracker, GoturnTracker, track_sequence

SAMPLE_CAR = REPO_ROOT / "data" / "sample" / "vot" / "car"
CENTRE = np.array([2.5, 2.5, 7.5, 7.5], dtype=np.float32)  # the previous box, in crop units


def car_frames(numbers) -> list:
    return [cv2.imread(str(SAMPLE_CAR / f"{n:08d}.jpg")) for n in numbers]


def car_truth(number: int) -> Box:
    line = (SAMPLE_CAR / "groundtruth.txt").read_text().splitlines()[number - 1]
    return Box.from_polygon([float(v) for v in line.split(",")])


class _Blob:
    def __init__(self, shape):
        self.data = np.zeros(shape, np.float32)

    def reshape(self, *shape):
        self.data = np.zeros(shape, np.float32)


class Recorder:
    """Keeps a copy of the ``target`` and ``image`` blobs at every ``forward()``
    (``fed``: one (target, image) pair of N x 3 x 227 x 227 arrays per step) and
    the ``fc8`` it answered (``answers``)."""

    def __init__(self):
        self.fed, self.answers = [], []

    def record(self, answer: np.ndarray) -> dict:
        self.answers.append(np.array(answer, copy=True).reshape(len(answer), -1))
        return {"fc8": answer}


class RecordingNet(Recorder):
    """A stand-in for the deploy ``caffe.Net``: input blobs to fill, and an fc8
    that moves and resizes the centre box by amounts computed from both crops."""

    def __init__(self):
        super().__init__()
        self.blobs = {"target": _Blob((1, 3, 227, 227)), "image": _Blob((1, 3, 227, 227)),
                      "fc8": _Blob((1, 4))}

    def forward(self):
        target, image = (self.blobs[name].data.copy() for name in ("target", "image"))
        self.fed.append((target, image))
        dx = 0.6 * np.tanh((image - target).mean(axis=(1, 2, 3)) / 4)
        dy = 0.4 * np.tanh(image[:, 1].mean(axis=(1, 2)) / 30)
        grow = 0.3 * np.tanh(target[:, 2].std(axis=(1, 2)) / 40 - 1)
        out = np.tile(CENTRE, (len(image), 1))
        out += np.stack([dx - grow, dy - grow, dx + grow, dy + grow], axis=1)
        self.blobs["fc8"].data = out.astype(np.float32)
        return self.record(self.blobs["fc8"].data)


class RecordingCaffeNet(Recorder):
    """A real ``caffe.Net`` whose inputs are recorded before each forward."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    @property
    def blobs(self):
        return self.net.blobs

    def forward(self):
        self.fed.append(tuple(self.net.blobs[name].data.copy() for name in ("target", "image")))
        return self.record(self.net.forward()["fc8"])


def check_step(net, step: int, item: int, previous, frame, box: Box, estimate: Box,
               first_frame=None) -> None:
    """Step ``step`` of target ``item``: the net got the target crop of ``previous``
    and the search crop of ``frame``, both at ``box`` (the previous estimate), and
    the tracker answered the net's output decoded through the search crop."""
    target = preprocess(crop_and_resize(previous, box)[0])
    search_crop, geometry = crop_and_resize(frame, box)
    search = preprocess(search_crop)
    fed_target, fed_search = (blob[item] for blob in net.fed[step])
    where = f"step {step}, target {item}"
    np.testing.assert_array_equal(fed_target, target, err_msg=f"{where}: target crop")
    np.testing.assert_array_equal(fed_search, search, err_msg=f"{where}: search crop")
    expected = decode_box(net.answers[step][item][:4], geometry)
    assert estimate.as_array() == pytest.approx(expected.as_array(), abs=1e-4), where
    # The comparison can tell the traps apart: the current frame's crop, or an
    # older frame's, is not the right target crop.
    assert not np.array_equal(search, target), f"{where}: frames too alike to test"
    if first_frame is not None and first_frame is not previous:
        assert not np.array_equal(preprocess(crop_and_resize(first_frame, box)[0]), target), where


def test_single_tracker_feeds_the_previous_frame_at_the_previous_estimate():
    frames = car_frames(range(1, 8))
    frames[4] = None  # an undecodable frame: skipped, the last decoded frame stays the previous one
    init = car_truth(1)
    net = RecordingNet()
    result = track_sequence(GoturnTracker(net), frames, init)
    assert len(net.fed) == 5 and len(result.boxes) == 7 and result.skipped == [4]
    previous, box, step = frames[0], init, 0
    for index in range(1, 7):
        if frames[index] is None:
            assert result.boxes[index] == result.boxes[index - 1]
            continue
        check_step(net, step, 0, previous, frames[index], box, result.boxes[index], frames[0])
        previous, box, step = frames[index], result.boxes[index], step + 1
    # the estimate really moved, so "the previous estimate" is not the initial box
    assert np.abs(result.boxes[-1].as_array() - init.as_array()).max() > 3
    assert len({tuple(b.as_array()) for b in result.boxes}) >= 5


def test_batched_tracker_feeds_each_target_its_own_previous_frame():
    streams = [car_frames(range(1, 6)), car_frames(range(20, 25)), car_frames(range(45, 40, -1))]
    inits = [car_truth(1), car_truth(20), Box.from_xywh(300, 60, 80, 50)]
    net = RecordingNet()
    tracker = BatchedTracker(net)
    tracker.init_batch([s[0] for s in streams], inits)
    boxes, estimates = list(inits), []
    for t in range(1, 5):
        estimates.append(tracker.update_batch([s[t] for s in streams]))
    for t in range(1, 5):
        for item, stream in enumerate(streams):
            check_step(net, t - 1, item, stream[t - 1], stream[t], boxes[item],
                       estimates[t - 1][item], stream[0])
        boxes = estimates[t - 1]
    for item, init in enumerate(inits):
        assert np.abs(boxes[item].as_array() - init.as_array()).max() > 2, item


def test_real_caffe_net_receives_the_same_crops(deploy_net):
    frames = car_frames(range(1, 5))
    init = car_truth(1)
    with restored(deploy_net, ["fc8-shapes"]):
        weights, bias = deploy_net.params["fc8-shapes"]
        weights.data[...] = np.random.default_rng(0).normal(0, 0.002, weights.data.shape)
        bias.data[...] = CENTRE
        net = RecordingCaffeNet(deploy_net)
        result = track_sequence(GoturnTracker(net), frames, init)
    assert len(net.fed) == 3
    for step in range(3):
        check_step(net, step, 0, frames[step], frames[step + 1], result.boxes[step],
                   result.boxes[step + 1], frames[0])
    assert len({tuple(b.as_array()) for b in result.boxes}) == 4  # the estimate moved each frame
