"""Training on today's datasets: GOT-10k / LaSOT / TrackingNet pooled with ALOV and DET,
only visible frames drawn, benchmark overlap left out, the cache and the tools."""

import json
import runpy
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from conftest import REPO_ROOT
from new_dataset_fixtures import make_got10k_split, make_lasot_sequence, make_trackingnet_sequence, write_lines

from goturn_caffe.datasets.image_io import DatasetError
from goturn_caffe.datasets.lmdb_cache import build_cache
from goturn_caffe.datasets.pairs import draw_video_frames
from goturn_caffe.datasets.training_set import TrainingSet, video_source
from goturn_caffe.geometry.boxes import Box
from goturn_caffe.train.batches import BatchConfig, GroupMaker
from goturn_caffe.train.data_layer import parse_params

SAMPLE = REPO_ROOT / "data" / "sample"
TRAIN = [sys.executable, str(REPO_ROOT / "tools" / "train.py")]
BOX = (20, 14, 24, 18)   # well inside the 64 x 48 frames
# 8 frames: 1, 2, 7, 8 trainable; 3 absent, 4 cover 0, 5 NaN, 6 zero-size.
GOT_FRAMES = dict(boxes=[BOX, BOX, BOX, BOX, None, (20, 14, 0, 0), BOX, BOX],
                  absence=[0, 0, 1, 0, 0, 0, 0, 0], cover=[8, 8, 0, 0, 8, 8, 8, 8])
GOT_TRAINABLE = [1, 2, 7, 8]
GOT_UNTRAINABLE = [3, 4, 5, 6]
# 6 frames: 3 fully occluded, 4 out of view; 1, 2, 5, 6 trainable.
LASOT_FRAMES = dict(boxes=[BOX, BOX, (0, 0, 0, 0), (0, 0, 0, 0), BOX, BOX],
                    full_occlusion=[0, 0, 1, 0, 0, 0], out_of_view=[0, 0, 0, 1, 0, 0])
LASOT_UNTRAINABLE = [3, 4]


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """GOT-10k train (GOT-10k_Train_000004 is on the published VOT-overlap list) and LaSOT
    (airplane-1 is a test sequence: never trained on)."""
    root = tmp_path_factory.mktemp("new_sources")
    got10k, lasot = root / "GOT-10k", root / "LaSOT"
    make_got10k_split(got10k, "train", {"GOT-10k_Train_000001": GOT_FRAMES,
                                        "GOT-10k_Train_000004": dict(boxes=[BOX] * 3)})
    make_lasot_sequence(lasot, "airplane-2", **LASOT_FRAMES)
    make_lasot_sequence(lasot, "bear-3", boxes=[BOX] * 3)
    make_lasot_sequence(lasot, "airplane-1", boxes=[BOX] * 3)
    return {"got10k": got10k, "lasot": lasot, "alov": SAMPLE / "alov", "det": SAMPLE / "det"}


def untrainable_keys() -> set:
    return ({f"got10k/train/GOT-10k_Train_000001/{i:08d}.jpg" for i in GOT_UNTRAINABLE}
            | {f"lasot/airplane/airplane-2/img/{i:08d}.jpg" for i in LASOT_UNTRAINABLE}
            | {f"lasot/airplane/airplane-1/img/{i:08d}.jpg" for i in (1, 2, 3)})


def test_the_sources_are_pooled_with_only_trainable_frames(sources):
    training_set = TrainingSet.from_roots(**sources)
    videos = {v.name: v for v in training_set.videos}
    assert sorted(videos) == ["01-Light_video00001", "GOT-10k_Train_000001", "GOT-10k_Train_000004",
                              "airplane-2", "bear-3"]
    got = videos["GOT-10k_Train_000001"]
    assert [f.path for f in got.frames] == [f"got10k/train/GOT-10k_Train_000001/{i:08d}.jpg"
                                            for i in GOT_TRAINABLE]
    assert all(f.box == Box(20, 14, 44, 32) and not f.absent for f in got.frames)
    assert [f.path.rsplit("/", 1)[1] for f in videos["airplane-2"].frames] == \
        [f"{i:08d}.jpg" for i in (1, 2, 5, 6)]
    assert "videos pooled from alov 1, got10k 2, lasot 2" in training_set.summary()
    assert len(training_set.images) > 0


def test_draws_count_zero_absent_frames(sources):
    training_set = TrainingSet.from_roots(**sources)
    # the draw itself, many times: every video of every source comes up, never an untrainable frame
    rng = np.random.default_rng(0)
    drawn = [frame.path for _ in range(4000) for frame in draw_video_frames(training_set.videos, rng)]
    assert not set(drawn) & untrainable_keys()
    per_source = Counter(path.partition("/")[0] for path in drawn[::2])
    assert set(per_source) == {"alov", "got10k", "lasot"}
    assert all(abs(n / 4000 - share) < 0.03 for n, share in
               ((per_source["alov"], 1 / 5), (per_source["got10k"], 2 / 5), (per_source["lasot"], 2 / 5)))
    # and through the batches' own group maker, counting every image it reads
    read = []
    original = training_set.read_image
    training_set.read_image = lambda key: read.append(key) or original(key)
    make_group = GroupMaker(training_set, BatchConfig(batch_size=11, augmented_per_pair=2), seed=3)
    for index in range(60):
        make_group(index)
    video_reads = [key for key in read if not key.startswith("det/")]
    assert len(video_reads) == 60 and len(read) - len(video_reads) == 30  # 30 pairs, 30 still images
    assert not set(video_reads) & untrainable_keys()


def test_exclude_vot_leaves_out_the_published_overlap(sources):
    training_set = TrainingSet.from_roots(**sources, exclude="vot")
    names = {v.name for v in training_set.videos}
    assert "GOT-10k_Train_000004" not in names and "GOT-10k_Train_000001" in names
    assert ("got10k/GOT-10k_Train_000004", "benchmark overlap: in VOT") in training_set.report.entries
    assert "videos pooled from alov 1, got10k 1, lasot 2" in training_set.summary()


def test_exclude_otb_needs_a_list_for_alov(sources, tmp_path):
    with pytest.raises(DatasetError, match="--exclude otb: no list of the alov training videos that overlap "
                                           "OTB is stored in this repository"):
        TrainingSet.from_roots(**sources, exclude=["otb"])
    # GOT-10k and LaSOT have no published OTB overlap: nothing is removed
    without_alov = dict(sources, alov=None)
    assert len(TrainingSet.from_roots(**without_alov, exclude="otb").videos) == 4
    # with the user's own list, ALOV is accepted and the named videos go
    names = write_lines(tmp_path / "otb_overlap.txt", ["# mine", "01-Light_video00001", "bear-3"])
    training_set = TrainingSet.from_roots(**sources, exclude="otb,vot", exclude_videos=names)
    assert {v.name for v in training_set.videos} == {"GOT-10k_Train_000001", "airplane-2"}
    assert ("alov/01-Light_video00001", f"excluded: named in {names}") in training_set.report.entries


def test_exclude_otb_drops_otb_videos_used_for_training(sources, tmp_path):
    from dataset_fixtures import make_otb_sequence

    make_otb_sequence(tmp_path / "otb", "Walk", [BOX] * 3)
    training_set = TrainingSet.from_roots(otb=tmp_path / "otb", lasot=sources["lasot"], exclude="otb")
    assert {v.name for v in training_set.videos} == {"airplane-2", "bear-3"}
    assert ("otb/Walk", "benchmark overlap: in OTB") in training_set.report.entries
    with pytest.raises(DatasetError, match="--exclude vot: no list of the otb training videos"):
        TrainingSet.from_roots(otb=tmp_path / "otb", exclude="vot")


def test_trackingnet_chunks_join_the_pool(tmp_path):
    root = tmp_path / "TrackingNet"
    make_trackingnet_sequence(root, "TRAIN_0", "seq_a", [BOX, None, BOX, BOX])
    make_trackingnet_sequence(root, "TRAIN_1", "seq_b", [BOX, BOX])
    training_set = TrainingSet.from_roots(trackingnet=root, trackingnet_chunks=[0])
    (video,) = training_set.videos
    assert video_source(video) == "trackingnet"
    assert [f.path for f in video.frames] == [f"trackingnet/TRAIN_0/frames/seq_a/{i}.jpg" for i in (0, 2, 3)]


def test_the_cache_keeps_the_new_sources_and_applies_exclusions(sources, tmp_path):
    folders = TrainingSet.from_roots(got10k=sources["got10k"], lasot=sources["lasot"])
    build = build_cache(folders, tmp_path / "cache", progress=False)
    cached = TrainingSet.from_lmdb(build.path)
    assert [(v.name, [(f.path, f.box) for f in v.frames]) for v in cached.videos] == \
        [(v.name, [(f.path, f.box) for f in v.frames]) for v in folders.videos]
    key = "got10k/train/GOT-10k_Train_000001/00000007.jpg"
    assert np.array_equal(cached.read_image(key), folders.read_image(key))
    excluded = TrainingSet.from_lmdb(build.path, exclude=["vot"])
    assert "GOT-10k_Train_000004" not in {v.name for v in excluded.videos}


def run_data_prep(name: str, argv: list) -> int:
    return runpy.run_path(str(REPO_ROOT / "data_prep" / name))["main"](argv)


def test_validate_and_build_command_lines(sources, tmp_path, capsys):
    args = ["--no-alov", "--no-det", "--got10k", str(sources["got10k"]), "--lasot", str(sources["lasot"]),
            "--exclude", "vot"]
    assert run_data_prep("validate_dataset.py", args) == 0
    out = capsys.readouterr().out
    assert "3 videos (11 annotated frames, 8 training pairs)" in out and "got10k 1, lasot 2" in out
    assert "benchmark overlap (1):" in out
    assert run_data_prep("build_lmdb.py", args + ["--output", str(tmp_path / "cache")]) == 0
    assert "wrote 11 images" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        run_data_prep("validate_dataset.py", args + ["--exclude", "imdb"])
    assert stop.value.code == 2 and "unknown benchmark 'imdb'" in capsys.readouterr().err


def test_data_layer_params_carry_the_new_sources():
    params = parse_params(json.dumps({"got10k": "/g", "lasot": "/l", "trackingnet": "/t",
                                      "trackingnet_chunks": [0, 2], "exclude": ["vot"]}))
    assert params.roots == {"got10k": "/g", "lasot": "/l", "trackingnet": "/t"}
    assert params.selection == {"trackingnet_chunks": [0, 2], "exclude": ["vot"]}
    with pytest.raises(DatasetError, match="TrackingNet chunks chosen without a TrackingNet root"):
        parse_params(json.dumps({"lasot": "/l", "trackingnet_chunks": [0]})).open_training_set()


def test_train_py_trains_on_got10k_and_lasot_mixed_with_the_bundled_sample(caffe, sources, tmp_path):
    output = tmp_path / "run"
    out = subprocess.run(TRAIN + ["--alov", str(sources["alov"]), "--det", str(sources["det"]),
                                  "--got10k", str(sources["got10k"]), "--lasot", str(sources["lasot"]),
                                  "--exclude", "vot", "--max-iter", "2", "--snapshot", "0",
                                  "--batch-size", "11", "--workers", "1", "--no-progress",
                                  "--output", str(output)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "videos pooled from alov 1, got10k 1, lasot 2" in out.stdout + out.stderr
    assert "trained 2 iterations" in out.stdout
    assert "got10k/GOT-10k_Train_000004: benchmark overlap: in VOT" in (output / "skipped.txt").read_text()


def test_train_py_refuses_an_unknown_overlap_in_one_line(tmp_path):
    out = subprocess.run(TRAIN + ["--exclude", "otb", "--max-iter", "1", "--output", str(tmp_path / "r")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "--exclude otb: no list of the alov" in out.stderr
    assert not (tmp_path / "r").exists()
