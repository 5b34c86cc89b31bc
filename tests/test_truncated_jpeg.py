"""Truncated JPEGs, on every machine (issue 21): a bundled file cut inside its main
scan after an EXIF thumbnail (tests/data/, see PROVENANCE.md there) is reported as
truncated by the decoder, the dataset readers and the cache's decoding workers; the
thumbnail's own end-of-image marker must not make the file look complete."""

import shutil
from pathlib import Path

import pytest
from dataset_fixtures import cut_inside_main_scan, jpeg_with_exif_thumbnail, make_det_image

from goturn_caffe.datasets.base import SkipReport
from goturn_caffe.datasets.decoding import verify_images
from goturn_caffe.datasets.image_io import DatasetError, decode_image, jpeg_is_complete, read_image
from goturn_caffe.datasets.training_set import TrainingSet

BUNDLED = Path(__file__).parent / "data" / "cut_after_exif_thumbnail.jpg"
TRUNCATED = "truncated JPEG: no end-of-image marker after the last scan"
EOI, SOS = b"\xff\xd9", b"\xff\xda"


def test_the_bundled_file_is_what_its_name_says():
    data = BUNDLED.read_bytes()
    assert data.startswith(b"\xff\xd8") and b"Exif\0\0" in data[:40]
    assert 2_000 < len(data) < 10_000
    (thumbnail_end,) = [i for i in range(len(data)) if data.startswith(EOI, i)]  # the thumbnail's
    assert data.count(SOS) == 2 and data.find(SOS) < thumbnail_end < data.rfind(SOS)


def test_a_jpeg_cut_after_its_exif_thumbnail_is_not_complete():
    whole = jpeg_with_exif_thumbnail(seed=4)
    assert jpeg_is_complete(whole)
    assert decode_image(whole, "whole.jpg").shape == (48, 64, 3)
    for cut in (cut_inside_main_scan(whole), BUNDLED.read_bytes()):
        assert not jpeg_is_complete(cut)
        with pytest.raises(DatasetError) as error:
            decode_image(cut, "cut.jpg")
        assert str(error.value) == f"cut.jpg: {TRUNCATED}"


def test_read_image_names_the_bundled_file():
    with pytest.raises(DatasetError, match=f"^{BUNDLED}: {TRUNCATED}$"):
        read_image(BUNDLED)


@pytest.mark.parametrize("workers", [1, 2])
def test_the_decoding_workers_report_the_bundled_file_and_go_on(tmp_path, workers):
    for seed, name in enumerate("abc"):
        make_det_image(tmp_path, "ILSVRC2015", "s", name, (64, 48), [(5, 5, 25, 20)], seed=seed)
    shutil.copyfile(BUNDLED, tmp_path / "ILSVRC/Data/DET/train/s/b.JPEG")
    training_set = TrainingSet.from_roots(det=tmp_path)
    report = SkipReport()
    decoded = [key for key, _, _ in verify_images(training_set, training_set.keys(), report,
                                                  workers=workers, progress=False)]
    assert decoded == ["det/ILSVRC/Data/DET/train/s/a.JPEG", "det/ILSVRC/Data/DET/train/s/c.JPEG"]
    assert report.entries == [("det/ILSVRC/Data/DET/train/s/b.JPEG", TRUNCATED)]
