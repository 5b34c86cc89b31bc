"""OTB reader: real sequences, separators, bad lines, frame-count mismatches, two-target sequences."""

import pytest
from dataset_fixtures import make_otb_sequence

from goturn_caffe.datasets.base import SkipReport
from goturn_caffe.datasets.image_io import DatasetError
from goturn_caffe.datasets.otb import load_otb, load_otb_sequence, parse_otb_line
from goturn_caffe.geometry.boxes import Box


def test_real_sequences(shared_data):
    root = shared_data / "otb"
    report = SkipReport()
    videos = {v.name: v for v in load_otb(root, report)}
    assert set(videos) == {"David", "Man"} and len(report) == 0
    man = videos["Man"]
    assert len(man) == 134 and man.annotated_indices() == list(range(134))
    assert man.frames[0].path.endswith("img/0001.jpg")
    assert man.frames[0].box == Box(69, 48, 95, 87)          # first line "69,48,26,39"
    david = videos["David"]
    assert len(david) == 761
    # second line "164.72,93.66,50.88,53.87" -> x2 = x + w, y2 = y + h
    assert david.frames[1].box.as_array() == pytest.approx([164.72, 93.66, 215.60, 147.53])


@pytest.mark.parametrize("separator", [",", "\t", " ", ", "])
def test_separators(tmp_path, separator):
    make_otb_sequence(tmp_path, "Seq", [(1, 2, 10, 20), (3.5, 4, 10, 20)], separator)
    (video,) = load_otb(tmp_path / "Seq")
    assert [f.box for f in video.frames] == [Box(1, 2, 11, 22), Box(3.5, 4, 13.5, 24)]


def test_bad_lines_leave_their_frame_unannotated(tmp_path):
    make_otb_sequence(tmp_path, "Seq", [(1, 2, 10, 20), ("NaN", 2, 10, 20), (1, 2, 10),
                                        (0, 0, 0, 0), (5, 6, 7, 8)])
    report = SkipReport()
    (video,) = load_otb(tmp_path, report)
    assert video.annotated_indices() == [0, 4]
    assert [where.rsplit(":", 1)[1] for where, _ in report.entries] == ["2", "3", "4"]
    assert all(reason.startswith("bad annotation line") for _, reason in report.entries)
    with pytest.raises(ValueError, match="empty box"):
        parse_otb_line("0,0,0,0")


def test_frame_count_mismatch_needs_a_start_frame(tmp_path):
    sequence = make_otb_sequence(tmp_path, "Late", [(1, 2, 10, 20), (2, 3, 10, 20)], num_frames=5)
    report = SkipReport()
    assert load_otb(tmp_path, report) == []
    assert report.entries[0][1].startswith("frame count mismatch: 2 boxes for 5 images")
    with pytest.raises(DatasetError, match="frame count mismatch"):
        load_otb_sequence(sequence)
    video = load_otb_sequence(sequence, start_frame=3)
    assert video.name == "Late" and len(video) == 5
    assert video.annotated_indices() == [2, 3]
    assert video.frames[2].box == Box(1, 2, 11, 22)
    with pytest.raises(DatasetError, match="frame count mismatch"):
        load_otb_sequence(sequence, start_frame=5)  # runs past the end


def test_two_target_sequences_become_two_videos(tmp_path):
    make_otb_sequence(tmp_path, "Jogging", [(1, 1, 5, 5), (2, 2, 5, 5)], groundtruth="groundtruth_rect.1.txt")
    make_otb_sequence(tmp_path, "Jogging", [(9, 9, 5, 5), (8, 8, 5, 5)], groundtruth="groundtruth_rect.2.txt")
    videos = load_otb(tmp_path)
    assert [v.name for v in videos] == ["Jogging.1", "Jogging.2"]
    assert videos[1].frames[0].box == Box(9, 9, 14, 14)
    assert load_otb_sequence(tmp_path / "Jogging").name == "Jogging.1"  # one target: the first


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_otb(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="no OTB sequence"):
        load_otb(tmp_path)
    (tmp_path / "Empty" / "img").mkdir(parents=True)
    make_otb_sequence(tmp_path, "NoTruth", [(1, 2, 10, 20)]).joinpath("groundtruth_rect.txt").unlink()
    report = SkipReport()
    assert load_otb(tmp_path, report) == []
    assert [reason.split(":")[0] for _, reason in report.entries] == ["empty sequence",
                                                                      "missing ground truth"]
