"""Datasets for OPE: the OTB benchmark lists, official frame ranges, UAV123/UAV20L,
recognising a folder's kind, and wrong layouts named in one line."""

import pytest
from new_dataset_fixtures import make_got10k_split, make_lasot_sequence, make_trackingnet_sequence
from ope_fixtures import make_otb_benchmark, make_otb_folder, make_uav_target

from goturn_caffe.datasets.base import SkipReport
from goturn_caffe.datasets.image_io import DatasetError
from goturn_caffe.datasets.otb import (
    OFFICIAL_FRAME_RANGES,
    load_otb,
    load_otb_benchmark,
    load_otb_sequence,
    otb_targets,
)
from goturn_caffe.datasets.uav123 import ATTRIBUTES, load_uav, subsequences
from goturn_caffe.geometry.boxes import Box
from goturn_caffe.ope.sources import detect_kind, load_dataset


def test_otb_lists():
    otb100, otb2013 = otb_targets("100"), otb_targets("2013")
    assert len(otb100) == 100 and len(otb2013) == 51 and set(otb2013) <= set(otb100)
    for two_targets in ("Jogging.1", "Jogging.2", "Skating2.1", "Skating2.2", "Human4.2"):
        assert two_targets in otb100
    assert "Skating2.1" not in otb2013 and "Jogging.2" in otb2013
    assert otb100["Basketball"] == ("IV", "OCC", "DEF", "OPR", "BC")
    assert otb100["Man"] == ("IV",)
    known = {"IV", "SV", "OCC", "DEF", "MB", "FM", "IPR", "OPR", "OV", "BC", "LR"}
    assert {a for attributes in otb100.values() for a in attributes} == known
    assert OFFICIAL_FRAME_RANGES == {"David": (300, 770), "Football1": (1, 74), "Freeman3": (1, 460),
                                     "Freeman4": (1, 283), "Diving": (1, 215)}


def test_official_range_cuts_the_video(tmp_path):
    # OTB's David: 770 images, 471 ground-truth lines for frames 300..770
    boxes = [(10 + i, 10, 20, 20) for i in range(471)]
    make_otb_folder(tmp_path, "David", boxes, images=770)
    video = load_otb_sequence(tmp_path / "David")
    assert len(video) == 471 and video.frames[0].path.endswith("img/0300.jpg")
    assert video.frames[-1].path.endswith("img/0770.jpg") and video.frames[0].box == Box(10, 10, 30, 30)
    # Diving: 231 images, 215 lines from frame 1
    make_otb_folder(tmp_path, "Diving", [(5, 5, 9, 9)] * 215, images=231)
    diving = load_otb_sequence(tmp_path / "Diving")
    assert len(diving) == 215 and diving.frames[-1].path.endswith("img/0215.jpg")
    # another count is not the benchmark's sequence: refused as before, never guessed
    make_otb_folder(tmp_path / "other", "David", [(1, 1, 5, 5)] * 400, images=770)
    with pytest.raises(DatasetError, match="frame count mismatch"):
        load_otb_sequence(tmp_path / "other" / "David")


def test_tld_david_is_read_whole(shared_data):
    (david,) = [v for v in load_otb(shared_data / "otb") if v.name == "David"]
    assert len(david) == 761          # the TLD version: 761 frames, all annotated, not cut


def test_otb_benchmark(tmp_path):
    make_otb_benchmark(tmp_path)
    report = SkipReport()
    videos = load_otb_benchmark(tmp_path, "100", report)
    assert len(videos) == 100 and videos[0].name == "Basketball" and len(report) == 0
    by_name = {v.name: v for v in videos}
    assert by_name["Jogging.2"].attributes == ("OCC", "DEF", "OPR")
    # named as the got10k toolkit names its results files: Human4's only target is "Human4"
    assert by_name["Human4"].frames[0].box == Box(10, 10, 30, 30) and "Human4.2" not in by_name
    assert len(load_otb_benchmark(tmp_path, "2013")) == 51
    kind, found = load_dataset(tmp_path)
    assert kind.name == "OTB100" and len(found) == 100
    kind, found = load_dataset(tmp_path, "otb2013")
    assert kind.name == "OTB2013" and len(found) == 51


def test_otb_benchmark_missing_targets(tmp_path):
    make_otb_benchmark(tmp_path, skip=("Biker", "Jogging.2"))
    with pytest.raises(DatasetError) as error:
        load_otb_benchmark(tmp_path, "100")
    assert str(error.value) == (f"{tmp_path}: not the full OTB-100: 2 of its 100 targets missing "
                                "(Biker, Jogging.2)")
    kind, videos = load_dataset(tmp_path)     # recognised as a plain OTB-layout set then
    assert kind.name == "OTB" and len(videos) == 98 and videos[0].attributes == ()


def test_uav123_layout(tmp_path):
    make_uav_target(tmp_path, "bike1", [(1, 2, 3, 4), None, (5, 6, 7, 8)],
                    attributes=[1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0])
    folder, first, last = subsequences()["person8_2"]
    assert (folder, first, last) == ("person8", 1075, 1525)
    make_uav_target(tmp_path, "person8_2", [(9, 9, 9, 9)] * (last - first + 1), folder=folder, first=first)
    report = SkipReport()
    bike, person = load_uav(tmp_path, "UAV123", report)
    assert len(report) == 0 and ATTRIBUTES[10] == "CM"
    assert bike.attributes == ("SV", "FM", "CM")
    assert [f.box for f in bike.frames] == [Box(1, 2, 4, 6), None, Box(5, 6, 12, 14)]
    assert [f.absent for f in bike.frames] == [False, True, False]
    assert bike.frames[0].path.endswith("data_seq/UAV123/bike1/000001.jpg")
    assert len(person) == 451 and person.frames[0].path.endswith("person8/001075.jpg")
    assert detect_kind(tmp_path).name == "UAV123"
    nested = make_uav_target(tmp_path / "Dataset_UAV123" / "UAV123", "car2", [(1, 1, 5, 5)] * 2)
    assert detect_kind(nested.parent).key == "uav123"       # the release's outer folder


def test_uav_problems_named(tmp_path):
    with pytest.raises(DatasetError, match="not a UAV123 folder: missing anno and data_seq/UAV123/"):
        load_uav(tmp_path)
    make_uav_target(tmp_path, "bird1_1", [(1, 1, 5, 5)] * 3, folder="bird1")   # 253 lines expected
    report = SkipReport()
    assert load_uav(tmp_path, "UAV123", report) == []
    assert "frame count mismatch: 3 lines for frames 1..253 of bird1" in report.entries[0][1]
    with pytest.raises(DatasetError, match="missing anno/UAV20L/"):
        load_uav(tmp_path, "UAV20L")
    make_uav_target(tmp_path, "bike2", [(1, 1, 5, 5)] * 4, version="UAV20L")
    assert [v.name for v in load_uav(tmp_path, "UAV20L")] == ["bike2"]


def test_detect_kind(tmp_path):
    got = tmp_path / "got"
    make_got10k_split(got, "val", {"GOT-10k_Val_000001": {"boxes": [(1, 1, 5, 5)] * 2}})
    assert detect_kind(got).key == "got10k-val" and detect_kind(got / "val").key == "got10k-val"
    make_got10k_split(got, "test", {"GOT-10k_Test_000001": {"boxes": [(1, 1, 5, 5)] * 2}})
    assert detect_kind(got / "test").key == "got10k-test"
    with pytest.raises(DatasetError, match="choose one with --dataset-kind"):
        detect_kind(got)
    make_lasot_sequence(tmp_path / "lasot", "airplane-1", [(1, 1, 5, 5)] * 2)
    assert detect_kind(tmp_path / "lasot").key == "lasot"
    make_trackingnet_sequence(tmp_path / "tn", "TEST", "abc_1", [(1, 1, 5, 5)] * 2, first_line_only=True)
    assert detect_kind(tmp_path / "tn").key == "trackingnet"
    make_otb_folder(tmp_path / "otb", "Seq", [(1, 1, 5, 5)])
    assert detect_kind(tmp_path / "otb").key == "otb"
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="not a dataset folder this tool reads: expected an OTB folder"):
        detect_kind(tmp_path / "empty")
    with pytest.raises(DatasetError, match="no such dataset folder"):
        detect_kind(tmp_path / "nowhere")


def test_tcolor128_and_nfs(tmp_path):
    from ope_fixtures import make_nfs_sequence, make_tcolor128_sequence

    from goturn_caffe.datasets.nfs import load_nfs
    from goturn_caffe.datasets.tcolor128 import load_tcolor128

    make_tcolor128_sequence(tmp_path / "tc", "Ball_ce1", [(1, 2, 3, 4), (2, 2, 3, 4)], first=5)
    (video,) = load_tcolor128(tmp_path / "tc")
    assert len(video) == 2 and video.frames[0].path.endswith("Ball_ce1/img/0005.jpg")
    assert video.frames[1].box == Box(2, 2, 5, 6)
    assert detect_kind(tmp_path / "tc").key == "tcolor128"
    # 240 fps annotation, 30 fps frames: every 8th line (lines 1, 9, 17)
    corners = [(i, 0, i + 10, 20) for i in range(24)]
    make_nfs_sequence(tmp_path / "nfs", "airboard_1", corners, frames=3)
    (nfs,) = load_nfs(tmp_path / "nfs", 30)
    assert [f.box for f in nfs.frames] == [Box(0, 0, 10, 20), Box(8, 0, 18, 20), Box(16, 0, 26, 20)]
    assert detect_kind(tmp_path / "nfs").key == "nfs30"
    kind, videos = load_dataset(tmp_path / "nfs")
    assert kind.name == "NfS30" and videos[0].name == "airboard_1"
    with pytest.raises(DatasetError, match="not an NfS folder"):
        load_nfs(tmp_path / "tc", 240)


def test_a_vot_folder_is_scored_one_pass_with_its_axis_aligned_boxes():
    """The default --dataset, the bundled VOT sample: recognised as VOT, each polygon
    read as the axis-aligned box around it."""
    from conftest import REPO_ROOT

    from goturn_caffe.geometry.boxes import Box
    from goturn_caffe.ope.sources import detect_kind, load_dataset

    sample = REPO_ROOT / "data" / "sample" / "vot"
    assert detect_kind(sample).key == "vot"
    kind, videos = load_dataset(sample)
    assert kind.name == "VOT" and kind.scorer == "otb"
    assert [v.name for v in videos] == ["car"] and len(videos[0].frames) == 60
    first = (sample / "car" / "groundtruth.txt").read_text().splitlines()[0]
    numbers = [float(n) for n in first.split(",")]
    xs, ys = numbers[0::2], numbers[1::2]
    expected = Box(min(xs), min(ys), max(xs), max(ys)) if len(numbers) == 8 else \
        Box.from_xywh(*numbers)
    assert videos[0].frames[0].box == expected
