"""tools/track.py against careless and hostile input (issue 17): outputs that would destroy
an input, a VOT folder with a missing frame, truncated JPEGs, absurd boxes, outputs that
cannot be written, a headless OpenCV, progress under a pipe, kill -9 while writing, and a
checkout with only the demonstration model.

The tool runs in process with a cheap tracker in place of the network (the checks all
happen before or around tracking, whatever tracker runs); every refusal asserts the one
line, exit status 2 and the inputs byte-identical afterwards."""

import hashlib
import importlib.util
import shutil
import signal
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import REPO_ROOT, load_tool

from goturn_caffe.datasets.base import SkipReport
from goturn_caffe.datasets.image_io import read_frame
from goturn_caffe.fileio import partial_owner, partial_path, partials_of
from goturn_caffe.geometry.boxes import Box
from goturn_caffe.track import app
from goturn_caffe.track.base import Tracker
from goturn_caffe.track.opencv import OpenCVGoturnTracker
from goturn_caffe.track.output import FLUSH_EVERY, FrameProgress, TrackWriter

SAMPLE_CAR = REPO_ROOT / "data" / "sample" / "vot" / "car"
TOOL = REPO_ROOT / "tools" / "track.py"


class ShiftTracker(Tracker):
    """Moves the box 1 px right per update and keeps every frame it is given."""

    def init(self, frame, box):
        self.box, self.frames = box, [frame]

    def update(self, frame):
        self.frames.append(frame)
        self.box = Box(self.box.x1 + 1, self.box.y1, self.box.x2 + 1, self.box.y2)
        return self.box


@pytest.fixture
def car(tmp_path):
    """The first 4 frames of the bundled car sequence, with their annotations."""
    folder = tmp_path / "car"
    folder.mkdir()
    for i in range(1, 5):
        shutil.copy(SAMPLE_CAR / f"{i:08d}.jpg", folder)
    for annotation in [SAMPLE_CAR / "groundtruth.txt"] + sorted(SAMPLE_CAR.glob("*.label")):
        lines = annotation.read_text().splitlines()[:4]
        (folder / annotation.name).write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture
def weights(tmp_path):
    path = tmp_path / "model.caffemodel"
    path.write_bytes(b"weights")   # never loaded: the tracker is replaced
    return path


@pytest.fixture
def track(monkeypatch, capsys, weights):
    """``track(*args) -> (status, stdout, stderr, tracker)``: tools/track.py's main in process
    with ShiftTracker for the network."""
    spec = importlib.util.spec_from_file_location("track_tool", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    built = []

    def build_tracker(*_, **__):
        built.append(ShiftTracker())
        return built[-1]

    monkeypatch.setattr(tool, "build_tracker", build_tracker)

    def run(*args):
        argv = [str(a) for a in args]
        if "--weights" not in argv:
            argv += ["--weights", str(weights)]
        status = tool.main(argv)
        out, err = capsys.readouterr()
        return status, out, err, built[-1] if built else None
    return run


def digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def assert_refused(result, *named):
    status, out, err, tracker = result
    assert status == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("track.py: ") and "Traceback" not in err
    for text in named:
        assert text in err, err
    assert tracker is None     # refused before the tracker was built, let alone ran


# ---- item 5: an output onto an input ------------------------------------------------------
@pytest.mark.parametrize("target", ["groundtruth.txt", "00000002.jpg", "occlusion.label", "weights"])
def test_an_output_onto_an_input_is_refused(track, car, weights, target, tmp_path):
    path = weights if target == "weights" else car / target
    before = digests(tmp_path)
    assert_refused(track(car, "--output", path), "would overwrite", path.name)
    link = tmp_path / "link.txt"
    link.symlink_to(path)
    for other in (car / ".." / "car" / path.name if target != "weights" else path, link):
        assert_refused(track(car, "--output", other), "would overwrite")  # resolved, not as text
    link.unlink()
    assert digests(tmp_path) == before


def test_save_video_onto_the_input_video_is_refused(track, tmp_path):
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(3):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    before = digests(tmp_path)
    assert_refused(track(video, "--box", "10,10,20,20", "--save-video", video,
                         "--output", tmp_path / "out.txt"), "clip.avi", "would overwrite")
    assert_refused(track(video, "--box", "10,10,20,20", "--output", tmp_path / "same.avi",
                         "--save-video", tmp_path / "same.avi"), "are the same file")
    assert digests(tmp_path) == before


# ---- item 6: a VOT folder with a missing frame --------------------------------------------
def test_a_vot_folder_with_a_missing_frame_is_refused(track, car, tmp_path):
    (car / "00000003.jpg").unlink()
    before = digests(tmp_path)
    assert_refused(track(car, "--output", tmp_path / "b.txt"), str(car),
                   "frame count mismatch: 4 lines in groundtruth.txt for 3 images")
    assert digests(tmp_path) == before


# ---- item 7: a truncated JPEG -------------------------------------------------------------
def test_read_frame_turns_a_truncated_jpeg_into_none_and_says_why(car):
    path = car / "00000003.jpg"
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    assert cv2.imread(str(path)).shape == (272, 640, 3)   # the trap: the top half, grey below
    problems = SkipReport()
    assert read_frame(car / "00000002.jpg", problems).shape == (272, 640, 3)
    assert read_frame(path, problems) is None
    assert problems.entries == [(str(path), "truncated JPEG: no end-of-image marker after the "
                                            "last scan")]


def test_a_truncated_frame_is_skipped_keeping_the_box_and_reported(track, car, tmp_path):
    data = (car / "00000003.jpg").read_bytes()
    (car / "00000003.jpg").write_bytes(data[:len(data) // 2])
    before = digests(car)
    status, out, err, tracker = track(car, "--output", tmp_path / "b.txt")
    assert status == 0, err
    assert "skipped 1 frame that could not be read (kept the last box): frames [2]: " \
           "00000003.jpg: truncated JPEG" in out
    lines = (tmp_path / "b.txt").read_text().splitlines()
    x = [float(line.split(",")[0]) for line in lines]
    assert x[1] == x[0] + 1 and x[2] == x[1] and x[3] == x[1] + 1   # frame 3 kept frame 2's box
    expected = [cv2.imread(str(car / f"{i:08d}.jpg")) for i in (1, 2, 4)]
    assert len(tracker.frames) == 3
    assert all(np.array_equal(a, b) for a, b in zip(tracker.frames, expected))
    assert digests(car) == before


# ---- absurd boxes, box errors naming the file, ground-truth problems shown -----------------
@pytest.mark.parametrize("box, message", [("0,0,1e9,1e9", "is more than 2 times the size of the "
                                                          "640x272 frame"),
                                          ("10,10,0,20", "has zero or negative size"),
                                          ("700,10,20,20", "lies outside the 640x272 frame")])
def test_a_box_the_frame_cannot_hold_is_refused_naming_the_frame(track, car, tmp_path, box, message):
    assert_refused(track(car, "--box", box, "--output", tmp_path / "b.txt"),
                   f"{car / '00000001.jpg'}: --box", message)
    assert not (tmp_path / "b.txt").exists() and not partial_path(tmp_path / "b.txt").exists()


def test_ground_truth_problems_are_shown(track, car, tmp_path):
    lines = (car / "groundtruth.txt").read_text().splitlines()
    lines[1] = "1,2,3"
    (car / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    status, out, err, _ = track(car, "--output", tmp_path / "b.txt")
    assert status == 0, err
    assert f"track.py: warning: {car / 'groundtruth.txt'}:2: bad annotation line: expected 4" in err


# ---- outputs checked before tracking ------------------------------------------------------
def test_unwritable_outputs_are_refused_before_tracking(track, car, tmp_path):
    (tmp_path / "folder").mkdir()
    before = digests(tmp_path)
    assert_refused(track(car, "--output", tmp_path / "folder"), "is a folder; --output takes a file")
    assert_refused(track(car, "--output", tmp_path / "b.txt", "--save-video", tmp_path / "v.xyz"),
                   "v.xyz: cannot write a .xyz video; use .mp4 or .avi")
    assert_refused(track(car, "--output", tmp_path / "b.txt", "--save-video", tmp_path / "folder"),
                   "is a folder; --save-video takes a file")
    assert digests(tmp_path) == before and not (tmp_path / "b.txt").exists()


def test_outputs_create_their_parent_folders(track, car, tmp_path):
    video = tmp_path / "new" / "deeper" / "v.avi"
    status, out, err, _ = track(car, "--output", tmp_path / "new" / "b.txt", "--save-video", video)
    assert status == 0, err
    capture = cv2.VideoCapture(str(video))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    capture.release()
    assert len((tmp_path / "new" / "b.txt").read_text().splitlines()) == 4
    assert sorted(p.name for p in (tmp_path / "new").rglob("*")) == ["b.txt", "deeper", "v.avi"]


@pytest.mark.parametrize("option", ["--show", "--select"])
def test_show_and_select_without_a_gui_say_so_in_one_line(track, car, tmp_path, monkeypatch, option):
    monkeypatch.setattr(cv2, "getBuildInformation", lambda: "  GUI:    NONE\n")
    assert_refused(track(car, option, "--output", tmp_path / "b.txt"),
                   f"{option} needs a window", "built without a GUI")
    assert not (tmp_path / "b.txt").exists()


# ---- progress, flushing, partials ---------------------------------------------------------
def test_progress_under_a_pipe_is_plain_lines(track, car, tmp_path):
    status, out, err, _ = track(car, "--output", tmp_path / "b.txt")
    assert status == 0
    progress = [line for line in err.splitlines() if "fps" in line]
    assert [line.split(",")[0] for line in progress] == [f"car: {i}/4 frames ({25 * i}%)"
                                                        for i in range(1, 5)]
    assert "\r" not in err and "\x1b" not in err
    assert out.startswith("car: 4 frames, mean IoU ") and "fps end to end" in out


def test_progress_lines_every_tenth_of_the_run():
    class Pipe(list):
        def write(self, text):
            self.append(text)

        def flush(self):
            pass

    stream = Pipe()
    meter = FrameProgress("seq", 25, stream)
    for _ in range(25):
        meter.update()
    assert [line.split(",")[0] for line in "".join(stream).splitlines()] == [
        "seq: 2/25 frames (8%)", "seq: 4/25 frames (16%)", "seq: 6/25 frames (24%)",
        "seq: 8/25 frames (32%)", "seq: 10/25 frames (40%)", "seq: 12/25 frames (48%)",
        "seq: 14/25 frames (56%)", "seq: 16/25 frames (64%)", "seq: 18/25 frames (72%)",
        "seq: 20/25 frames (80%)", "seq: 22/25 frames (88%)", "seq: 24/25 frames (96%)",
        "seq: 25/25 frames (100%)"]


KILLED_WRITER = """
import os, signal, sys
print(os.getpid(), flush=True)
from goturn_caffe.geometry.boxes import Box
from goturn_caffe.track.output import TrackWriter
writer = TrackWriter(sys.argv[1])
for i in range(int(sys.argv[2])):
    writer.add(i, None, Box.from_xywh(i, 2, 3, 4))
os.kill(os.getpid(), signal.SIGKILL)
"""


def run_pid(run) -> int:
    return int(run.stdout.split()[0])


def test_kill_9_leaves_the_boxes_so_far_readable_and_a_rerun_replaces_them(tmp_path):
    boxes = tmp_path / "b.txt"
    run = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(boxes), str(FLUSH_EVERY * 2 + 5)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == -signal.SIGKILL
    assert not boxes.exists()                          # never a half-written final file
    [left] = partials_of(boxes)                        # the killed run's own partial
    assert partial_owner(left) == run_pid(run) and left.suffix == ".txt"
    lines = left.read_text().splitlines()
    assert lines == [f"{i}.00,2.00,3.00,4.00" for i in range(FLUSH_EVERY * 2)]
    writer = TrackWriter(boxes)                        # the rerun deletes the dead run's partial
    assert not left.exists()
    writer.add(0, None, Box.from_xywh(7, 7, 7, 7))
    writer.close()
    assert boxes.read_text() == "7.00,7.00,7.00,7.00\n" and not partials_of(boxes)


# ---- which weights with none given --------------------------------------------------------
def test_default_weights_follow_the_one_model_order_and_say_so_for_the_demo(tmp_path):
    from goturn_caffe.model.net import DEMO_MODEL, MODELS_DIR, OPENCV_MODEL, TRAINED_MODEL
    from goturn_caffe.track.api import choose_model

    default, demo, opencv = (tmp_path / p.relative_to(MODELS_DIR)
                             for p in (TRAINED_MODEL, DEMO_MODEL, OPENCV_MODEL))
    with pytest.raises(ValueError, match=r"goturn.caffemodel: no such weights file; .*`make demo`"
                                         r".*`make model` for OpenCV's trained GOTURN"):
        app.tracking_model(models_dir=tmp_path)
    with pytest.raises(ValueError, match="`make model` downloads"):
        app.tracking_model(None, "opencv", models_dir=tmp_path)
    demo.parent.mkdir(parents=True, exist_ok=True)
    demo.write_bytes(b"demo")
    said = []
    chosen = app.tracking_model(log=said.append, models_dir=tmp_path)
    assert (chosen.weights, chosen.model_format) == (demo, "goturn")
    assert len(said) == 1 and "DEMONSTRATION model of `make demo`" in said[0]
    # OpenCV's model comes before the demonstration model, as for open_tracker() and the demo
    opencv.parent.mkdir(parents=True, exist_ok=True)
    opencv.write_bytes(b"opencv")
    chosen = app.tracking_model(log=said.append, models_dir=tmp_path)
    assert (chosen.weights, chosen.model_format) == (opencv, "opencv") and len(said) == 1
    assert chosen == choose_model(tmp_path)
    # ... unless the authors' layout is asked for
    assert app.tracking_model(None, "goturn", log=said.append, models_dir=tmp_path).weights == demo
    default.write_bytes(b"trained")
    assert app.tracking_model(log=said.append, models_dir=tmp_path).weights == default
    assert len(said) == 2
    given = app.tracking_model(tmp_path / "x", log=said.append)
    assert (given.weights, given.model_format) == (tmp_path / "x", "goturn")


def test_track_py_uses_opencvs_model_before_the_demonstration_model(tmp_path, monkeypatch, car,
                                                                     capsys):
    """The order of choose_model, through the tool itself: with models/opencv/ present and no
    trained model, track.py runs OpenCV's model in OpenCV's layout (it used the demo model)."""
    from goturn_caffe.model.net import DEMO_MODEL, MODELS_DIR, OPENCV_MODEL, TRAINED_MODEL
    from goturn_caffe.track import api

    monkeypatch.setattr(api, "MODELS_DIR", tmp_path / "models")    # a checkout's models/
    for name, model in [("TRAINED_MODEL", TRAINED_MODEL), ("DEMO_MODEL", DEMO_MODEL),
                        ("OPENCV_MODEL", OPENCV_MODEL)]:
        path = tmp_path / "models" / model.relative_to(MODELS_DIR)
        monkeypatch.setattr(api, name, path)
        if name != "TRAINED_MODEL":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"never loaded")
    tool = load_tool("track")
    built = []
    monkeypatch.setattr(tool, "build_tracker", lambda *a, **options: built.append(options) or ShiftTracker())
    assert tool.main([str(car), "--output", str(tmp_path / "b.txt")]) == 0, capsys.readouterr().err
    assert built[0]["weights"] == tmp_path / "models" / OPENCV_MODEL.relative_to(MODELS_DIR)
    assert built[0]["model_format"] == "opencv"
    assert api.choose_model().kind == "opencv"


# ---- OpenCV's loop never crashes on a collapsed box ---------------------------------------
class ConstantOpenCVNet:
    """Stands in for OpenCV's architecture: inputs data1/data2, a constant output."""

    def __init__(self, out):
        self.blobs = {name: type("Blob", (), {"data": np.zeros((1, 3, 227, 227), np.float32)})()
                      for name in ("data1", "data2")}
        self.out = np.asarray(out, np.float32)

    def forward(self):
        return {"out": self.out.reshape(1, 4)}


def test_opencv_loop_keeps_the_last_box_when_the_estimate_collapses():
    frame = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    # x1 == x2: a zero-width estimate, which cv2.TrackerGOTURN returns and then fails on
    tracker = OpenCVGoturnTracker(ConstantOpenCVNet([100, 50, 100, 150]))
    tracker.init(frame, Box.from_xywh(40, 30, 40, 20))
    for _ in range(3):
        assert tracker.update(frame).to_xywh() == (40, 30, 40, 20)
    # the middle half of the patch: OpenCV's box, as cv2 computes it
    tracker = OpenCVGoturnTracker(ConstantOpenCVNet([56.75, 56.75, 170.25, 170.25]))
    tracker.init(frame, Box.from_xywh(40, 30, 40, 20))
    assert tracker.update(frame).to_xywh() == (40, 30, 40, 20)
    # a box thinner than a pixel starts at 1 px, inside the frame
    tracker = OpenCVGoturnTracker(ConstantOpenCVNet([100, 50, 100, 150]))
    tracker.init(frame, Box(-5.5, 10, 0.1, 10.5))
    assert tracker.box == (0, 10, 1, 1)
    assert tracker.update(frame).to_xywh() == (0, 10, 1, 1)


# ---- issue 21: a video that ends before the frame count in its header -----------------------
def write_cut_avi(path, frames=12, keep=0.6):
    """An MJPG AVI of ``frames`` noise frames, cut to ``keep`` of its bytes (7 of 12 frames
    still decode; the header still counts 12)."""
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for _ in range(frames):
        writer.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    writer.release()
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    return path


def test_a_cut_off_video_says_which_frames_are_missing(track, tmp_path):
    video = write_cut_avi(tmp_path / "clip.avi")
    status, out, err, tracker = track(video, "--box", "10,10,20,20", "--output", tmp_path / "b.txt")
    assert status == 0, err       # the 7 boxes written are right: kept, and the gap said
    assert len((tmp_path / "b.txt").read_text().splitlines()) == 7 == len(tracker.frames)
    assert out.splitlines()[-1] == (f"{video}: the video ended after 7 of the 12 frames its header "
                                    "counts (a cut-off or damaged file): frames 7..11 could not be "
                                    "read and have no box")
    # several targets / a CSV (what `--csv` runs): the same line
    from goturn_caffe.track.base import PerTargetTrackers
    from goturn_caffe.track.multi import track_video_targets

    summary = track_video_targets(video, [Box.from_xywh(10, 10, 20, 20)] * 2,
                                  lambda: PerTargetTrackers(ShiftTracker), csv_path=tmp_path / "b.csv")
    assert len((tmp_path / "b.csv").read_text().splitlines()) == 1 + 2 * 7
    assert summary.splitlines()[-1].startswith(f"{video}: the video ended after 7 of the 12 frames")


def test_a_whole_video_says_nothing_about_missing_frames(track, tmp_path):
    video = write_cut_avi(tmp_path / "clip.avi", keep=1.0)
    status, out, err, _ = track(video, "--box", "10,10,20,20", "--output", tmp_path / "b.txt")
    assert status == 0, err
    assert len((tmp_path / "b.txt").read_text().splitlines()) == 12 and "ended after" not in out
