"""Results files are never left half-written under their final names (issue 17).

Writers are interrupted for real: a child process whose file-size limit
(RLIMIT_FSIZE) makes a write fail midway, as a full disk does, and a child
killed with SIGKILL in the middle of tracking.  Afterwards every file under its
final name is either its old content or whole, and a rerun gives what an
uninterrupted run gives.
"""

import signal
import subprocess
import sys
import textwrap

import cv2
import pytest
from conftest import REPO_ROOT
from vot_fixtures import synthetic_video

from goturn_caffe.fileio import is_partial
from goturn_caffe.track.app import open_input, track_input
from goturn_caffe.track.reference import StaticTracker
from goturn_caffe.vot.experiment import EXPERIMENTS, run_sequence
from goturn_caffe.vot.protocol import GroundTruth
from goturn_caffe.vot.results import read_trajectory, repetition_paths, times_path, trajectory_path

SAMPLE_CAR = REPO_ROOT / "data" / "sample" / "vot" / "car"
TESTS = REPO_ROOT / "tests"
FILE_SIZE_LIMIT = 4096  # bytes: a VOT times file of 300 frames fits, its trajectory does not
FRAMES = 300


def run_child(setup: str, body: str, limit=None) -> subprocess.CompletedProcess:
    """Run ``setup`` then ``body`` in a fresh interpreter; with ``limit``, no file may
    grow past ``limit`` bytes while ``body`` runs (a write past it fails with EFBIG).
    ``body`` ends the child with exit code 3 on an OSError."""
    script = "\n".join([
        "import resource, signal, sys",
        f"sys.path.insert(0, {str(TESTS)!r})",
        textwrap.dedent(setup),
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)",
        f"limit = {limit!r}",
        "if limit is not None:",
        "    resource.setrlimit(resource.RLIMIT_FSIZE,",
        "                       (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))",
        "try:",
        textwrap.indent(textwrap.dedent(body), "    "),
        "except OSError as exc:",
        "    print('interrupted:', exc)",
        "    sys.exit(3)",
    ])
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)


VOT_SETUP = f"""
from pathlib import Path
from vot_fixtures import synthetic_video
from goturn_caffe.track.reference import StaticTracker
from goturn_caffe.vot.experiment import EXPERIMENTS, run_sequence
from goturn_caffe.vot.protocol import GroundTruth
from goturn_caffe.vot.results import trajectory_path, write_trajectory
video = synthetic_video([(10.0, 10.0, 20.0, 20.0)] * {FRAMES}, name="still")
truth = GroundTruth(video, (100, 100))
"""


def static_run(root):
    video = synthetic_video([(10.0, 10.0, 20.0, 20.0)] * FRAMES, name="still")
    return run_sequence(StaticTracker(), "static", video, EXPERIMENTS["baseline"], root,
                        truth=GroundTruth(video, (100, 100)), show_progress=False)


def leftovers(root) -> list:
    return [p for p in root.rglob("*") if is_partial(p)]


def test_vot_run_interrupted_while_writing_a_trajectory_reruns_to_the_same_results(tmp_path):
    reference = tmp_path / "reference"
    assert static_run(reference) == 3
    expected = [p.read_text() for p in repetition_paths(reference, "static", "baseline", "still")]
    assert len(expected) == 3 and len(expected[0]) > FILE_SIZE_LIMIT
    assert times_path(repetition_paths(reference, "static", "baseline", "still")[0]).stat().st_size \
        < FILE_SIZE_LIMIT

    interrupted = tmp_path / "interrupted"
    child = run_child(VOT_SETUP, f"run_sequence(StaticTracker(), 'static', video, "
                                 f"EXPERIMENTS['baseline'], Path({str(interrupted)!r}), truth=truth, "
                                 f"show_progress=False)", limit=FILE_SIZE_LIMIT)
    assert child.returncode == 3, child.stdout + child.stderr  # the trajectory write failed
    first = trajectory_path(interrupted, "static", "baseline", "still", 1)
    assert not first.exists(), f"a half-written trajectory of {first.stat().st_size} bytes"
    assert not leftovers(interrupted)

    assert static_run(interrupted) == 3   # the rerun redoes the lost repetition
    got = [p.read_text() for p in repetition_paths(interrupted, "static", "baseline", "still")]
    assert got == expected
    assert len(read_trajectory(first)) == FRAMES


def test_an_interrupted_trajectory_write_keeps_the_old_files(tmp_path):
    path = trajectory_path(tmp_path, "static", "baseline", "still", 1)
    path.parent.mkdir(parents=True)
    path.write_text("1\n")
    times_path(path).write_text("0.5\n")
    trajectory = [1] + [(10.0, 10.0, 20.0, 20.0)] * (FRAMES - 1)
    for times in (None, [0.001] * FRAMES * 2):   # the trajectory, then the times file, too long
        child = run_child(VOT_SETUP, f"write_trajectory(Path({str(path)!r}), {trajectory!r}, {times!r})",
                          limit=FILE_SIZE_LIMIT)
        assert child.returncode == 3, child.stdout + child.stderr
        assert path.read_text() == "1\n"
        assert times_path(path).read_text() == "0.5\n"
        assert not leftovers(tmp_path)


class ProbeTracker(StaticTracker):
    """A static tracker that, at every frame, checks that the files under their
    final names still hold their old content; ``stop_at``: raise KeyboardInterrupt
    (Ctrl-C) at that update."""

    def __init__(self, finals: dict, stop_at=None):
        super().__init__()
        self.finals, self.stop_at, self.updates = finals, stop_at, 0

    def update(self, frame):
        self.updates += 1
        for path, old in self.finals.items():
            assert path.read_bytes() == old, f"{path.name} rewritten in place at update {self.updates}"
        if self.updates == self.stop_at:
            raise KeyboardInterrupt
        return super().update(frame)


def test_track_output_replaces_its_files_only_when_whole(tmp_path):
    boxes, video = tmp_path / "car.txt", tmp_path / "car.avi"
    finals = {boxes: b"old boxes\n", video: b"old video"}
    for path, old in finals.items():
        path.write_bytes(old)
    tracker = ProbeTracker(finals)
    track_input(tracker, open_input(SAMPLE_CAR), boxes, save_video=str(video))
    assert tracker.updates == 59
    lines = boxes.read_text().splitlines()
    assert len(lines) == 60 and all(len(line.split(",")) == 4 for line in lines)
    capture = cv2.VideoCapture(str(video))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 60
    capture.release()
    assert not leftovers(tmp_path)


def test_ctrl_c_keeps_only_whole_lines(tmp_path):
    boxes = tmp_path / "car.txt"
    with pytest.raises(KeyboardInterrupt):
        track_input(ProbeTracker({}, stop_at=20), open_input(SAMPLE_CAR), boxes)
    lines = boxes.read_text().splitlines()
    assert len(lines) == 20 and all(len(line.split(",")) == 4 for line in lines)
    assert not leftovers(tmp_path)


def test_sigkill_while_tracking_leaves_the_final_files_untouched(tmp_path):
    boxes, video = tmp_path / "car.txt", tmp_path / "car.avi"
    boxes.write_text("old boxes\n")
    video.write_bytes(b"old video")
    child = run_child("""
        import os
        from goturn_caffe.track.app import open_input, track_input
        from goturn_caffe.track.reference import StaticTracker

        class Killed(StaticTracker):
            updates = 0

            def update(self, frame):
                self.updates += 1
                if self.updates == 30:
                    os.kill(os.getpid(), signal.SIGKILL)
                return super().update(frame)
        """, f"track_input(Killed(), open_input({str(SAMPLE_CAR)!r}), {str(boxes)!r}, "
             f"save_video={str(video)!r})")
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr
    assert boxes.read_text() == "old boxes\n"
    assert video.read_bytes() == b"old video"
    # what was written so far is in the hidden partial file, which the next run replaces
    track_input(StaticTracker(), open_input(SAMPLE_CAR), boxes)
    assert len(boxes.read_text().splitlines()) == 60
    assert sorted(p.name for p in tmp_path.iterdir() if not is_partial(p)) == ["car.avi", "car.txt"]
    assert video.read_bytes() == b"old video"
