"""The VOT ground truth is checked once, in the reader, for every tracker (issue 21)."""

import subprocess
import sys
from pathlib import Path

import pytest
from vot_fixtures import polygon_line, square_frames, write_vot_sequence

from goturn_caffe.datasets.base import SkipReport
from goturn_caffe.datasets.image_io import DatasetError
from goturn_caffe.datasets.vot import load_vot, load_vot_sequence
from goturn_caffe.vot.protocol import run_supervised
from goturn_caffe.vot.results import FAILED, INITIALIZED, SKIPPED

REPO_ROOT = Path(__file__).resolve().parents[1]
TOOL = REPO_ROOT / "tools" / "eval_vot2014.py"

# the square_frames images are 96 x 72
BAD_FIRST_REGIONS = [
    ("10,20,0,20", "has zero or negative size (x,y,w,h 10,20,0,20)"),
    ("10,20,-5,20", "has zero or negative size (x,y,w,h 10,20,-5,20)"),
    ("10,20,20,0", "has zero or negative size"),
    ("10,20,30,20,30,20,10,20", "has zero or negative size (x,y,w,h 10,20,20,0)"),   # flat polygon
    ("500,500,20,20", "lies wholly outside the 96x72 image (x,y,w,h 500,500,20,20)"),
    ("-40,10,30,20", "lies wholly outside the 96x72 image"),
    ("95.5,10,20,20", "covers less than one pixel of the 96x72 image (x,y,w,h 95.5,10,20,20)"),
    ("10,20,0.5,20", "covers less than one pixel"),
    ("1,2,3", "bad first region: expected 4 (x,y,w,h) or an even number"),
    ("nan,nan,nan,nan", "bad first region: non-finite value"),
]


def sequence_with_first_line(root: Path, first: str, name: str = "seq", frames: int = 6) -> Path:
    images, regions = square_frames(frames)
    lines = [first] + [polygon_line(r) for r in regions[1:]]
    return write_vot_sequence(root, name, images, lines, "vot2014")


@pytest.mark.parametrize("first, reason", BAD_FIRST_REGIONS)
def test_a_first_region_no_tracker_can_start_from_is_refused_naming_the_line(first, reason, tmp_path):
    folder = sequence_with_first_line(tmp_path, first)
    with pytest.raises(DatasetError) as refused:
        load_vot_sequence(folder)
    assert refused.value.source == f"{folder / 'groundtruth.txt'}:1"
    assert reason in refused.value.reason and "line 1" in refused.value.reason
    report = SkipReport()      # a dataset skips the sequence with that reason ...
    assert load_vot(tmp_path, report=report) == []
    assert report.entries == [(refused.value.source, refused.value.reason)]
    with pytest.raises(DatasetError, match="groundtruth.txt:1: bad first region"):
        load_vot(tmp_path, strict=True)             # ... an evaluation stops on it


@pytest.mark.parametrize("trackers", ["static", "kcf", "csrt", "static,kcf,csrt"])
def test_eval_refuses_it_in_one_line_for_every_tracker(trackers, tmp_path):
    """Before: static and KCF scored a failure on frame 1 with no word, KCF and CSRT
    crashed with an OpenCV assertion traceback, goturn named no file."""
    sequence_with_first_line(tmp_path / "vot", "10,20,0,20", name="flat")
    images, regions = square_frames(6)
    write_vot_sequence(tmp_path / "vot", "good", images, [polygon_line(r) for r in regions])
    (tmp_path / "vot" / "list.txt").write_text("good\nflat\n")
    output = tmp_path / "out"
    completed = subprocess.run(
        [sys.executable, str(TOOL), "--tracker", trackers, "--dataset", str(tmp_path / "vot"),
         "--output", str(output), "--experiments", "baseline", "--no-efo"],
        capture_output=True, text=True, cwd=REPO_ROOT)
    assert completed.returncode == 2, completed.stderr
    expected = (f"eval_vot2014.py: {tmp_path / 'vot' / 'flat' / 'groundtruth.txt'}:1: bad first "
                "region: the region has zero or negative size (x,y,w,h 10,20,0,20)")
    assert completed.stderr.startswith(expected), completed.stderr
    assert len(completed.stderr.splitlines()) == 1 and "Traceback" not in completed.stderr
    assert not output.exists()


def test_later_unusable_lines_leave_their_frame_unannotated(tmp_path):
    images, regions = square_frames(8)
    lines = [polygon_line(r) for r in regions]
    lines[2] = "40,30,0,10"                  # zero width
    lines[3] = "200,20,20,20"                # wholly right of the 96-pixel-wide image
    lines[4] = "nan,nan,nan,nan"             # VOT long-term's "target absent"
    lines[5] = "90,60,20,20"                 # sticks out, still covers some of the image: kept
    folder = write_vot_sequence(tmp_path, "seq", images, lines, "vot2014")
    report = SkipReport()
    video = load_vot_sequence(folder, report)
    assert [f.region is None for f in video.frames] == [False, False, True, True, True, False,
                                                        False, False]
    assert [f.box is None for f in video.frames] == [f.region is None for f in video.frames]
    where = {w: r for w, r in report.entries}
    truth = folder / "groundtruth.txt"
    assert where[f"{truth}:3"].startswith("unusable region: it has zero or negative size")
    assert where[f"{truth}:4"].startswith("unusable region: it lies wholly outside the 96x72")
    assert where[f"{truth}:5"].startswith("bad annotation line: non-finite")
    assert len(report) == 3


class CheckingStatic:
    """A static box that refuses to start from a box no real tracker could (as KCF and
    CSRT crash on one), so the protocol must never re-initialise from such a frame."""

    uses_images = False
    last_timing = None

    def init(self, frame, box):
        assert box.is_valid(), box
        self.box = box

    def update(self, frame):
        return self.box


def test_the_protocol_never_restarts_a_tracker_on_an_unusable_frame(tmp_path):
    """The static box loses the 20-pixel square, moving 2 pixels a frame, on frame 10;
    the restart is due 5 frames later, on frame 15, whose region has zero size, so it
    happens on frame 16."""
    from goturn_caffe.vot.experiment import ground_truth

    images, regions = square_frames(20)
    lines = [polygon_line(r) for r in regions]
    lines[15] = "40,20,0,20"
    video = load_vot_sequence(write_vot_sequence(tmp_path, "seq", images, lines, "vot2014"))
    trajectory, _ = run_supervised(CheckingStatic(), video, ground_truth(video))
    assert trajectory[10] == FAILED
    assert trajectory[11:16] == [SKIPPED] * 5 and trajectory[16] == INITIALIZED


@pytest.mark.parametrize("name", ["kcf", "csrt"])
@pytest.mark.parametrize("xywh", [
    (10, 10, 1, 1), (10, 10, 1, 30),        # 1 px wide: CSRT's resize assertion
    (157, 10, 10, 10),                      # 3 px inside the right edge: the same
    (-3, 0, 1, 1), (200, 200, 5, 5),        # wholly outside: CSRT crashed the process
    (0, 0, 1, 1), (159, 119, 1, 1),
])
def test_opencv_trackers_start_from_any_restart_box_without_crashing(name, xywh):
    """A ground-truth box the loader accepts after frame 1 (barely inside the frame) can
    be a restart point of the VOT protocol: KCF and CSRT must start from it, in this
    process, and go on reporting boxes (run in a subprocess, since CSRT's failure on a
    box wholly outside the frame is a segmentation fault, not an exception)."""
    import subprocess
    import sys

    code = f"""
import numpy as np
from goturn_caffe.geometry.boxes import Box
from goturn_caffe.track.reference import OpenCVTracker, opencv_constructor
frame = (np.random.default_rng(0).random((120, 160, 3)) * 255).astype(np.uint8)
tracker = OpenCVTracker(opencv_constructor({name!r}))
tracker.init(frame, Box.from_xywh(*{xywh!r}))
boxes = [tracker.update(frame).to_xywh() for _ in range(3)]
print(all(w >= 1 and h >= 1 for _, _, w, h in boxes))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.strip() == "True"


def test_visible_rect_is_the_visible_part_grown_inside_the_frame():
    from goturn_caffe.track.reference import visible_rect, visible_sides

    assert visible_sides((157, 10, 10, 10), (120, 160)) == (3, 10)
    assert visible_rect((157, 10, 10, 10), (120, 160)) == (156, 10, 4, 10)
    assert visible_rect((10, 10, 1, 1), (120, 160)) == (8, 8, 4, 4)     # holds pixel 10
    assert visible_rect((-20, -20, 5, 5), (120, 160)) == (0, 0, 4, 4)
    assert visible_rect((300, 300, 5, 5), (120, 160)) == (156, 116, 4, 4)
    assert visible_rect((50, 60, 20, 30), (120, 160)) == (50, 60, 20, 30)   # a whole box: as it is
    assert visible_rect((0, 0, 1, 1), (3, 3)) == (0, 0, 3, 3)
