"""tools/vot_trax.py under hostile input (issue 21): one line, exit status 2, no
traceback, a TraX quit for the client, and never a server that waits forever."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("trax")

REPO_ROOT = Path(__file__).resolve().parents[1]
TOOL = REPO_ROOT / "tools" / "vot_trax.py"
IMAGE = REPO_ROOT / "data" / "sample" / "vot" / "car" / "00000001.jpg"
DEADLINE_SECONDS = 60.0
INIT = '@@TRAX:initialize "6,166,43,27"\n'      # libtrax 4: the region, then its image
FRAME = f'@@TRAX:frame "file://{IMAGE}"\n'


def bad_inputs(tmp: Path) -> dict:
    """name -> (the client's whole input, what the one error line must say)."""
    text_file = tmp / "not_an_image.jpg"
    text_file.write_text("hello")
    truncated = tmp / "truncated.jpg"
    truncated.write_bytes(IMAGE.read_bytes()[:2000])
    frame = FRAME.replace
    return {
        "closed stdin": ("", "the TraX input ended without a quit message (after 0 line(s))"),
        "garbage line": ("garbage\n", "after 1 line(s), the last 'garbage'"),
        "binary": ("\x00\x01\x02\n", "the TraX input ended without a quit message"),
        "bare initialize": ("@@TRAX:initialize\n",
                            "line 1 of the TraX input ('@@TRAX:initialize'): an initialize "
                            "message needs the initial region"),
        "empty region": ('@@TRAX:initialize ""\n', "region '': expected 4"),
        "three numbers": ('@@TRAX:initialize "1,2,3"\n', "region '1,2,3': expected 4 (x,y,w,h)"),
        "not numbers": ('@@TRAX:initialize "a,b,c,d"\n', "region 'a,b,c,d': non-numeric"),
        "infinite": ('@@TRAX:initialize "1,2,inf,4"\n', "non-finite value"),
        "only an image": (f'@@TRAX:initialize "file://{IMAGE}"\n', "needs the initial region"),
        "bare frame": ("@@TRAX:frame\n", "the last '@@TRAX:frame'"),
        "bare hello": ("@@TRAX:hello\n", "libtrax kept waiting for the rest of a message"),
        "input ends inside initialize": (INIT, "libtrax kept waiting for the rest of a message"),
        "zero-size region": (INIT.replace("43", "0") + FRAME,
                             "TraX initial region (6.0, 166.0, 0.0, 27.0) has zero or negative size"),
        "region off the image": (INIT.replace("6,166", "900,900") + FRAME, "lies outside the"),
        "missing image": (INIT + frame(str(IMAGE), "/nonexistent/1.jpg"),
                          "/nonexistent/1.jpg: unreadable file"),
        "not an image": (INIT + frame(str(IMAGE), str(text_file)), f"{text_file}: "),
        "truncated image": (INIT + frame(str(IMAGE), str(truncated)), "truncated JPEG"),
        "frame after a missing image": (INIT + FRAME + frame(str(IMAGE), "/nonexistent/2.jpg"),
                                        "/nonexistent/2.jpg"),
        "no quit at the end": (INIT + FRAME + FRAME, "the TraX input ended without a quit message"),
    }


def start(stdin=subprocess.PIPE):
    return subprocess.Popen([sys.executable, str(TOOL), "--tracker", "kcf"], stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT)


def test_every_bad_input_ends_in_one_line(tmp_path):
    cases = bad_inputs(tmp_path)
    running = {}
    for name, (text, _) in cases.items():      # all at once: the slow ones wait in parallel
        process = start()
        process.stdin.write(text)
        process.stdin.close()
        running[name] = process
    failures = []
    for name, process in running.items():
        out = process.stdout.read()
        err = process.stderr.read()
        process.wait(timeout=DEADLINE_SECONDS)
        expected = cases[name][1]
        if (process.returncode != 2 or len(err.splitlines()) != 1 or "Traceback" in err
                or not err.startswith("vot_trax.py: ") or expected not in err
                or not out.splitlines()[-1].startswith('@@TRAX:quit "trax.reason=')):
            failures.append(f"{name}: rc {process.returncode}, stderr {err!r}, stdout {out[-200:]!r}")
    assert not failures, "\n".join(failures)


def test_a_bare_initialize_is_answered_while_the_client_waits():
    """Before: libtrax waited for the region forever and the client for an answer."""
    process = start()
    try:
        process.stdin.write("@@TRAX:initialize\n")
        process.stdin.flush()                    # the client keeps its end open, waiting
        end = time.monotonic() + DEADLINE_SECONDS
        while process.poll() is None and time.monotonic() < end:
            time.sleep(0.1)
        assert process.returncode == 2
        out, err = process.stdout.read(), process.stderr.read()
        assert out.splitlines()[-1].startswith('@@TRAX:quit "trax.reason=line 1 of the TraX input')
        assert err.splitlines() == ["vot_trax.py: line 1 of the TraX input ('@@TRAX:initialize'): "
                                    "an initialize message needs the initial region (x,y,w,h or "
                                    "a polygon)"]
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_a_good_session_still_answers_every_frame():
    process = start()
    out, err = process.communicate(INIT + FRAME + FRAME + "@@TRAX:quit\n", timeout=DEADLINE_SECONDS)
    assert process.returncode == 0, err
    states = [line for line in out.splitlines() if line.startswith("@@TRAX:state")]
    assert states == ['@@TRAX:state "6.0000,166.0000,43.0000,27.0000" '] * 2


@pytest.mark.parametrize("line, problem", [
    (b"@@TRAX:initialize", "needs the initial region"),
    (b'@@TRAX:initialize "file:///a.jpg" "trax.x=1"', "needs the initial region"),
    (b'@@TRAX:initialize "1,2,3"', "region '1,2,3': expected 4"),
    (b'@@TRAX:initialize "file:///a.jpg" "1,2,3,4"', None),
    (b'@@TRAX:initialize "1,2,3,4,5,6"', None),
    (b'@@TRAX:frame "file:///a.jpg"', None),
    (b"garbage", None)])
def test_initialize_problem(line, problem):
    from goturn_caffe.vot.trax_server import initialize_problem

    found = initialize_problem(line)
    assert (found is None) if problem is None else (problem in found)
