"""LMDB training cache and TrainingSet: build, identical reads from many processes, resume, no half DB."""

import multiprocessing
import pickle
import runpy
from pathlib import Path

import numpy as np
import pytest
from dataset_fixtures import ann_line, make_alov_video, make_det_image, make_otb_sequence, write_truncated_jpeg

from goturn_caffe.datasets import decoding
from goturn_caffe.datasets.image_io import DatasetError
from goturn_caffe.datasets.lmdb_cache import build_cache
from goturn_caffe.datasets.training_set import TrainingSet
from goturn_caffe.fileio import partial_path
from goturn_caffe.geometry.boxes import Box

ALOV_GOOD = "alov/imagedata++/01-Light/01-Light_video00001"
DET_DIR = "det/ILSVRC/Data/DET/train/s"


@pytest.fixture
def roots(tmp_path):
    """ALOV (2 videos), DET (3 images) and OTB (1 sequence), with damage of each kind."""
    alov, det, otb = tmp_path / "alov", tmp_path / "det", tmp_path / "otb"
    make_alov_video(alov, "01-Light", "01-Light_video00001", 11,
                    [ann_line(1, 5, 5, 20, 15), ann_line(6, 6, 6, 21, 16), ann_line(11, 7, 7, 22, 17)])
    # Second video: one annotated frame is truncated and one box lies outside the 40 x 30 image,
    # which leaves a single usable annotation: the video is dropped.
    make_alov_video(alov, "01-Light", "01-Light_video00002", 11,
                    [ann_line(1, 5, 5, 20, 15), ann_line(6, 6, 6, 21, 16), ann_line(11, 200, 5, 220, 15)])
    write_truncated_jpeg(alov / "imagedata++/01-Light/01-Light_video00002/00000006.jpg")
    make_det_image(det, "ILSVRC2015", "s", "a", (40, 30), [(2, 2, 20, 15), (30, 50, 35, 60)], seed=1)
    make_det_image(det, "ILSVRC2015", "s", "b", (40, 30), [(2, 2, 20, 15)], seed=2)
    write_truncated_jpeg(det / "ILSVRC/Data/DET/train/s/b.JPEG")
    make_det_image(det, "ILSVRC2015", "s", "c", (80, 60), [(4, 4, 40, 30)], image_size=(40, 30), seed=3)
    make_otb_sequence(otb, "Walk", [(1, 2, 10, 12), (2, 3, 10, 12), (3, 4, 10, 12)])
    return {"alov": alov, "det": det, "otb": otb}


def test_cache_holds_what_training_can_use(roots, tmp_path):
    disk = TrainingSet.from_roots(**roots)
    build = build_cache(disk, tmp_path / "cache", progress=False)
    assert build.written == len(disk.keys()) - 2 and build.reused == 0  # two truncated files
    cached = TrainingSet.from_lmdb(tmp_path / "cache")
    assert [v.name for v in cached.videos] == ["01-Light_video00001", "Walk"]
    assert [f.path for f in cached.videos[0].frames] == [
        f"{ALOV_GOOD}/{n:08d}.jpg" for n in (1, 6, 11)]
    assert cached.videos[0].frames[1].box == Box(5, 5, 20, 15)
    # a.JPEG keeps one box (the other lies below the image); c.JPEG keeps its annotated-size box.
    assert [(i.path, i.boxes, i.annotated_size) for i in cached.images] == [
        (f"{DET_DIR}/a.JPEG", [Box(2, 2, 20, 15)], (40, 30)),
        (f"{DET_DIR}/c.JPEG", [Box(4, 4, 40, 30)], (80, 60))]
    reasons = {reason.split(":")[0] for _, reason in cached.report.entries}
    assert {"truncated JPEG", "box outside image", "too few annotated frames"} <= reasons
    _, boxes = cached.load_still(cached.images[1])
    assert boxes == [Box(2, 2, 20, 15)]  # rescaled from 80 x 60 to the real 40 x 30
    assert "2 videos (6 annotated frames, 4 training pairs), 2 still images (2 boxes)" in cached.summary()


def test_cached_reads_equal_file_reads(roots, tmp_path):
    disk = TrainingSet.from_roots(**roots)
    build_cache(disk, tmp_path / "cache", progress=False)
    cached = TrainingSet.from_lmdb(tmp_path / "cache")
    for key in cached.keys():
        assert cached.read_bytes(key) == disk.read_bytes(key)
        assert np.array_equal(cached.read_image(key), disk.read_image(key))
    with pytest.raises(DatasetError, match="missing from cache"):
        cached.read_bytes(f"{DET_DIR}/b.JPEG")


@pytest.mark.parametrize("start_method", ["spawn", "fork"])
def test_many_processes_read_the_cache_at_once(roots, tmp_path, start_method):
    disk = TrainingSet.from_roots(**roots)
    build_cache(disk, tmp_path / "cache", progress=False)
    cached = TrainingSet.from_lmdb(tmp_path / "cache")
    keys = cached.keys() * 4
    cached.read_image(keys[0])  # the parent has the environment open before forking
    with multiprocessing.get_context(start_method).Pool(3) as pool:
        images = pool.map(cached.read_image, keys, chunksize=2)
    for key, image in zip(keys, images):
        assert np.array_equal(image, disk.read_image(key))


def test_training_set_pickles_without_its_handle(roots, tmp_path):
    build_cache(TrainingSet.from_roots(**roots), tmp_path / "cache", progress=False)
    cached = TrainingSet.from_lmdb(tmp_path / "cache")
    key = cached.keys()[0]
    cached.read_image(key)
    copy = pickle.loads(pickle.dumps(cached))
    assert copy._store is None and copy.videos == cached.videos and copy.images == cached.images
    assert np.array_equal(copy.read_image(key), cached.read_image(key))


def test_interrupted_build_leaves_no_database_and_resumes(roots, tmp_path, monkeypatch):
    disk = TrainingSet.from_roots(**roots)
    out = tmp_path / "cache"
    real_decode, calls = decoding.decode_image, []

    def interrupt_at_fifth(data, source):
        calls.append(source)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real_decode(data, source)

    monkeypatch.setattr(decoding, "decode_image", interrupt_at_fifth)
    with pytest.raises(KeyboardInterrupt):
        build_cache(disk, out, progress=False, commit_every=2)
    assert not out.exists() and partial_path(out).is_dir()
    with pytest.raises(DatasetError, match="incomplete cache"):
        TrainingSet.from_lmdb(partial_path(out))
    monkeypatch.setattr(decoding, "decode_image", real_decode)

    build = build_cache(disk, out, progress=False, commit_every=2)
    # Decodes 1-4 were all good images, committed in two transactions of 2.
    assert build.reused == 4 and build.written == len(disk.keys()) - 2 - 4
    assert out.is_dir() and not partial_path(out).exists()
    fresh = tmp_path / "fresh"
    build_cache(disk, fresh, progress=False)
    assert TrainingSet.from_lmdb(out).videos == TrainingSet.from_lmdb(fresh).videos
    assert TrainingSet.from_lmdb(out).images == TrainingSet.from_lmdb(fresh).images


def test_two_decoding_workers_build_the_same_cache(roots, tmp_path):
    disk = TrainingSet.from_roots(**roots)
    one = build_cache(disk, tmp_path / "one", workers=1, progress=False)
    two = build_cache(disk, tmp_path / "two", workers=2, progress=False)
    assert two.written == one.written == len(disk.keys()) - 2
    assert two.report.entries == one.report.entries  # same skips, in the same order
    first, second = TrainingSet.from_lmdb(tmp_path / "one"), TrainingSet.from_lmdb(tmp_path / "two")
    assert (second.videos, second.images) == (first.videos, first.images)
    for key in first.keys():
        assert second.read_bytes(key) == first.read_bytes(key)


def test_rerun_keeps_a_complete_cache_unless_forced(roots, tmp_path):
    disk = TrainingSet.from_roots(**roots)
    out = tmp_path / "cache"
    build_cache(disk, out, progress=False)
    assert build_cache(disk, out, progress=False).up_to_date
    only_det = TrainingSet.from_roots(det=roots["det"])
    rebuilt = build_cache(only_det, out, force=True, progress=False)
    assert not rebuilt.up_to_date and rebuilt.written == 2
    cached = TrainingSet.from_lmdb(out)
    assert cached.videos == [] and len(cached.images) == 2
    assert not partial_path(out).exists() and not (tmp_path / "cache.old").exists()
    precious = tmp_path / "precious"
    (precious / "notes.txt").parent.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="not an LMDB cache"):
        build_cache(disk, precious, force=True, progress=False)
    assert (precious / "notes.txt").read_text() == "keep me"


def test_clear_errors_for_missing_or_empty_data(tmp_path):
    with pytest.raises(DatasetError, match="no dataset root"):
        TrainingSet.from_roots()
    with pytest.raises(DatasetError, match="does not exist"):
        TrainingSet.from_roots(alov=tmp_path / "nowhere")
    (tmp_path / "otb" / "Empty" / "img").mkdir(parents=True)
    with pytest.raises(DatasetError, match="empty training set"):
        TrainingSet.from_roots(otb=tmp_path / "otb")
    with pytest.raises(DatasetError, match="missing cache"):
        TrainingSet.from_lmdb(tmp_path / "no_cache")


def test_real_data_cache(shared_data, tmp_path):
    disk = TrainingSet.from_roots(alov=shared_data / "alov", det=shared_data / "det")
    build = build_cache(disk, tmp_path / "cache", progress=False)
    cached = TrainingSet.from_lmdb(tmp_path / "cache")
    assert [(where, reason.split(":")[0]) for where, reason in build.report.entries
            if "truncated" in reason] == [("det/ILSVRC/Data/DET/train/kangaroo/kangaroo_00090.JPEG",
                                           "truncated JPEG")]
    (video,) = cached.videos
    assert len(video) == 19  # the 19 annotated frames of the real .ann
    assert len(cached.images) == len(disk.images) - 1
    for key in (video.frames[7].path, cached.images[-1].path):
        assert np.array_equal(cached.read_image(key), disk.read_image(key))


def run_script(name: str, argv: list) -> int:
    script = Path(__file__).resolve().parents[1] / "data_prep" / name
    return runpy.run_path(str(script))["main"](argv)


def test_command_lines_validate_and_build(roots, tmp_path, capsys):
    dataset_args = ["--alov", str(roots["alov"]), "--det", str(roots["det"]), "--otb", str(roots["otb"])]
    assert run_script("validate_dataset.py", dataset_args + ["--show", "0"]) == 0
    out = capsys.readouterr().out
    assert "2 videos (6 annotated frames, 4 training pairs), 2 still images (2 boxes)" in out
    assert f"{DET_DIR}/b.JPEG: truncated JPEG" in out and "box outside image" in out
    cache = tmp_path / "cli_cache"
    assert run_script("build_lmdb.py", dataset_args + ["--output", str(cache)]) == 0
    assert "wrote 10 images" in capsys.readouterr().out
    assert run_script("build_lmdb.py", dataset_args + ["--output", str(cache)]) == 0
    assert "already complete" in capsys.readouterr().out
    assert run_script("validate_dataset.py", ["--alov", str(tmp_path / "nowhere"), "--no-det"]) == 2
    assert "does not exist" in capsys.readouterr().err
