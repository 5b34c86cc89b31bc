"""Results files are never left half-written under their final names (issue 17).

Writers are interrupted for real: a child process whose file-size limit
(RLIMIT_FSIZE) makes a write fail midway, as a full disk does, and a child
killed with SIGKILL in the middle of tracking.  Afterwards every file under its
final name is either its old content or whole, and a rerun gives what an
uninterrupted run gives.
"""

import os
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


# ---- issue 21: --save-video through a partial file, checked before it is renamed ----------
TRACK_SETUP = f"""
from goturn_caffe.cli import command
from goturn_caffe.track.app import open_input, track_input
from goturn_caffe.track.reference import StaticTracker

@command(name="track.py")
def main(argv):
    boxes, video = argv
    print(track_input(StaticTracker(), open_input({str(SAMPLE_CAR)!r}), boxes,
                      save_video=video or None))
    return 0
"""


@pytest.mark.parametrize("suffix", [".avi", ".mp4"])
def test_a_video_cut_off_by_the_file_size_limit_fails_in_one_line_and_keeps_the_old_one(
        tmp_path, suffix):
    boxes, video = tmp_path / "car.txt", tmp_path / f"car{suffix}"
    video.write_bytes(b"the earlier, good video")
    # the boxes (60 short lines) fit under the limit, 60 frames of 640x272 video do not
    child = run_child(TRACK_SETUP, f"sys.exit(main([{str(boxes)!r}, {str(video)!r}]))",
                      limit=200_000)
    assert child.returncode == 2, child.stdout + child.stderr
    last = child.stderr.strip().splitlines()[-1]    # FFmpeg's own warnings may come before it
    assert last.startswith(f"track.py: {video}: the video could not be written completely (0 of "
                           "its 60 frames readable") and "Traceback" not in child.stderr, last
    assert last.endswith(f"the 60 boxes are in {boxes}")
    assert all(line.startswith("[") for line in child.stderr.splitlines()[:-1])   # OpenCV's log
    assert video.read_bytes() == b"the earlier, good video"
    assert len(boxes.read_text().splitlines()) == 60        # the boxes are good: kept
    assert not leftovers(tmp_path)


def test_a_boxes_file_past_the_file_size_limit_names_the_file_and_keeps_the_old_one(tmp_path):
    boxes = tmp_path / "car.txt"
    boxes.write_text("old boxes\n")
    child = run_child(TRACK_SETUP, f"sys.exit(main([{str(boxes)!r}, '']))", limit=100)
    assert child.returncode == 2, child.stdout + child.stderr
    assert child.stderr == f"track.py: {boxes}: File too large\n"    # was `[Errno 27] File too large`
    assert boxes.read_text() == "old boxes\n" and not leftovers(tmp_path)


def test_a_complete_video_is_renamed_with_every_frame(tmp_path):
    video = tmp_path / "car.mp4"
    child = run_child(TRACK_SETUP, f"sys.exit(main([{str(tmp_path / 'car.txt')!r}, {str(video)!r}]))")
    assert child.returncode == 0, child.stdout + child.stderr
    capture = cv2.VideoCapture(str(video))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 60
    capture.release()
    assert not leftovers(tmp_path)


def test_write_errors_without_a_file_name_name_the_file(tmp_path, monkeypatch):
    """A full disk (ENOSPC) or the size limit (EFBIG) fail a write() with no file name;
    the atomic writers put the one the user asked for in it."""
    import errno
    from pathlib import Path

    from goturn_caffe.cli import describe
    from goturn_caffe.fileio import errors_naming, write_json_atomic

    def full_disk(self, *_, **__):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full_disk)
    (tmp_path / "summary.json").write_bytes(b"{}")
    with pytest.raises(OSError) as raised:
        write_json_atomic(tmp_path / "summary.json", {"a": 1})
    assert describe(raised.value) == f"{tmp_path / 'summary.json'}: No space left on device"
    assert (tmp_path / "summary.json").read_bytes() == b"{}" and not leftovers(tmp_path)
    with pytest.raises(OSError) as raised, errors_naming("out.txt"):
        raise OSError(errno.EFBIG, "File too large")
    assert describe(raised.value) == "out.txt: File too large"
    with pytest.raises(OSError) as raised, errors_naming("out.txt"):   # already named: kept
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "input.jpg")
    assert describe(raised.value) == "input.jpg: No such file or directory"


# ---- issue 21: partial files are private to the process that writes them ------------------
WRITER_SETUP = """
from goturn_caffe.geometry.boxes import Box
from goturn_caffe.track.output import TrackWriter
"""


def test_two_runs_onto_one_output_never_mix_their_lines(tmp_path):
    """Run A writes 20 boxes and waits; run B writes its 40 and finishes; then A writes 20
    more and finishes.  Before, both wrote one partial name: 42 lines and a broken one.  Now
    each run has its own partial, and the output is one run's boxes, whole."""
    from goturn_caffe.fileio import partial_owner
    from goturn_caffe.geometry.boxes import Box
    from goturn_caffe.track.output import TrackWriter

    boxes = tmp_path / "car.txt"
    script = "\n".join([f"sys.path.insert(0, {str(TESTS)!r})", WRITER_SETUP, f"""
writer = TrackWriter({str(boxes)!r})
for i in range(20):
    writer.add(i, None, Box.from_xywh(1, 1, 1, 1))
writer._boxes_file.flush()
print(writer._boxes_tmp, flush=True)
sys.stdin.readline()
for i in range(20, 40):
    writer.add(i, None, Box.from_xywh(1, 1, 1, 1))
writer.close()
"""])
    run_a = subprocess.Popen([sys.executable, "-c", "import sys\n" + script], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        partial_a = run_a.stdout.readline().strip()       # A is midway
        run_b = TrackWriter(boxes)
        assert str(run_b._boxes_tmp) != partial_a
        assert partial_owner(partial_a) == run_a.pid and partial_owner(run_b._boxes_tmp) == os.getpid()
        for i in range(40):
            run_b.add(i, None, Box.from_xywh(2, 2, 2, 2))
        run_b.close()
        assert boxes.read_text() == "2.00,2.00,2.00,2.00\n" * 40
        run_a.stdin.write("go\n")
        run_a.stdin.flush()
        assert run_a.wait(timeout=120) == 0
    finally:
        run_a.kill()
    assert boxes.read_text() == "1.00,1.00,1.00,1.00\n" * 40     # A finished last: whole
    assert not leftovers(tmp_path)


def test_partial_names_keep_the_suffix_and_only_dead_runs_partials_are_cleared(tmp_path):
    from goturn_caffe.fileio import (
        atomic_path,
        partial_path,
        partials_of,
        private_partial_path,
        remove_dead_partials,
        remove_stale_partials,
    )

    target = tmp_path / "car.mp4"
    mine, again = private_partial_path(target), private_partial_path(target)
    assert mine != again and mine.suffix == ".mp4" and mine.name.startswith(".car.partial.")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    crashed = tmp_path / f".car.partial.{dead}-0a1b2c3d.mp4"     # a run that ended long ago
    alive = tmp_path / f".car.partial.{os.getppid()}-0a1b2c3d.mp4"   # a run still going
    resumable = partial_path(target)                           # a download to resume
    for path in (crashed, alive, resumable):
        path.write_bytes(b"x")
    assert partials_of(target) == sorted([crashed, alive, resumable])
    assert remove_dead_partials(target) == [crashed]
    assert alive.exists() and resumable.exists()
    with atomic_path(tmp_path / "other.txt") as tmp:            # another target's partials stay
        tmp.write_text("y")
    assert alive.exists() and resumable.exists()
    assert remove_stale_partials(tmp_path) == [resumable] and alive.exists()
