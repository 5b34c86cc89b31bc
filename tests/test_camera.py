"""Live input (issue 15): the camera path tracks a video file like the file input
does; a camera faster than the tracker has its frames dropped and counted, never
queued; a camera that cannot be opened, or no first box, is one line."""

import gc
import os
import signal
import threading
import time
import weakref

import numpy as np
import pytest
from conftest import REPO_ROOT, load_tool
from vot_fixtures import write_car_excerpts, write_tiny_goturn

from goturn_caffe.track.app import open_input, track_input
from goturn_caffe.track.camera import (
    LatestFrameReader,
    camera_name,
    ctrl_c_stops,
    is_live_source,
    live_source,
    track_camera,
)
from goturn_caffe.track.goturn import BatchedTracker, GoturnTracker

SAMPLE_CAR = REPO_ROOT / "data" / "sample" / "vot" / "car"


@pytest.fixture(scope="module")
def car_video(tmp_path_factory):
    """The first 5 car frames as an MJPG .avi file."""
    import cv2

    folder = write_car_excerpts(tmp_path_factory.mktemp("vot"), SAMPLE_CAR, starts=(1,), frames=5)
    frames = [cv2.imread(str(p)) for p in sorted((folder / "car_1").glob("*.jpg"))]
    path = folder / "car5.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25,
                             (frames[0].shape[1], frames[0].shape[0]))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def test_a_video_file_through_the_camera_path_tracks_like_the_file_input(caffe, car_video,
                                                                         tmp_path):
    from goturn_caffe.model.net import load_net

    tiny = write_tiny_goturn(tmp_path / "net")
    as_file, as_camera = tmp_path / "file.txt", tmp_path / "camera.txt"
    track_input(GoturnTracker(load_net(*tiny)), open_input(car_video, "6,166,43,27"), as_file)
    summary = track_camera(str(car_video), [open_input(car_video, "6,166,43,27").box],
                           lambda: BatchedTracker(load_net(*tiny)), output=as_camera)
    lines = as_file.read_text().splitlines()
    assert len(lines) == 5 and len(set(lines)) > 1       # the boxes moved
    assert as_camera.read_text() == as_file.read_text()
    assert "0 of the 5 frames read were dropped" in summary


class FastCapture:
    """A fake camera: ``total`` distinct 0.3 MB frames, produced as fast as asked.
    Counts the frames still alive (referenced anywhere) and the most ever alive.

    With ``hold_after=k`` the camera produces k frames, then waits until the test
    sets :attr:`go`: a test can then know which frames exist when it reads,
    whatever the scheduler does with the reader thread on a busy machine."""

    def __init__(self, total: int, shape=(240, 320, 4), hold_after=None):
        self.total, self.shape, self.reads, self.alive, self.most_alive = total, shape, 0, 0, 0
        self.lock = threading.Lock()
        self.released = False
        self.hold_after, self.go = hold_after, threading.Event()

    def _gone(self):
        with self.lock:
            self.alive -= 1

    def read(self):
        if self.hold_after is not None and self.reads >= self.hold_after:
            assert self.go.wait(60), "the test never let the camera go on"
        if self.reads >= self.total:
            return False, None
        frame = np.full(self.shape, self.reads % 256, np.uint8)
        with self.lock:
            self.alive += 1
            self.most_alive = max(self.most_alive, self.alive)
        weakref.finalize(frame, self._gone)
        self.reads += 1
        return True, frame

    def release(self):
        self.released = True

    def get(self, prop):
        return 0.0     # no frame rate known, as for many cameras


def wait_for(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the reader thread made no progress"
        time.sleep(0.005)


def test_a_slow_consumer_drops_frames_instead_of_queueing_them():
    # The camera holds after its first frame until we have taken it: otherwise, on a
    # busy machine, the reader thread can run through all 400 frames before our
    # first read, which then gets the last frame and leaves nothing for the second.
    capture = FastCapture(total=400, hold_after=1)
    reader = LatestFrameReader(capture, drop=True).start()
    number, frame = reader.read()
    assert number == 0
    taken = [number]
    del frame
    capture.go.set()
    # Wait on the reader's own count (set once a frame is in its slot), not on the
    # capture's: the capture counts a frame before the reader has stored it.
    wait_for(lambda: reader.produced == capture.total)  # the camera ran far ahead of us
    number, frame = reader.read()
    assert number == capture.total - 1                 # the newest frame, not the next one
    assert frame[0, 0, 0] == (capture.total - 1) % 256
    taken.append(number)
    del frame
    assert reader.read() is None                       # the capture has ended
    gc.collect()
    assert reader.dropped == capture.total - len(taken) == 398
    assert reader.produced == capture.total
    assert capture.most_alive <= 3     # one waiting, one being read, one being tracked
    reader.close()
    assert capture.released


def test_the_last_frame_is_kept_when_the_stream_ends_before_anyone_reads():
    # What a busy machine can do to the test above: the camera runs out before the
    # first read.  The newest frame must still come out, then the end.
    capture = FastCapture(total=7)
    reader = LatestFrameReader(capture, drop=True).start()
    reader._thread.join(60)
    assert not reader._thread.is_alive()
    number, frame = reader.read()
    assert number == 6 and frame[0, 0, 0] == 6
    assert reader.read() is None
    assert reader.dropped == 6 and reader.produced == 7
    reader.close()


def test_a_slow_consumer_sees_increasing_frame_numbers_and_every_frame_is_counted():
    capture = FastCapture(total=120)
    taken = []
    with LatestFrameReader(capture, drop=True) as reader:
        for number, frame in reader:
            taken.append(number)
            del frame
            time.sleep(0.002)
        assert taken == sorted(set(taken)) and taken[-1] == 119
        assert len(taken) + reader.dropped == capture.total
    assert capture.most_alive <= 3


def test_a_file_is_read_through_the_reader_without_dropping():
    capture = FastCapture(total=50)
    with LatestFrameReader(capture, drop=False) as reader:
        numbers = [number for number, _ in reader]
    assert numbers == list(range(50)) and reader.dropped == 0


def test_ctrl_c_ends_a_live_run_the_normal_way():
    # The handler in force before (Python's default, or SIG_IGN where the test process
    # was started in the background by a shell) must be back afterwards.
    before = signal.getsignal(signal.SIGINT)
    seen = []
    with LatestFrameReader(FastCapture(10**9, shape=(4, 4, 3)), drop=True) as reader:
        with ctrl_c_stops(reader):
            for number, _ in reader:
                seen.append(number)
                if len(seen) == 3:
                    os.kill(os.getpid(), signal.SIGINT)   # the user presses Ctrl-C
    assert len(seen) == 3
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.parametrize("source, message", [
    ("9", "camera 9: cannot be opened"),
    ("rtsp://127.0.0.1:9/nothing", "rtsp://127.0.0.1:9/nothing: cannot be opened"),
])
def test_a_camera_that_cannot_be_opened_is_one_line(source, message, tmp_path, capfd):
    args = ["--camera", source, "--box", "10,10,20,20", "--output", str(tmp_path / "out.txt"),
            "--weights", str(tmp_path / "never_loaded.caffemodel")]
    assert load_tool("track").main(args) == 2
    err = capfd.readouterr().err     # capfd: OpenCV's own messages would show here too
    assert err.count("\n") == 1 and err.startswith("track.py: ") and message in err, err
    assert not (tmp_path / "out.txt").exists()


def test_a_live_input_needs_a_first_box(tmp_path, capsys):
    assert load_tool("track").main(["--camera", "0", "--output", str(tmp_path / "o.txt")]) == 2
    assert "give the first box with --box" in capsys.readouterr().err


def test_live_sources_and_their_names():
    assert is_live_source("rtsp://cam.local/stream") and is_live_source("/dev/video0")
    assert not is_live_source(str(SAMPLE_CAR)) and not is_live_source("clip.mp4")
    assert camera_name("0") == "camera0" and camera_name("/dev/video2") == "video2"
    assert camera_name("http://host:8080/live/feed.mjpg?x=1") == "feed"
    assert live_source("0", str(SAMPLE_CAR)) == "0" and live_source(None, str(SAMPLE_CAR)) is None
    assert live_source(None, "rtsp://cam.local/stream") == "rtsp://cam.local/stream"


def test_camera_outputs_are_checked_before_anything_runs(car_video, tmp_path, capsys):
    before = car_video.read_bytes()
    args = ["--camera", str(car_video), "--box", "6,166,43,27", "--csv", str(car_video),
            "--weights", str(tmp_path / "never_loaded.caffemodel")]
    assert load_tool("track").main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--csv would overwrite an input" in err
    assert car_video.read_bytes() == before
    assert not [p for p in car_video.parent.iterdir() if p.name.startswith(".")]


def test_a_slow_tracker_on_a_fast_camera_tracks_the_newest_frames(monkeypatch, tmp_path):
    """The whole live loop: each update waits until the camera has produced 5 more
    frames, so frames are dropped; every frame is either tracked or counted."""
    import goturn_caffe.track.camera as camera
    from goturn_caffe.geometry.boxes import Box
    from goturn_caffe.track.base import PerTargetTrackers, Tracker

    capture = FastCapture(total=60, shape=(120, 160, 3))
    monkeypatch.setattr(camera, "open_capture", lambda source: capture)
    seen = []

    class Slow(Tracker):
        def init(self, frame, box):
            self.box = box

        def update(self, frame):
            seen.append(int(frame[0, 0, 0]))
            wait_for(lambda: capture.reads >= min(capture.total, seen[-1] + 6))
            return self.box

    out, table = tmp_path / "boxes.txt", tmp_path / "boxes.csv"
    summary = track_camera("0", [Box.from_xywh(10, 10, 30, 20)], lambda: PerTargetTrackers(Slow),
                           output=out, csv_path=table)
    tracked = len(out.read_text().splitlines())
    dropped = int(summary.split("camera0: ")[-1].split(" of the ")[0])
    assert dropped > 0 and tracked + dropped == 60
    assert "of the 60 frames read were dropped" in summary
    assert seen == sorted(set(seen)) and all(b - a >= 5 for a, b in zip(seen, seen[1:-1]))
    numbers = [int(line.split(",")[0]) for line in table.read_text().splitlines()[1:]]
    assert numbers[1:] == seen          # the CSV's frame column: the camera's numbers
    assert capture.most_alive <= 4
