"""GOT-10k reader: the official layout read value by value, its splits, and wrong layouts."""

import pytest
from new_dataset_fixtures import make_got10k_sequence, make_got10k_split, write_lines

from goturn_caffe.datasets.base import SkipReport
from goturn_caffe.datasets.got10k import load_got10k
from goturn_caffe.datasets.image_io import DatasetError
from goturn_caffe.datasets.overlap import GOT10K_VOT_OVERLAP, read_name_list
from goturn_caffe.geometry.boxes import Box

# Frame 2 has no ground truth (NaN), frame 3 is absent with a zero-size box, frame 4 is cut by
# the image border and 5/8 visible.
FIRST = dict(boxes=[(10, 8, 20, 16), None, (0, 0, 0, 0), (12.5, 9, 20, 16)],
             absence=[0, 0, 1, 0], cover=[8, 3, 0, 5], cut_by_image=[0, 0, 0, 1], object_class="dog")
SECOND = dict(boxes=[(1, 2, 3, 4), (2, 3, 4, 5)], object_class="kite")


@pytest.fixture
def got10k(tmp_path):
    """train/ listing the second sequence first (list.txt order, not name order), val/ and test/."""
    root = tmp_path / "GOT-10k"
    make_got10k_split(root, "train", {"GOT-10k_Train_000002": SECOND, "GOT-10k_Train_000001": FIRST})
    make_got10k_split(root, "val", {"GOT-10k_Val_000001": SECOND})
    make_got10k_split(root, "test", {"GOT-10k_Test_000001": dict(boxes=[(5, 6, 7, 8), (0, 0, 9, 9),
                                                                        (0, 0, 9, 9)])})
    return root


def test_train_split_value_by_value(got10k):
    report = SkipReport()
    videos = load_got10k(got10k, "train", report)
    assert [v.name for v in videos] == ["GOT-10k_Train_000002", "GOT-10k_Train_000001"]
    assert [v.category for v in videos] == ["kite", "dog"]
    frames = videos[1].frames
    folder = got10k / "train" / "GOT-10k_Train_000001"
    assert [f.path for f in frames] == [str(folder / f"0000000{i}.jpg") for i in range(1, 5)]
    assert [f.box for f in frames] == [Box(10, 8, 30, 24), None, Box(0, 0, 0, 0), Box(12.5, 9, 32.5, 25)]
    assert [f.absent for f in frames] == [False, False, True, False]
    assert [f.cover for f in frames] == [8, 3, 0, 5]
    assert [f.tags for f in frames] == [frozenset()] * 3 + [frozenset({"cut_by_image"})]
    assert len(report) == 0


def test_a_split_folder_may_be_the_root(got10k):
    assert ([v.name for v in load_got10k(got10k / "train", "train")]
            == [v.name for v in load_got10k(got10k, "train")])
    with pytest.raises(DatasetError, match="this is GOT-10k's train split, not val"):
        load_got10k(got10k / "train", "val")


def test_val_split_has_labels(got10k):
    (video,) = load_got10k(got10k, "val")
    assert video.name == "GOT-10k_Val_000001"
    assert [f.cover for f in video.frames] == [8, 8] and not any(f.absent for f in video.frames)


def test_test_split_has_the_first_box_only(got10k):
    (video,) = load_got10k(got10k, "test")
    assert [f.box for f in video.frames] == [Box(5, 6, 12, 14), None, None]
    assert [f.cover for f in video.frames] == [None] * 3
    assert not any(f.absent for f in video.frames)


def test_vottrain_leaves_out_the_published_vot_overlap(tmp_path):
    # GOT-10k_Train_000004 is the first name of the published list; 000001 is not in it.
    root = tmp_path / "GOT-10k"
    make_got10k_split(root, "train", {"GOT-10k_Train_000001": SECOND, "GOT-10k_Train_000004": SECOND})
    assert len(load_got10k(root, "train")) == 2
    assert [v.name for v in load_got10k(root, "vottrain")] == ["GOT-10k_Train_000001"]


def test_the_shipped_vot_overlap_list():
    names = read_name_list(GOT10K_VOT_OVERLAP)
    assert len(names) == len(set(names)) == 1000
    assert names == tuple(sorted(names))
    assert names[0] == "GOT-10k_Train_000004" and names[-1] == "GOT-10k_Train_009334"
    assert all(n.startswith("GOT-10k_Train_") and len(n) == 20 for n in names)


def test_without_list_txt_the_sequence_folders_are_read_in_order(tmp_path):
    root = tmp_path / "GOT-10k"
    make_got10k_split(root, "val", {"GOT-10k_Val_000002": SECOND, "GOT-10k_Val_000001": SECOND},
                      list_file=False)
    assert [v.name for v in load_got10k(root, "val")] == ["GOT-10k_Val_000001", "GOT-10k_Val_000002"]


def test_bad_sequences_are_skipped_and_reported(tmp_path):
    root = tmp_path / "GOT-10k"
    split = make_got10k_split(root, "train", {"GOT-10k_Train_000001": SECOND, "GOT-10k_Train_000002": SECOND,
                                              "GOT-10k_Train_000003": SECOND, "GOT-10k_Train_000005": SECOND})
    (split / "GOT-10k_Train_000002" / "absence.label").unlink()
    write_lines(split / "GOT-10k_Train_000003" / "cover.label", [8])         # 1 label, 2 frames
    write_lines(split / "GOT-10k_Train_000005" / "groundtruth.txt", ["1,2,x,4", "2,3,4,5"])
    write_lines(split / "list.txt", ["GOT-10k_Train_000001", "GOT-10k_Train_000002", "GOT-10k_Train_000003",
                                     "GOT-10k_Train_000005", "GOT-10k_Train_000009"])
    report = SkipReport()
    videos = load_got10k(root, "train", report)
    assert [v.name for v in videos] == ["GOT-10k_Train_000001", "GOT-10k_Train_000005"]
    assert videos[1].frames[0].box is None and videos[1].frames[1].box == Box(2, 3, 6, 8)
    reasons = dict(report.entries)
    assert reasons[str(split / "GOT-10k_Train_000002")].startswith("missing absence.label")
    assert reasons[str(split / "GOT-10k_Train_000003" / "cover.label")] == \
        "frame count mismatch: 1 labels for 2 images"
    assert reasons[f"{split / 'GOT-10k_Train_000005' / 'groundtruth.txt'}:1"].startswith("bad annotation line")
    assert reasons[str(split / "GOT-10k_Train_000009")].startswith("missing folder: listed in")


def test_wrong_layouts_name_the_folder_and_what_is_missing(tmp_path):
    with pytest.raises(DatasetError, match="the GOT-10k root does not exist"):
        load_got10k(tmp_path / "nowhere", "train")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"empty: missing GOT-10k val split: no val/ folder"):
        load_got10k(tmp_path / "empty", "val")
    write_lines(tmp_path / "blank" / "train" / "list.txt", [])
    with pytest.raises(DatasetError, match="no GOT-10k sequence"):
        load_got10k(tmp_path / "blank", "train")
    with pytest.raises(ValueError, match="unknown GOT-10k split 'trainval'"):
        load_got10k(tmp_path, "trainval")


def test_a_sequence_without_images_is_reported(tmp_path):
    split = tmp_path / "GOT-10k" / "train"
    make_got10k_sequence(split, "GOT-10k_Train_000001", **SECOND)
    for image in (split / "GOT-10k_Train_000001").glob("*.jpg"):
        image.unlink()
    report = SkipReport()
    assert load_got10k(split.parent, "train", report) == []
    assert report.entries == [(str(split / "GOT-10k_Train_000001"), "empty sequence: no numbered .jpg images")]
