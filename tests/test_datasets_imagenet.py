"""ImageNet DET reader and the shared image reader: filters, layouts, rescaling, damaged files."""

import cv2
import numpy as np
import pytest
from dataset_fixtures import make_det_image, write_jpeg, write_truncated_jpeg

from goturn_caffe.datasets.base import SkipReport
from goturn_caffe.datasets.decoding import verify_images
from goturn_caffe.datasets.image_io import DatasetError, read_image
from goturn_caffe.datasets.imagenet import boxes_in_image, load_imagenet_det, load_still_image
from goturn_caffe.datasets.training_set import TrainingSet
from goturn_caffe.geometry.boxes import Box

KANGAROO = "ILSVRC/Data/DET/train/kangaroo/kangaroo_00090.JPEG"


def test_066_and_invalid_box_filters(tmp_path):
    # Annotated at 100 x 50: the limits are 66 px wide and 33 px tall (kept when equal).
    make_det_image(tmp_path, "ILSVRC2015", "set", "a", (100, 50), [
        (10, 10, 76, 20),   # 66 wide: kept
        (10, 10, 77, 20),   # 67 wide: too large
        (0, 5, 20, 39),     # 34 tall: too large
        (0, 5, 20, 38),     # 33 tall: kept
        (-1, 5, 20, 20),    # xmin < 0: invalid
        (5, -2, 20, 20),    # ymin < 0: invalid
        (20, 5, 20, 20),    # xmax <= xmin: invalid
        (5, 20, 30, 19),    # ymax <= ymin: invalid
    ])
    make_det_image(tmp_path, "ILSVRC2015", "set", "b", (100, 50), [(0, 0, 90, 40)])
    report = SkipReport()
    (image,) = load_imagenet_det(tmp_path, report)
    assert image.path.endswith("set/a.JPEG")
    assert image.boxes == [Box(10, 10, 76, 20), Box(0, 5, 20, 38)]
    assert image.annotated_size == (100, 50)
    reasons = [reason.split(":")[0] for _, reason in report.entries]
    assert reasons.count("box too large") == 3 and reasons.count("invalid box") == 4
    assert reasons.count("no usable box") == 1
    assert any(where.endswith("b.xml") for where, reason in report.entries
               if reason.startswith("no usable box"))


@pytest.mark.parametrize("layout", ["ILSVRC2014", "ILSVRC2015"])
def test_both_layouts_load(tmp_path, layout):
    make_det_image(tmp_path, layout, "n01443537", "n01443537_1", (60, 40), [(5, 5, 25, 20)])
    make_det_image(tmp_path, layout, "n01443537", "n01443537_2", (60, 40), [(1, 2, 30, 22)])
    images = load_imagenet_det(tmp_path)
    assert [i.boxes for i in images] == [[Box(5, 5, 25, 20)], [Box(1, 2, 30, 22)]]
    assert all(read_image(i.path).shape == (40, 60, 3) for i in images)


def test_unrecognised_root_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="no ImageNet DET layout"):
        load_imagenet_det(tmp_path)


def test_boxes_are_rescaled_to_the_real_image_without_compounding(tmp_path):
    make_det_image(tmp_path, "ILSVRC2015", "s", "half", (200, 100), [(20, 10, 60, 50)],
                   image_size=(100, 50))
    (still,) = load_imagenet_det(tmp_path)
    image, boxes = load_still_image(still)
    assert image.shape == (50, 100, 3)
    assert boxes == [Box(10, 5, 30, 25)]
    _, again = load_still_image(still)
    assert again == boxes and still.boxes == [Box(20, 10, 60, 50)]
    assert boxes_in_image(still, 400, 100) == [Box(40, 10, 120, 50)]  # per axis


def test_bad_files_are_reported_and_the_rest_loads(tmp_path):
    make_det_image(tmp_path, "ILSVRC2015", "s", "good", (60, 40), [(5, 5, 25, 20)])
    make_det_image(tmp_path, "ILSVRC2015", "s", "no_image", (60, 40), [(5, 5, 25, 20)])
    (tmp_path / "ILSVRC/Data/DET/train/s/no_image.JPEG").unlink()
    (tmp_path / "ILSVRC/Annotations/DET/train/s/broken.xml").write_text("<annotation><size>")
    make_det_image(tmp_path, "ILSVRC2015", "s", "nan_box", (60, 40), [("nan", 5, 25, 20)])
    report = SkipReport()
    images = load_imagenet_det(tmp_path, report)
    assert [i.path.rsplit("/", 1)[1] for i in images] == ["good.JPEG"]
    reasons = sorted(reason.split(":")[0] for _, reason in report.entries)
    assert reasons == ["bad annotation file", "bad box", "missing image", "no usable box"]


def test_read_image_matches_imread_and_names_bad_files(tmp_path):
    good = write_jpeg(tmp_path / "good.jpg", 33, 21, seed=3)
    assert np.array_equal(read_image(good), cv2.imread(str(good)))
    padded = tmp_path / "padded.jpg"
    padded.write_bytes(good.read_bytes() + b"\0" * 100)  # zeros after the end marker are fine
    assert np.array_equal(read_image(padded), read_image(good))
    write_truncated_jpeg(tmp_path / "cut.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_bytes(b"not an image at all")
    for name, reason in [("cut.jpg", "truncated JPEG"), ("empty.jpg", "empty image"),
                         ("text.jpg", "undecodable"), ("missing.jpg", "unreadable file")]:
        with pytest.raises(DatasetError, match=reason) as error:
            read_image(tmp_path / name)
        assert str(tmp_path / name) in str(error.value)


def test_truncated_image_is_skipped_without_stopping(tmp_path):
    for seed, name in enumerate("abc"):
        make_det_image(tmp_path, "ILSVRC2015", "s", name, (64, 48), [(5, 5, 25, 20)], seed=seed)
    write_truncated_jpeg(tmp_path / "ILSVRC/Data/DET/train/s/b.JPEG")
    training_set = TrainingSet.from_roots(det=tmp_path)
    report = SkipReport()
    decoded = [key for key, _, _ in verify_images(training_set, training_set.keys(), report,
                                                  progress=False)]
    assert decoded == ["det/ILSVRC/Data/DET/train/s/a.JPEG", "det/ILSVRC/Data/DET/train/s/c.JPEG"]
    assert report.entries == [("det/ILSVRC/Data/DET/train/s/b.JPEG",
                               "truncated JPEG: no end-of-image marker after the last scan")]


def test_real_truncated_kangaroo_is_reported_and_skipped(shared_data):
    root = shared_data / "det"
    images = load_imagenet_det(root)
    kangaroo = [i for i in images if i.path.endswith("kangaroo_00090.JPEG")]
    assert len(kangaroo) == 1  # its annotation is fine: only the image is broken
    with pytest.raises(DatasetError, match="truncated JPEG"):
        load_still_image(kangaroo[0])
    training_set = TrainingSet.from_roots(det=root)
    report = SkipReport()
    decoded = {key for key, _, _ in verify_images(training_set, training_set.keys(), report,
                                                  progress=False)}
    assert report.entries == [(f"det/{KANGAROO}", "truncated JPEG: no end-of-image marker after "
                                                   "the last scan")]
    assert len(decoded) == len(training_set.images) - 1
