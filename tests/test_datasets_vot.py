"""VOT reader: both layouts, polygon and rectangle lines, per-frame tags, bad input."""

import math

import pytest
from vot_fixtures import polygon_line, square_frames, write_vot_dataset, write_vot_sequence

from goturn_caffe.datasets.base import SkipReport
from goturn_caffe.datasets.image_io import DatasetError
from goturn_caffe.datasets.vot import load_vot, load_vot_sequence, parse_region
from goturn_caffe.geometry.boxes import Box

SHARED_FRAMES = {"car": 252, "bag": 196, "ball1": 105, "bolt1": 350, "book": 175, "car1": 742}


# ---- the shared data: the real VOT2014 and VOT2016+ layouts ------------------------------
def test_shared_dataset_loads_both_layouts(shared_data):
    report = SkipReport()
    videos = {v.name: v for v in load_vot(shared_data / "vot", report=report)}
    assert {n: len(v) for n, v in videos.items()} == SHARED_FRAMES
    assert len(report) == 0, report.entries
    # VOT2014 legacy: images in the sequence folder; VOT2016+: in color/
    assert videos["car"].frames[0].path.endswith("vot/car/00000001.jpg")
    assert videos["car1"].frames[-1].path.endswith("vot/car1/color/00000742.jpg")
    assert all(f.region is not None and len(f.region) == 8 for v in videos.values() for f in v.frames)


def test_known_polygon_lines_become_min_max_boxes(shared_data):
    car = load_vot_sequence(shared_data / "vot" / "car")
    # line 1: 6.00,193.00,6.00,166.00,49.00,166.00,49.00,193.00
    assert car.frames[0].region == (6.0, 193.0, 6.0, 166.0, 49.0, 166.0, 49.0, 193.0)
    assert car.frames[0].box == Box(6.0, 166.0, 49.0, 193.0)
    bag = load_vot_sequence(shared_data / "vot" / "bag")
    # line 1: 334.02,128.36,438.19,188.78,396.39,260.83,292.23,200.41 (a rotated box)
    assert bag.frames[0].box == Box(292.23, 128.36, 438.19, 260.83)


def test_tags_are_read_per_frame(shared_data):
    car = load_vot_sequence(shared_data / "vot" / "car")
    for tag in ("camera_motion", "illum_change", "motion_change", "occlusion", "size_change"):
        flags = (shared_data / "vot" / "car" / f"{tag}.label").read_text().split()
        assert [tag in f.tags for f in car.frames] == [flag == "1" for flag in flags]
    assert car.frames[0].tags == {"camera_motion", "motion_change"}
    car1 = load_vot_sequence(shared_data / "vot" / "car1")      # VOT2016 *.tag files
    flags = (shared_data / "vot" / "car1" / "motion_change.tag").read_text().split()
    assert [("motion_change" in f.tags) for f in car1.frames] == [flag == "1" for flag in flags]
    assert flags.count("1") == 262
    bag = load_vot_sequence(shared_data / "vot" / "bag")        # VOT2015: no tag files
    assert all(f.tags == frozenset() for f in bag.frames)


# ---- fixtures written here ---------------------------------------------------------------
def test_fixture_layouts_load_with_tags(tmp_path):
    root = write_vot_dataset(tmp_path, num_frames=12)
    videos = load_vot(root)
    assert [v.name for v in videos] == ["legacy", "modern"]
    legacy, modern = videos
    assert legacy.frames[3].path == str(root / "legacy" / "00000004.jpg")
    assert modern.frames[3].path == str(root / "modern" / "color" / "00000004.jpg")
    assert [("occlusion" in f.tags) for f in legacy.frames] == [False] * 6 + [True] * 6
    assert all(f.tags == {"camera_motion"} for f in modern.frames)
    _, regions = square_frames(12)
    x, y, w, h = regions[5]
    assert legacy.frames[5].box == Box(x, y, x + w, y + h)


def test_rectangle_lines_and_subset(tmp_path):
    images, _ = square_frames(3)
    write_vot_sequence(tmp_path, "rects", images, ["10,20,30,40", "1.5,2.5,3,4", "0,0,5,5"])
    write_vot_sequence(tmp_path, "other", images, ["10,20,30,40"] * 3)
    videos = load_vot(tmp_path, sequences=["rects"])           # no list.txt: sub-folders
    assert [v.name for v in videos] == ["rects"]
    assert videos[0].frames[1].region == (1.5, 2.5, 3.0, 4.0)
    assert videos[0].frames[1].box == Box(1.5, 2.5, 4.5, 6.5)
    with pytest.raises(DatasetError, match="unknown sequence.*nope"):
        load_vot(tmp_path, sequences=["nope"])


def test_bad_lines_are_reported_and_the_rest_is_kept(tmp_path):
    images, regions = square_frames(6)
    lines = [polygon_line(r) for r in regions]
    lines[1] = "1,2,3"                                 # wrong count
    lines[2] = "1,2,nan,4"                             # not finite
    lines[3] = "a,b,c,d"                               # not a number
    lines[5] = "1,2,3,4,5"                             # neither a polygon nor a rectangle
    folder = write_vot_sequence(tmp_path, "damaged", images, lines, "vot2014",
                                {"occlusion": ["1", "1", "x", "0", "1", "0", "1"]})
    report = SkipReport()
    video = load_vot_sequence(folder, report)
    assert len(video) == 6
    assert [f.region is None for f in video.frames] == [False, True, True, True, False, True]
    assert video.frames[4].box is not None and video.frames[5].box is None
    reasons = " | ".join(f"{where}: {reason}" for where, reason in report.entries)
    assert "groundtruth.txt:2: bad annotation line: expected 4" in reasons
    assert "groundtruth.txt:3: bad annotation line: non-finite" in reasons
    assert "groundtruth.txt:4: bad annotation line: non-numeric" in reasons
    assert "occlusion.label:3: bad tag line" in reasons
    assert "tag lines beyond the last frame" in reasons
    assert [("occlusion" in f.tags) for f in video.frames] == [True, True, False, False, True, False]


@pytest.mark.parametrize("count", [5, 7])
def test_a_missing_frame_is_refused_not_shifted(tmp_path, count):
    """Issue 17, item 6: with one image missing (or one extra), every later region would
    belong to the wrong image; the reader refuses, naming the folder and both counts."""
    images, regions = square_frames(6)
    lines = [polygon_line(r) for r in regions] + ["1,2,3,4"]
    folder = write_vot_sequence(tmp_path, "gap", images, lines[:count])
    with pytest.raises(DatasetError, match=rf"frame count mismatch: {count} lines in "
                                           r"groundtruth.txt for 6 images") as error:
        load_vot_sequence(folder)
    assert error.value.source == str(folder)
    report = SkipReport()
    assert load_vot(tmp_path, report=report) == []           # a dataset skips it with the reason
    assert report.entries == [(str(folder), str(error.value.reason))]


def test_unusable_sequences_are_skipped_with_a_reason(tmp_path):
    images, regions = square_frames(2)
    write_vot_sequence(tmp_path, "good", images, [polygon_line(r) for r in regions])
    (tmp_path / "no_images").mkdir()
    (tmp_path / "no_images" / "groundtruth.txt").write_text("1,2,3,4\n")
    (tmp_path / "no_truth").mkdir()
    write_vot_sequence(tmp_path, "all_bad", images, ["x", "y"])
    (tmp_path / "list.txt").write_text("good\nno_images\nno_truth\nall_bad\n")
    report = SkipReport()
    assert [v.name for v in load_vot(tmp_path, report=report)] == ["good"]
    reasons = [reason for _, reason in report.entries]
    assert any(r.startswith("empty sequence") for r in reasons)
    assert any(r.startswith("missing ground truth") for r in reasons)
    assert any(r.startswith("no usable annotation") for r in reasons)
    with pytest.raises(DatasetError, match="missing folder"):
        load_vot(tmp_path / "absent")


def test_parse_region_rules():
    assert parse_region("1, 2, 3, 4") == (1.0, 2.0, 3.0, 4.0)
    assert len(parse_region("1,2,3,4,5,6")) == 6
    for bad in ("1,2,3,4,5", "", "1,2,inf,4"):
        with pytest.raises(ValueError):
            parse_region(bad)
    assert not math.isnan(parse_region("0,0,1,1")[0])




def test_reader_agrees_with_the_vot_toolkit(vot_root):
    dataset = pytest.importorskip("vot.dataset")
    names = (vot_root / "list.txt").read_text().split()
    tagged = 0
    for name in names:
        ours = load_vot_sequence(vot_root / name)
        theirs = dataset.load_sequence(str(vot_root / name))
        assert len(ours) == len(theirs)
        for i in (0, len(ours) // 2, len(ours) - 1):
            points = [v for p in theirs.groundtruth(i).points() for v in p]   # all polygons
            assert ours.frames[i].region == pytest.approx(points, abs=1e-4)
            assert set(ours.frames[i].tags) == set(theirs.tags(i))
            tagged += bool(ours.frames[i].tags)
    assert len(names) >= 3 and tagged > 0
