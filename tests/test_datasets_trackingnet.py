"""TrackingNet reader: training chunks and the test set in the official layout, value by value."""

import pytest
from new_dataset_fixtures import make_trackingnet_sequence, write_lines

from goturn_caffe.datasets.base import SkipReport
from goturn_caffe.datasets.image_io import DatasetError
from goturn_caffe.datasets.trackingnet import load_trackingnet, parse_chunks
from goturn_caffe.geometry.boxes import Box

# 12 frames, so that 10.jpg and 11.jpg must come after 9.jpg (numeric, not name order);
# frame 3 has a NaN line and frame 5 a zero-size box.
LONG = [(i, 2 * i, 10, 8) for i in range(12)]
LONG[3], LONG[5] = None, (5, 10, 0, 0)


@pytest.fixture
def trackingnet(tmp_path):
    root = tmp_path / "TrackingNet"
    make_trackingnet_sequence(root, "TRAIN_0", "b_seq", LONG)
    make_trackingnet_sequence(root, "TRAIN_0", "a_seq", [(1, 1, 4, 4), (2, 2, 4, 4)])
    make_trackingnet_sequence(root, "TRAIN_1", "-3TIfnTSM6c_2", [(7, 7, 5, 5), (8, 8, 5, 5)])
    make_trackingnet_sequence(root, "TEST", "test_seq", [(3, 3, 9, 9), (0, 0, 1, 1), (0, 0, 1, 1)],
                              first_line_only=True)
    return root


def test_training_chunks_value_by_value(trackingnet):
    report = SkipReport()
    videos = load_trackingnet(trackingnet, "train", report=report)
    assert [(v.name, v.category) for v in videos] == [("a_seq", "TRAIN_0"), ("b_seq", "TRAIN_0"),
                                                      ("-3TIfnTSM6c_2", "TRAIN_1")]
    frames = videos[1].frames
    folder = trackingnet / "TRAIN_0" / "frames" / "b_seq"
    assert [f.path for f in frames] == [str(folder / f"{i}.jpg") for i in range(12)]
    expected = [Box(i, 2 * i, i + 10, 2 * i + 8) for i in range(12)]
    expected[3], expected[5] = None, Box(5, 10, 5, 10)
    assert [f.box for f in frames] == expected
    assert not any(f.absent for f in frames) and all(f.cover is None for f in frames)
    assert len(report) == 0


def test_chunks_pick_training_folders(trackingnet):
    assert [v.name for v in load_trackingnet(trackingnet, "train", chunks=(1,))] == ["-3TIfnTSM6c_2"]
    assert [v.name for v in load_trackingnet(trackingnet, "train", chunks="1,0")] == \
        ["-3TIfnTSM6c_2", "a_seq", "b_seq"]
    with pytest.raises(DatasetError, match="missing TrackingNet chunk folder TRAIN_5/"):
        load_trackingnet(trackingnet, "train", chunks=(0, 5))
    assert [v.name for v in load_trackingnet(trackingnet / "TRAIN_1", "train")] == ["-3TIfnTSM6c_2"]


def test_test_set_has_the_first_box_only(trackingnet):
    (video,) = load_trackingnet(trackingnet, "test")
    assert (video.name, video.category) == ("test_seq", "TEST")
    assert [f.box for f in video.frames] == [Box(3, 3, 12, 12), None, None]


def test_parse_chunks():
    assert parse_chunks("0, 3,3,11") == (0, 3, 11)
    for bad in ("12", "-1", "a", ""):
        with pytest.raises(ValueError, match="numbers 0..11"):
            parse_chunks(bad)


def test_bad_sequences_are_skipped_and_reported(trackingnet):
    write_lines(trackingnet / "TRAIN_0" / "anno" / "a_seq.txt", ["1,1,4,4"])   # 1 box, 2 frames
    write_lines(trackingnet / "TRAIN_0" / "anno" / "ghost.txt", ["1,1,4,4"])   # no frames folder
    report = SkipReport()
    assert [v.name for v in load_trackingnet(trackingnet, "train", chunks=[0], report=report)] == ["b_seq"]
    assert report.entries == [
        (str(trackingnet / "TRAIN_0" / "anno" / "a_seq.txt"), "frame count mismatch: 1 boxes for 2 images"),
        (str(trackingnet / "TRAIN_0" / "frames" / "ghost"), "empty sequence: no numbered .jpg images")]


def test_wrong_layouts_name_the_folder_and_what_is_missing(tmp_path, trackingnet):
    with pytest.raises(DatasetError, match="the TrackingNet root does not exist"):
        load_trackingnet(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="empty: missing TrackingNet TEST/ folder"):
        load_trackingnet(tmp_path / "empty", "test")
    with pytest.raises(DatasetError, match=r"empty: missing TrackingNet training chunks: no TRAIN_0/"):
        load_trackingnet(tmp_path / "empty", "train")
    (tmp_path / "half" / "TRAIN_0" / "anno").mkdir(parents=True)
    with pytest.raises(DatasetError, match="TRAIN_0: missing anno/ or frames/: not a TrackingNet chunk"):
        load_trackingnet(tmp_path / "half", "train")
    with pytest.raises(DatasetError, match="is one TrackingNet chunk"):
        load_trackingnet(trackingnet / "TRAIN_0", "train", chunks=[0])
