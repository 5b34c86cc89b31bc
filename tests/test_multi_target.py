"""Several targets in one video (issue 15): one batched forward pass per frame gives
the boxes of N single-target runs; the boxes files, the CSV and the annotated video;
bad --boxes files and boxes in one line."""

import csv

import cv2
import numpy as np
import pytest
from conftest import REPO_ROOT, load_tool
from vot_fixtures import write_car_excerpts, write_tiny_goturn

from goturn_caffe.geometry.boxes import Box
from goturn_caffe.track.goturn import BatchedTracker, GoturnTracker, track_sequence
from goturn_caffe.track.multi import (
    COLOURS,
    check_target_boxes,
    draw_targets,
    read_boxes_file,
    track_targets,
)
from goturn_caffe.track.output import format_box
from goturn_caffe.track.sequences import SequenceError, open_sequence

SAMPLE_CAR = REPO_ROOT / "data" / "sample" / "vot" / "car"
BOXES = [Box.from_xywh(6, 166, 43, 27), Box.from_xywh(200.5, 100, 80, 60.25),
         Box.from_xywh(400, 50, 30, 90)]


@pytest.fixture(scope="module")
def tiny(caffe, tmp_path_factory):
    """A small GOTURN-shaped net whose boxes move with the pixels (not a constant net)."""
    return write_tiny_goturn(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def car4(tmp_path_factory):
    return write_car_excerpts(tmp_path_factory.mktemp("vot"), SAMPLE_CAR, starts=(1,), frames=4) / "car_1"


class CountingNet:
    """A net that records the batch size of every forward pass."""

    def __init__(self, net):
        self.net, self.blobs, self.batches = net, net.blobs, []

    def forward(self):
        self.batches.append(self.blobs["image"].data.shape[0])
        return self.net.forward()


def single_runs(tiny, frames) -> list:
    from goturn_caffe.model.net import load_net

    return [track_sequence(GoturnTracker(load_net(*tiny)), frames, box).boxes for box in BOXES]


def test_n_targets_in_one_video_equal_n_single_target_runs(tiny, car4):
    from goturn_caffe.model.net import load_net

    frames = list(open_sequence(car4).frames())
    singles = single_runs(tiny, frames)
    net = CountingNet(load_net(*tiny))
    result = track_targets(BatchedTracker(net), enumerate(frames), BOXES)

    assert net.batches == [3, 3, 3]           # one forward of batch N per frame after the first
    assert len(result.boxes) == 4 and result.tracked_frames == 3
    for t, boxes in enumerate(result.boxes):
        for target, box in enumerate(boxes):
            assert box.as_array() == pytest.approx(singles[target][t].as_array(), abs=1e-4)
    # the net's answer depends on what it sees: the targets move, each differently
    moves = [singles[k][3].as_array() - BOXES[k].as_array() for k in range(3)]
    assert all(np.abs(move).max() > 0.5 for move in moves)
    assert np.abs(moves[0] - moves[1]).max() > 0.5


def test_track_py_writes_each_target_and_one_csv(tiny, car4, tmp_path):
    """The tool's files hold exactly the boxes of N single-target runs."""
    singles = single_runs(tiny, list(open_sequence(car4).frames()))
    boxes_file = tmp_path / "more.txt"
    boxes_file.write_text("# the third target\n\n" + " ".join(map(str, BOXES[2].to_xywh())) + "\n")
    out, table, video = tmp_path / "boxes", tmp_path / "all.csv", tmp_path / "targets.avi"
    args = [str(car4), "--deploy", str(tiny[0]), "--weights", str(tiny[1]),
            "--box", ",".join(map(str, BOXES[0].to_xywh())),
            "--box", ",".join(map(str, BOXES[1].to_xywh())), "--boxes", str(boxes_file),
            "--output", str(out), "--csv", str(table), "--save-video", str(video)]
    assert load_tool("track").main(args) == 0

    for k in range(3):
        lines = (out / f"target{k + 1}.txt").read_text().splitlines()
        assert lines == [format_box(box) for box in singles[k]]
    with open(table, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["frame", "target", "x", "y", "w", "h"]
    assert rows[1:] == [[str(t), str(k + 1)] + format_box(singles[k][t]).split(",")
                        for t in range(4) for k in range(3)]
    capture = cv2.VideoCapture(str(video))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    capture.release()
    assert not [p for p in tmp_path.rglob(".*partial*")]


def test_each_target_is_drawn_in_its_colour_with_its_number():
    frame = np.zeros((120, 160, 3), np.uint8)
    boxes = [Box(10, 20, 50, 60), Box(80, 30, 150, 100)]
    canvas = draw_targets(frame, boxes)
    assert tuple(canvas[40, 10]) == COLOURS[0]        # left edge of target 1
    assert tuple(canvas[60, 150]) == COLOURS[1]       # right edge of target 2
    assert frame.max() == 0                           # the frame itself is untouched
    assert tuple(draw_targets(frame, boxes[1:])[60, 150]) == COLOURS[0]  # numbered from 1


def test_a_malformed_boxes_file_names_the_file_and_line(tmp_path, capsys):
    bad = tmp_path / "boxes.txt"
    bad.write_text("10,20,30,40\n1,2,3\n")
    with pytest.raises(SequenceError, match=r"boxes\.txt line 2: '1,2,3'"):
        read_boxes_file(bad)
    out = tmp_path / "out"
    assert load_tool("track").main([str(SAMPLE_CAR), "--boxes", str(bad), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("track.py: ") and "boxes.txt line 2" in err
    assert not out.exists()
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    with pytest.raises(SequenceError, match="no boxes"):
        read_boxes_file(empty)


@pytest.mark.parametrize("extra, message", [
    (["--box", "10,10,20,20", "--box", "9000,10,20,20"], "target 2's box"),
    (["--box", "10,10,20,20", "--box", "30,10,20,20", "--finetune"], "--finetune follows one target"),
    (["--box", "10,10,20,20", "--box", "30,10,20,20", "--output", "{file}"],
     "several targets need a folder"),
    (["--box", "10,10,20,20", "--csv", "{car}/groundtruth.txt"], "would overwrite an input"),
])
def test_bad_targets_stop_in_one_line_before_anything_is_written(extra, message, car4, tmp_path,
                                                                   capsys):
    existing = tmp_path / "existing.txt"
    existing.write_text("keep me\n")
    truth = (car4 / "groundtruth.txt").read_bytes()
    args = [str(car4), "--weights", str(tmp_path / "never_loaded.caffemodel")]
    args += [a.format(file=existing, car=car4) for a in extra]
    if "--output" not in extra:
        args += ["--output", str(tmp_path / "out")]
    assert load_tool("track").main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert existing.read_text() == "keep me\n" and (car4 / "groundtruth.txt").read_bytes() == truth
    assert not (tmp_path / "out").exists()


def test_initial_boxes_are_checked_against_the_first_frame():
    frame = np.zeros((100, 200, 3), np.uint8)
    check_target_boxes([Box.from_xywh(0, 0, 10, 10)], frame)
    with pytest.raises(ValueError, match="video.mp4: target 1's box .* zero or negative size"):
        check_target_boxes([Box.from_xywh(0, 0, 0, 10)], frame, "video.mp4")


def test_the_script_api_as_the_readme_shows_it(tiny, car4):
    import goturn_caffe
    from goturn_caffe import open_batch_tracker, open_tracker

    frames = list(open_sequence(car4).frames())
    singles = single_runs(tiny, frames)
    tracker = open_tracker(tiny[1], deploy=tiny[0])
    tracker.init(frames[0], goturn_caffe.Box.from_xywh(*BOXES[1].to_xywh()))
    x, y, w, h = tracker.update(frames[1]).to_xywh()
    assert (x, y, w, h) == pytest.approx(singles[1][1].to_xywh(), abs=1e-4)
    trackers = open_batch_tracker(tiny[1], deploy=tiny[0])
    trackers.init_batch([frames[0]] * 3, BOXES)
    for t in (1, 2):
        boxes = trackers.update_batch([frames[t]] * 3)
        assert np.abs(np.array([b.to_xywh() for b in boxes])
                      - np.array([s[t].to_xywh() for s in singles])).max() < 1e-4


def test_an_unreadable_frame_keeps_every_box_and_is_reported(tiny, car4, tmp_path):
    import shutil

    from goturn_caffe.model.net import load_net
    from goturn_caffe.track.multi import track_video_targets

    broken = tmp_path / "car"
    shutil.copytree(car4, broken)
    (broken / "00000003.jpg").write_bytes(b"not a jpeg")
    summary = track_video_targets(broken, BOXES[:2], lambda: BatchedTracker(load_net(*tiny)),
                                  output=tmp_path / "out")
    assert "skipped 1 frame" in summary and "00000003.jpg" in summary
    for k in (1, 2):
        lines = (tmp_path / "out" / f"target{k}.txt").read_text().splitlines()
        assert len(lines) == 4 and lines[2] == lines[1] and lines[1] != lines[0]


def test_per_target_trackers_give_each_target_its_own_tracker():
    from goturn_caffe.track.base import PerTargetTrackers, Tracker

    class Drift(Tracker):     # moves its box right by the frame's value
        def init(self, frame, box):
            self.box = box

        def update(self, frame):
            self.box = Box(*(self.box.as_array() + [frame[0, 0, 0], 0, frame[0, 0, 0], 0]))
            return self.box

    frames = [np.full((50, 80, 3), v, np.uint8) for v in (0, 1, 2)]
    boxes = [Box.from_xywh(1, 1, 5, 5), Box.from_xywh(20, 20, 5, 5)]
    result = track_targets(PerTargetTrackers(Drift), enumerate(frames), boxes)
    assert [[b.x1 for b in step] for step in result.boxes] == [[1, 20], [2, 21], [4, 23]]
    with pytest.raises(ValueError, match="at most 1 target"):
        PerTargetTrackers(Drift, max_size=1).init_batch(frames[:2], boxes)
