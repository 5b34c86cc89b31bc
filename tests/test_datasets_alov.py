"""ALOV300++ reader: real sample, the authors' VOT2014 exclusion and validation split, bad input."""

import pytest
from dataset_fixtures import ann_line, make_alov_video

from goturn_caffe.datasets.alov import VOT2014_OVERLAP, load_alov, parse_ann_line
from goturn_caffe.datasets.base import SkipReport
from goturn_caffe.datasets.image_io import DatasetError
from goturn_caffe.geometry.boxes import Box

# Videos per category in ALOV300++ (314 in all, as in the paper).
ALOV_CATEGORY_SIZES = {
    "01-Light": 33, "02-SurfaceCover": 15, "03-Specularity": 18, "04-Transparency": 20,
    "05-Shape": 24, "06-MotionSmoothness": 22, "07-MotionCoherence": 12, "08-Clutter": 15,
    "09-Confusion": 37, "10-LowContrast": 23, "11-Occlusion": 34, "12-MovingCamera": 22,
    "13-ZoomingCamera": 29, "14-LongDuration": 10,
}


def test_real_sample_matches_its_ann_file(shared_data):
    root = shared_data / "alov"
    ann = root / "alov300++_rectangleAnnotation_full/01-Light/01-Light_video00001.ann"
    lines = [line for line in ann.read_text().splitlines() if line.strip()]
    report = SkipReport()
    (video,) = load_alov(root, report=report)
    assert len(report) == 0
    assert video.name == "01-Light_video00001" and video.category == "01-Light"
    assert len(video) == len(list((root / "imagedata++/01-Light/01-Light_video00001").glob("*.jpg")))
    assert len(video.annotated_indices()) == len(lines)
    # Line "41 927.18 96.855 847.47 96.855 847.47 199.25 927.18 199.25", converted by hand:
    # 1-based frame 41 -> index 40; min/max of the corners minus 1.
    frame = video.frames[40]
    assert frame.path.endswith("00000041.jpg")
    assert (frame.box.x1, frame.box.y1, frame.box.x2, frame.box.y2) == pytest.approx(
        (846.47, 95.855, 926.18, 198.25))
    assert video.frames[41].box is None  # only every 5th frame is annotated


def test_parse_ann_line_is_min_max_minus_one():
    index, box = parse_ann_line("6 1107.1 175.43 1039.8 175.43 1039.8 257.15 1107.1 257.15")
    assert index == 5
    assert (box.x1, box.y1, box.x2, box.y2) == pytest.approx((1038.8, 174.43, 1106.1, 256.15))
    for bad in ("6 1 2 3 4 5 6 7", "6 1 2 3 4 5 6 7 8 9", "six 1 2 3 4 5 6 7 8", "6 1 2 nan 4 5 6 7 8"):
        with pytest.raises(ValueError):
            parse_ann_line(bad)


def test_the_seven_vot2014_videos_are_excluded_by_default(tmp_path):
    names = {"01-Light": [15, 16, 17, 22, 23], "02-SurfaceCover": [11, 12],
             "10-LowContrast": [13, 14]}
    for category, numbers in names.items():
        for n in numbers:
            make_alov_video(tmp_path, category, f"{category}_video{n:05d}", 6,
                            [ann_line(1, 5, 5, 20, 15), ann_line(6, 6, 6, 21, 16)], jpeg=False)
    kept = {v.name for v in load_alov(tmp_path)}
    assert kept == {"01-Light_video00015", "01-Light_video00017", "02-SurfaceCover_video00011",
                    "10-LowContrast_video00014"}
    everything = {v.name for v in load_alov(tmp_path, exclude_vot_overlap=False)}
    assert everything - kept == {"01-Light_video00016", "01-Light_video00022", "01-Light_video00023",
                                 "02-SurfaceCover_video00012", "10-LowContrast_video00013"}
    assert everything - kept <= VOT2014_OVERLAP


@pytest.fixture(scope="module")
def full_size_alov(tmp_path_factory):
    """An ALOV tree with the real category sizes (empty frame files: nothing is decoded)."""
    root = tmp_path_factory.mktemp("alov314")
    for category, count in ALOV_CATEGORY_SIZES.items():
        for n in range(1, count + 1):
            make_alov_video(root, category, f"{category}_video{n:05d}", 2,
                            [ann_line(1, 5, 5, 20, 15)], jpeg=False)
    return root


def test_split_counts_are_the_papers(full_size_alov):
    all_videos = load_alov(full_size_alov, "all")
    train = load_alov(full_size_alov, "train")
    val = load_alov(full_size_alov, "val")
    # Paper, section 5.1: 314 videos, 7 removed -> 307; split 251 train / 56 validation.
    assert (len(all_videos), len(train), len(val)) == (307, 251, 56)
    train_names, val_names = {v.name for v in train}, {v.name for v in val}
    assert not train_names & val_names
    assert train_names | val_names == {v.name for v in all_videos}
    assert len(load_alov(full_size_alov, "all", exclude_vot_overlap=False)) == 314


def test_validation_is_the_last_fifth_of_each_category(full_size_alov):
    val = load_alov(full_size_alov, "val")
    light = [v.name for v in val if v.category == "01-Light"]
    # 33 videos minus 16, 22, 23 -> 30; int(0.2 * 30) = 6: the last six names.
    assert light == [f"01-Light_video{n:05d}" for n in range(28, 34)]
    long_duration = [v.name for v in val if v.category == "14-LongDuration"]
    assert long_duration == ["14-LongDuration_video00009", "14-LongDuration_video00010"]
    with pytest.raises(ValueError, match="unknown ALOV split"):
        load_alov(full_size_alov, "test")


def test_bad_lines_are_reported_and_the_rest_kept(tmp_path):
    lines = [ann_line(1, 5, 5, 20, 15),
             "6 1 2 3",                                   # wrong number of values
             "11 nan 5 5 5 5 20 20 20",                   # NaN
             ann_line(99, 5, 5, 20, 15),                  # frame beyond the 12 images
             "7 5 5 5 5 5 5 5 5",                         # empty box
             ann_line(11, 7, 8, 30, 25)]
    make_alov_video(tmp_path, "05-Shape", "05-Shape_video00001", 12, lines, jpeg=False)
    report = SkipReport()
    (video,) = load_alov(tmp_path, report=report)
    assert video.annotated_indices() == [0, 10]
    assert video.frames[10].box == Box(6, 7, 29, 24)
    reasons = sorted(reason.split(":")[0] for _, reason in report.entries)
    assert reasons == ["bad annotation line", "bad annotation line", "empty box", "frame out of range"]
    assert any(where.endswith(".ann:2") for where, _ in report.entries)


def test_missing_and_empty_videos_are_skipped(tmp_path):
    make_alov_video(tmp_path, "08-Clutter", "08-Clutter_video00001", 6,
                    [ann_line(1, 5, 5, 20, 15), ann_line(6, 6, 6, 21, 16)], jpeg=False)
    make_alov_video(tmp_path, "08-Clutter", "08-Clutter_video00002", 0, [ann_line(1, 5, 5, 20, 15)])
    ann_only = tmp_path / "alov300++_rectangleAnnotation_full/08-Clutter/08-Clutter_video00003.ann"
    ann_only.write_text(ann_line(1, 5, 5, 20, 15) + "\n")
    report = SkipReport()
    videos = load_alov(tmp_path, report=report)
    assert [v.name for v in videos] == ["08-Clutter_video00001"]
    assert sorted(reason.split(":")[0] for _, reason in report.entries) == ["empty sequence",
                                                                             "missing folder"]
    with pytest.raises(DatasetError, match="imagedata"):
        load_alov(tmp_path / "nowhere")

