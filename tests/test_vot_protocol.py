"""The supervised VOT protocol on synthetic sequences with hand-placed failures."""

import math

import numpy as np
import pytest
from vot_fixtures import synthetic_video

from goturn_caffe.geometry.boxes import Box
from goturn_caffe.track.base import Tracker
from goturn_caffe.track.reference import StaticTracker
from goturn_caffe.vot.experiment import EXPERIMENTS, run_sequence
from goturn_caffe.vot.protocol import (
    GroundTruth,
    frame_overlaps,
    perturb_region,
    run_supervised,
    trajectory_accuracy,
    valid_frames,
)
from goturn_caffe.vot.results import FAILED, INITIALIZED, SKIPPED, read_trajectory, trajectory_path

TRUTH = (10.0, 10.0, 20.0, 20.0)       # every frame's ground truth (a VOT rectangle)
IMAGE = (100, 100)


class ScriptedTracker(Tracker):
    """Reports the ground truth, except on scripted frames: ``"lost"`` = a box far
    away (overlap 0), ``"half"`` = the left half of the target (overlap 200/400).
    Its "images" are the frame indices (see ``frame_index``)."""

    def __init__(self, script):
        self.script, self.inits = script, []

    def init(self, frame, box):
        self.inits.append((frame, box))

    def update(self, frame):
        action = self.script.get(frame)
        if action == "lost":
            return Box.from_xywh(60, 60, 20, 20)
        if action == "half":
            return Box.from_xywh(10, 10, 10, 20)
        return Box.from_xywh(*TRUTH)


def frame_index(path):
    """The protocol's image reader for scripted runs: the frame's index."""
    return int(path.rsplit("/", 1)[1].split(".")[0])


def run_with_script(script, num_frames, regions=None):
    video = synthetic_video(regions or [TRUTH] * num_frames)
    tracker = ScriptedTracker(script)
    trajectory, _ = run_supervised(tracker, video, GroundTruth(video, IMAGE), read_image=frame_index)
    return trajectory, tracker


def test_failures_reinitialisation_and_burn_in_by_hand():
    # 40 frames; init 0; failure at 12 -> frames 13..16 skipped, re-init at 17;
    # "half" at 5 (in the burn-in: ignored) and at 30 (counts, overlap 0.5);
    # failure at 38 -> re-init at 43 would be past the end: 39 stays skipped.
    script = {5: "half", 12: "lost", 30: "half", 38: "lost"}
    trajectory, tracker = run_with_script(script, 40)
    codes = {i: e for i, e in enumerate(trajectory) if isinstance(e, int)}
    assert codes == {0: INITIALIZED, 12: FAILED, 13: SKIPPED, 14: SKIPPED, 15: SKIPPED,
                     16: SKIPPED, 17: INITIALIZED, 38: FAILED, 39: SKIPPED}
    assert [frame for frame, _ in tracker.inits] == [0, 17]
    assert all(box == Box.from_xywh(*TRUTH) for _, box in tracker.inits)
    assert trajectory[30] == (10.0, 10.0, 10.0, 20.0)

    valid = valid_frames(trajectory)
    # burn-in: frames 0..9 and 17..26 ignored; codes ignored
    assert np.flatnonzero(valid).tolist() == [10, 11] + list(range(27, 38))
    overlaps = frame_overlaps(trajectory, GroundTruth(synthetic_video([TRUTH] * 40), IMAGE))
    assert overlaps[5] == 0.5 and overlaps[30] == 0.5 and math.isnan(overlaps[12])
    # 13 valid frames: 12 with overlap 1, frame 30 with 0.5
    assert trajectory_accuracy(overlaps, valid) == pytest.approx((12 + 0.5) / 13)
    assert int(sum(isinstance(e, int) and e == FAILED for e in trajectory)) == 2


def test_failure_inside_burn_in_and_back_to_back_failures():
    # failure at 3, re-init at 8, failure at 9 -> re-init at 14; no valid frame
    # before 24: frames 24..29 are the only ones that count.
    trajectory, tracker = run_with_script({3: "lost", 9: "lost"}, 30)
    assert [frame for frame, _ in tracker.inits] == [0, 8, 14]
    assert [i for i, e in enumerate(trajectory) if e == INITIALIZED and isinstance(e, int)] == [0, 8, 14]
    assert [i for i, e in enumerate(trajectory) if e == FAILED and isinstance(e, int)] == [3, 9]
    assert np.flatnonzero(valid_frames(trajectory)).tolist() == list(range(24, 30))


def test_no_valid_frame_gives_zero_accuracy_like_the_toolkit():
    trajectory, _ = run_with_script({}, 8)                       # shorter than the burn-in
    overlaps = frame_overlaps(trajectory, GroundTruth(synthetic_video([TRUTH] * 8), IMAGE))
    assert trajectory_accuracy(overlaps, valid_frames(trajectory)) == 0.0


def test_frames_without_ground_truth_never_fail():
    regions = [TRUTH] * 5 + [None] * 3 + [TRUTH] * 4
    trajectory, _ = run_with_script({6: "lost"}, 12, regions)
    assert FAILED not in [e for e in trajectory if isinstance(e, int)]
    assert trajectory[6] == (60.0, 60.0, 20.0, 20.0)


def test_perturbation_bounds_and_reproducibility():
    region = (100.0, 50.0, 40.0, 20.0)                           # x, y, w, h
    corners = np.array([[100, 50], [140, 50], [140, 70], [100, 70]], dtype=float)
    centre, size = np.array([120.0, 60.0]), np.array([40.0, 20.0])
    rng = np.random.default_rng(0)
    for _ in range(200):
        moved = np.array(perturb_region(region, rng)).reshape(-1, 2)
        shift = moved.mean(axis=0) - centre                       # the transform keeps the centre
        assert np.all(np.abs(shift) <= 0.1 * size + 1e-9)
        # recover [[sx cos r, -sin r], [sin r, sy cos r]] from the corners
        transform = np.linalg.lstsq(corners - centre, moved - moved.mean(axis=0), rcond=None)[0].T
        angle = math.asin(transform[1, 0])
        assert abs(angle) <= 0.1 + 1e-9 and transform[0, 1] == pytest.approx(-transform[1, 0])
        scales = np.diag(transform) / math.cos(angle)
        assert np.all((scales >= 0.9 - 1e-9) & (scales <= 1.1 + 1e-9))
    first = perturb_region(region, np.random.default_rng(5))
    assert first == perturb_region(region, np.random.default_rng(5))
    assert first != perturb_region(region, np.random.default_rng(6))


def test_static_tracker_stops_after_three_identical_runs_and_resumes(tmp_path):
    regions = [(10.0 + 3 * i, 10.0, 20.0, 20.0) for i in range(30)]   # the target moves away
    video = synthetic_video(regions, name="moving")
    truth = GroundTruth(video, IMAGE)
    ran = run_sequence(StaticTracker(), "static", video, EXPERIMENTS["baseline"], tmp_path,
                       truth=truth, show_progress=False)
    assert ran == 3
    first = trajectory_path(tmp_path, "static", "baseline", "moving", 1)
    assert not trajectory_path(tmp_path, "static", "baseline", "moving", 4).exists()
    trajectory = read_trajectory(first)
    # 20 px box moving 3 px/frame: no pixel in common from frame 7 (x 31 > 29)
    assert trajectory[7] == FAILED and trajectory[12] == INITIALIZED
    assert run_sequence(StaticTracker(), "static", video, EXPERIMENTS["baseline"], tmp_path,
                        truth=truth, show_progress=False) == 0
    # region_noise: every repetition draws new initialisations, all 15 run
    assert run_sequence(StaticTracker(), "static", video, EXPERIMENTS["region_noise"], tmp_path,
                        truth=truth, show_progress=False) == 15


class CrashingTracker(StaticTracker):
    def __init__(self, crash_on_init: int):
        super().__init__()
        self.inits, self.crash_on_init = 0, crash_on_init

    def init(self, image, box):
        self.inits += 1
        if self.inits == self.crash_on_init:
            raise KeyboardInterrupt
        super().init(image, box)


def test_interrupted_run_keeps_finished_repetitions_only(tmp_path):
    regions = [(10.0 + 3 * i, 10.0, 20.0, 20.0) for i in range(30)]
    video = synthetic_video(regions, name="moving")
    truth = GroundTruth(video, IMAGE)
    with pytest.raises(KeyboardInterrupt):    # 3 inits per repetition: crash inside repetition 2
        run_sequence(CrashingTracker(5), "static", video, EXPERIMENTS["region_noise"], tmp_path,
                     truth=truth, show_progress=False)
    folder = tmp_path / "static" / "region_noise" / "moving"
    assert sorted(p.name for p in folder.iterdir()) == ["moving_001.txt", "moving_001_time.value"]
    finished = (folder / "moving_001.txt").read_text()
    assert run_sequence(StaticTracker(), "static", video, EXPERIMENTS["region_noise"], tmp_path,
                        truth=truth, show_progress=False) == 14
    assert (folder / "moving_001.txt").read_text() == finished
    # a resumed run draws what an uninterrupted one draws
    fresh = tmp_path / "fresh"
    run_sequence(StaticTracker(), "static", video, EXPERIMENTS["region_noise"], fresh,
                 truth=truth, show_progress=False)
    for repetition in (2, 15):
        assert trajectory_path(fresh, "static", "region_noise", "moving", repetition).read_text() == \
            trajectory_path(tmp_path, "static", "region_noise", "moving", repetition).read_text()
