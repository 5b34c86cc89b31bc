"""LaSOT reader: the official layout read value by value, the test / train split, attributes."""

import pytest
from new_dataset_fixtures import make_lasot_sequence, write_lines

from goturn_caffe.datasets.base import SkipReport
from goturn_caffe.datasets.image_io import DatasetError
from goturn_caffe.datasets.lasot import ATTRIBUTES, load_lasot
from goturn_caffe.datasets.overlap import lasot_test_sequences
from goturn_caffe.geometry.boxes import Box

# airplane-1 is a test sequence; airplane-2 and bear-3 are training sequences.
# Frame 2 fully occluded (LaSOT writes 0,0,0,0 there), frame 3 out of view, frame 4 a NaN line.
AIRPLANE_1 = dict(boxes=[(3, 4, 10, 12), (0, 0, 0, 0), (60, 40, 10, 8), None],
                  full_occlusion=[0, 1, 0, 0], out_of_view=[0, 0, 1, 0])
TRAINING = dict(boxes=[(1, 2, 3, 4), (2, 3, 4, 5)])


@pytest.fixture
def lasot(tmp_path):
    root = tmp_path / "LaSOT"
    make_lasot_sequence(root, "airplane-1", attributes=[1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1], **AIRPLANE_1)
    make_lasot_sequence(root, "bear-3", **TRAINING)
    make_lasot_sequence(root, "airplane-2", **TRAINING)
    make_lasot_sequence(root, "airplane-10", **TRAINING)
    return root


def test_test_split_value_by_value(lasot):
    report = SkipReport()
    (video,) = load_lasot(lasot, "test", report)
    assert (video.name, video.category) == ("airplane-1", "airplane")
    folder = lasot / "airplane" / "airplane-1" / "img"
    assert [f.path for f in video.frames] == [str(folder / f"0000000{i}.jpg") for i in range(1, 5)]
    assert [f.box for f in video.frames] == [Box(3, 4, 13, 16), Box(0, 0, 0, 0), Box(60, 40, 70, 48), None]
    assert [f.absent for f in video.frames] == [False, True, True, False]
    assert [f.cover for f in video.frames] == [None] * 4
    assert video.attributes == ("IV", "VC", "SV", "ARC")
    # the other 279 test sequences are missing from this root, and said so
    missing = [where for where, reason in report.entries if reason == "missing sequence: in LaSOT's test list"]
    assert len(missing) == 279 and str(lasot / "volleyball-19") in missing


def test_train_split_is_every_other_sequence_in_category_then_number_order(lasot):
    videos = load_lasot(lasot, "train")
    assert [v.name for v in videos] == ["airplane-2", "airplane-10", "bear-3"]
    assert videos[2].category == "bear" and videos[2].attributes == ()
    assert [f.box for f in videos[0].frames] == [Box(1, 2, 4, 6), Box(2, 3, 6, 8)]
    assert [v.name for v in load_lasot(lasot, "all")] == ["airplane-1", "airplane-2", "airplane-10", "bear-3"]


def test_the_test_set_alone_without_category_folders(tmp_path):
    root = tmp_path / "LaSOTTest"
    make_lasot_sequence(root, "airplane-1", flat=True, **AIRPLANE_1)
    make_lasot_sequence(root, "zebra-17", flat=True, **TRAINING)
    assert [v.name for v in load_lasot(root, "test")] == ["airplane-1", "zebra-17"]  # the list's order


def test_the_shipped_test_list():
    names = lasot_test_sequences()
    assert len(names) == len(set(names)) == 280
    categories = {}
    for name in names:
        categories.setdefault(name.rpartition("-")[0], []).append(name)
    assert len(categories) == 70 and all(len(v) == 4 for v in categories.values())
    assert names[:2] == ("airplane-1", "airplane-9") and names[-1] == "volleyball-19"


def test_attributes_from_the_toolkit_folder(tmp_path, lasot):
    write_lines(lasot / "att" / "airplane-2.txt", ["1,1,1"])   # 3 values, not 14
    report = SkipReport()
    videos = {v.name: v for v in load_lasot(lasot, "all", report)}
    assert videos["airplane-2"].attributes == ()
    assert report.entries == [(str(lasot / "att" / "airplane-2.txt"),
                               "bad attribute file: expected 14 flags 0/1, got 3 values")]
    # another folder named by the caller
    other = tmp_path / "toolkit" / "annos" / "att"
    write_lines(other / "bear-3.txt", [",".join("1" * 14)])
    videos = {v.name: v for v in load_lasot(lasot, "all", attributes_dir=other)}
    assert videos["bear-3"].attributes == ATTRIBUTES and videos["airplane-1"].attributes == ()


def test_bad_sequences_are_skipped_and_reported(lasot):
    (lasot / "bear" / "bear-3" / "out_of_view.txt").unlink()
    write_lines(lasot / "airplane" / "airplane-2" / "full_occlusion.txt", ["0,0,0"])
    report = SkipReport()
    assert [v.name for v in load_lasot(lasot, "train", report)] == ["airplane-10"]
    assert (str(lasot / "bear" / "bear-3"), "missing out_of_view.txt") in report.entries
    assert (str(lasot / "airplane" / "airplane-2" / "full_occlusion.txt"),
            "frame count mismatch: 3 flags for 2 images") in report.entries


def test_wrong_layouts_name_the_folder_and_what_is_missing(tmp_path, lasot):
    with pytest.raises(DatasetError, match="the LaSOT root does not exist"):
        load_lasot(tmp_path / "nowhere")
    (tmp_path / "empty" / "airplane").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"empty: no LaSOT sequence \(expected <category>/<category>-<n>/img/"):
        load_lasot(tmp_path / "empty")
    (lasot / "airplane" / "airplane-1").rename(lasot / "airplane" / "airplane-99")
    with pytest.raises(DatasetError, match="none of LaSOT's 280 test sequences is here"):
        load_lasot(lasot, "test")
    with pytest.raises(ValueError, match="unknown LaSOT split 'val'"):
        load_lasot(lasot, "val")
