"""Archive checksums and safe extraction (data_prep/download.py)."""

import io
import runpy
import tarfile
import zipfile
from pathlib import Path

import pytest

from goturn_caffe.datasets.archives import extract_nested_tars, safe_extract, verify_checksum
from goturn_caffe.datasets.image_io import DatasetError

DOWNLOAD_SCRIPT = Path(__file__).resolve().parents[1] / "data_prep" / "download.py"


def make_zip(path, members: dict) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def make_tar(path, members: dict, mode="w:gz") -> Path:
    with tarfile.open(path, mode) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_checksums_use_the_standard_test_vectors(tmp_path):
    path = tmp_path / "abc.bin"
    path.write_bytes(b"abc")
    verify_checksum(path, "md5:900150983cd24fb0d6963f7d28e17f72")
    verify_checksum(path, "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD")
    with pytest.raises(DatasetError, match="checksum mismatch"):
        verify_checksum(path, "md5:00000000000000000000000000000000")
    with pytest.raises(DatasetError, match="bad checksum"):
        verify_checksum(path, "900150983cd24fb0d6963f7d28e17f72")


@pytest.mark.parametrize("maker", [make_zip, make_tar])
def test_good_archive_is_extracted(tmp_path, maker):
    archive = maker(tmp_path / "data.arc", {"imagedata++/cat/v/00000001.jpg": b"jpeg",
                                            "imagedata++/cat/v.txt": b"text"})
    dest = tmp_path / "alov"
    assert safe_extract(archive, dest) == ["imagedata++"]
    assert (dest / "imagedata++/cat/v/00000001.jpg").read_bytes() == b"jpeg"
    assert sorted(p.name for p in dest.iterdir()) == ["imagedata++"]  # no staging folder left
    with pytest.raises(DatasetError, match="already extracted"):
        safe_extract(archive, dest)


@pytest.mark.parametrize("maker", [make_zip, make_tar])
@pytest.mark.parametrize("bad_name", ["../escaped.txt", "/tmp/absolute.txt", "a/../../escaped.txt",
                                      "..\\escaped.txt"])
def test_escaping_members_are_refused_before_writing(tmp_path, maker, bad_name):
    archive = maker(tmp_path / "evil.arc", {"fine/ok.txt": b"ok", bad_name: b"evil"})
    dest = tmp_path / "out" / "dest"
    with pytest.raises(DatasetError, match="unsafe archive member"):
        safe_extract(archive, dest)
    assert list(dest.iterdir()) == []
    assert not (tmp_path / "out" / "escaped.txt").exists() and not (tmp_path / "escaped.txt").exists()


def test_tar_links_are_refused(tmp_path):
    archive = tmp_path / "link.tar"
    with tarfile.open(archive, "w") as tar:
        link = tarfile.TarInfo("data/passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(DatasetError, match="link or special file"):
        safe_extract(archive, tmp_path / "dest")


def test_not_an_archive(tmp_path):
    (tmp_path / "x.zip").write_bytes(b"plain text")
    with pytest.raises(DatasetError, match="unknown archive format"):
        safe_extract(tmp_path / "x.zip", tmp_path / "dest")


def test_nested_synset_tars_are_unpacked_once(tmp_path):
    # ILSVRC2014_DET_train.tar holds one tar per synset.
    inner = {"n01": make_tar(tmp_path / "n01.tar", {"n01_1.JPEG": b"1", "n01_2.JPEG": b"2"}, "w"),
             "n02": make_tar(tmp_path / "n02.tar", {"n02_1.JPEG": b"3"}, "w")}
    outer = make_tar(tmp_path / "outer.tar",
                     {f"ILSVRC2014_DET_train/{name}.tar": path.read_bytes() for name, path in inner.items()},
                     "w")
    dest = tmp_path / "det"
    assert runpy.run_path(str(DOWNLOAD_SCRIPT))["main"](
        ["extract", str(outer), str(dest), "--nested-tars"]) == 0
    images = dest / "ILSVRC2014_DET_train"
    assert (images / "n01" / "n01_2.JPEG").read_bytes() == b"2"
    assert (images / "n02" / "n02_1.JPEG").read_bytes() == b"3"
    assert extract_nested_tars(images) == []  # already done: nothing rewritten


def test_show_prints_where_to_get_each_dataset(capsys):
    main = runpy.run_path(str(DOWNLOAD_SCRIPT))["main"]
    assert main(["show"]) == 0
    text = capsys.readouterr().out
    for expected in ("alov300pp.joomlafree.it", "image-net.org", "ILSVRC/Annotations/DET/train",
                     "vot2014", "alov300++_rectangleAnnotation_full"):
        assert expected in text
