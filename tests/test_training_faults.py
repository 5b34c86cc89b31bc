"""Training when things go wrong (issue 21): images that fail to decode in the data
workers are listed, an infinite loss stops the run, a full disk is caught before
Caffe writes a snapshot, and every pair draws from its own generator."""

from types import SimpleNamespace

import numpy as np
import pytest
from dataset_fixtures import ann_line, make_alov_video, write_truncated_jpeg

from goturn_caffe.datasets.training_set import TrainingSet
from goturn_caffe.model.netspec import NetOptions
from goturn_caffe.train import training
from goturn_caffe.train.batches import BatchConfig, GroupMaker, group_rng
from goturn_caffe.train.prefetch import Prefetcher
from goturn_caffe.train.training import (
    SKIPPED_LIST,
    TRAINING_SKIPS_HEADER,
    DivergedError,
    TrainConfig,
    read_skipped_list,
    run_solver,
)

CONFIG = BatchConfig(batch_size=11, augmented_per_pair=10, mix="videos")
BOX = ann_line(1, 5, 5, 25, 20)


def alov_with_broken_frames(root, broken: int = 3):
    """One good two-frame video and ``broken`` whose second frame is a truncated JPEG."""
    make_alov_video(root, "01-Light", "01-Light_video00001", 2, [BOX, ann_line(2, 6, 5, 26, 20)])
    bad = []
    for n in range(2, 2 + broken):
        video = f"01-Light_video{n:05d}"
        make_alov_video(root, "01-Light", video, 2, [BOX, ann_line(2, 6, 5, 26, 20)])
        bad.append(write_truncated_jpeg(root / "imagedata++" / "01-Light" / video / "00000002.jpg"))
    return bad


@pytest.fixture
def broken_set(tmp_path):
    bad = alov_with_broken_frames(tmp_path / "alov")
    return TrainingSet.from_roots(alov=tmp_path / "alov"), bad


def test_a_group_lists_the_images_it_had_to_skip(broken_set):
    training_set, bad = broken_set
    make_group = GroupMaker(training_set, CONFIG, seed=1)
    skipped = []
    for index in range(12):
        targets, _, _ = make_group(index)
        assert len(targets) == 11  # a usable pair was found in the end
        skipped += make_group.take_skipped()
    assert skipped, "3 broken videos of 4: some of 12 groups must have met one"
    for where, reason in skipped:
        assert where.endswith("00000002.jpg") and "01-Light_video0000" in where
        assert where.split("/")[-2] != "01-Light_video00001"  # the good video never fails
        assert reason.startswith("truncated JPEG") or "decode" in reason, reason
    assert make_group.take_skipped() == []  # handed over once


@pytest.mark.parametrize("workers", [0, 1])
def test_the_prefetcher_brings_back_what_the_workers_skipped(broken_set, workers):
    training_set, _ = broken_set
    inline = GroupMaker(training_set, CONFIG, seed=1)
    expected = []
    for index in range(6):
        inline(index)
        expected += inline.take_skipped()
    prefetcher = Prefetcher(GroupMaker(training_set, CONFIG, seed=1), 11, (227, 227, 3),
                            workers=workers)
    try:
        for _ in range(6):
            next(prefetcher)
        assert prefetcher.skipped == expected and expected
    finally:
        prefetcher.close()


def test_each_pair_draws_from_its_own_generator(broken_set):
    """Groups 0, 1, 2 of one stream differ (the seed covers the pair number) and
    group 2 is the same whoever builds it."""
    assert group_rng(5, 0, 0).integers(1 << 30) != group_rng(5, 0, 1).integers(1 << 30)
    training_set, _ = broken_set
    make_group = GroupMaker(training_set, CONFIG, seed=5)
    labels = [make_group(index)[2] for index in range(3)]
    assert not np.array_equal(labels[0], labels[1]) and not np.array_equal(labels[1], labels[2])
    assert np.array_equal(GroupMaker(training_set, CONFIG, seed=5)(2)[2], labels[2])


def test_skipped_txt_keeps_the_readers_list_and_adds_the_training_one(tmp_path):
    path = tmp_path / SKIPPED_LIST
    path.write_text("box outside image (1):\n  a.jpg: box outside image: ...\n")
    written = training.record_training_skips(tmp_path, [("v/2.jpg", "truncated JPEG: cut"),
                                                        ("v/2.jpg", "truncated JPEG: cut")])
    assert written == 2
    assert path.read_text() == ("box outside image (1):\n  a.jpg: box outside image: ...\n\n"
                                f"{TRAINING_SKIPS_HEADER}\n  v/2.jpg\ttruncated JPEG: cut\n")
    grown = [("v/2.jpg", "truncated JPEG: cut")] * 2 + [("w/9.jpg", "not an image")]
    assert training.record_training_skips(tmp_path, grown, written) == 3  # the list only grows
    assert read_skipped_list(path) == ("box outside image (1):\n  a.jpg: box outside image: ...",
                                       [("v/2.jpg", "truncated JPEG: cut"),
                                        ("w/9.jpg", "not an image")])


# --- the solver loop with a stand-in solver (no Caffe needed) -----------------------------

class FakeSolver:
    """Steps through ``losses``; its one weight blob holds ``values`` floats.  A
    snapshot writes the two files Caffe would, ``written`` records them."""

    def __init__(self, losses, values=1000, staging=None):
        self.losses, self.iter, self.written, self.staging = list(losses), 0, [], staging
        blob = SimpleNamespace(data=np.zeros(values, np.float32))
        self.net = SimpleNamespace(blobs={"loss": SimpleNamespace(data=np.float32(0))},
                                   params={"fc8": [blob]}, layers=[SimpleNamespace()])

    def step(self, count):
        self.net.blobs["loss"].data = np.float32(self.losses[self.iter])
        self.iter += count

    def snapshot(self):
        for suffix in ("caffemodel", "solverstate"):
            path = self.staging / f"goturn_iter_{self.iter}.{suffix}"
            path.write_bytes(b"")
            self.written.append(path.name)


def fake_caffe():
    from goturn_caffe.caffe_env import import_caffe

    return import_caffe()


def solver_config(tmp_path, **kwargs):
    output = tmp_path / "run"
    (output / "snapshots" / ".staging").mkdir(parents=True)
    return TrainConfig(output=str(output), net=NetOptions(batch_size=11), **kwargs)


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")])
def test_a_non_finite_loss_stops_the_run_at_once(tmp_path, bad):
    config = solver_config(tmp_path, max_iter=5, snapshot=0)
    solver = FakeSolver([1.0, bad, 1.0, 1.0, 1.0], staging=tmp_path / "run" / "snapshots" / ".staging")
    with pytest.raises(DivergedError, match=rf"the loss is {bad} at iteration 2: training diverged"):
        run_solver(None, solver, config, 1, progress=False, log=lambda line: None)
    assert solver.iter == 2 and solver.written == []  # nothing stepped or saved after it


def test_snapshot_bytes_counts_the_weights_twice_and_some_room():
    net = SimpleNamespace(params={"a": [SimpleNamespace(data=np.zeros((10, 20))),
                                        SimpleNamespace(data=np.zeros(10))],
                                  "b": [SimpleNamespace(data=np.zeros((3, 3, 3, 3)))]})
    assert training.snapshot_bytes(net) == 2 * 4 * (200 + 10 + 81) + training.SNAPSHOT_SLACK_BYTES


def test_a_full_disk_stops_training_with_one_line_before_caffe_writes(tmp_path, monkeypatch, caffe):
    config = solver_config(tmp_path, max_iter=3, snapshot=2)
    snapshots = tmp_path / "run" / "snapshots"
    solver = FakeSolver([1.0, 0.9, 0.8], values=100_000, staging=snapshots / ".staging")
    needed = training.snapshot_bytes(solver.net)
    seen = []

    def nearly_full(path):
        seen.append(str(path))
        return SimpleNamespace(total=10 * needed, used=10 * needed - (needed - 1), free=needed - 1)

    monkeypatch.setattr(training.shutil, "disk_usage", nearly_full)
    with pytest.raises(OSError) as caught:
        run_solver(caffe, solver, config, 1, progress=False, log=lambda line: None)
    error = caught.value
    assert error.filename == str(snapshots) and seen == [str(snapshots)]
    assert error.strerror.startswith("no room for the snapshot at iteration 2: it needs about ")
    assert "--resume" in error.strerror and "\n" not in error.strerror
    assert solver.written == [] and solver.iter == 2  # Caffe was never asked to write
    from goturn_caffe.cli import describe

    assert describe(error) == f"{snapshots}: {error.strerror}"


def test_train_lists_the_images_its_workers_could_not_decode(caffe, tmp_path):
    """A real run of one iteration: the images skipped while drawing its batch are in
    skipped.txt and in one summary line."""
    bad = alov_with_broken_frames(tmp_path / "alov")
    training_set = TrainingSet.from_roots(alov=tmp_path / "alov")
    probe = GroupMaker(training_set, CONFIG, seed=1)
    probe(0)
    expected = probe.take_skipped()
    assert expected  # seed 1's first pair meets a broken video (precondition)
    output = tmp_path / "run"
    lines = []
    summary = training.train(TrainConfig(
        output=str(output), max_iter=1, snapshot=0,
        net=NetOptions(batch_size=11, fc_layers=1, current_frame_only=True),  # a small net
        data={"alov": str(tmp_path / "alov"), "mix": "videos", "seed": 1, "workers": 1}),
        log=lines.append, progress=False)
    readers, listed = read_skipped_list(output / SKIPPED_LIST)
    assert readers == "" and listed == list(dict.fromkeys(expected))
    broken = {f"{path.parent.name}/{path.name}" for path in bad}
    assert all(any(where.endswith(name) for name in broken) for where, _ in listed)
    images = len({where for where, _ in expected})
    assert summary["skipped_while_training"] == images
    assert [line for line in lines if "could not be decoded while training" in line] == [
        f"skipped {images} image(s) that could not be decoded while training ({len(expected)} "
        f"draw(s); another pair was drawn for each): listed in {output / SKIPPED_LIST}"]
