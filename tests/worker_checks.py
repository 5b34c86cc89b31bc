"""Checks shared by the --jobs tests of both evaluation tools (tests/test_vot_jobs.py
for eval_vot2014.py, tests/test_ope_runner.py for eval_ope.py): one BLAS thread count in
every tracking process, workers that die with their parent, SIGTERM in one line."""

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


DEADLINE_SECONDS = 60.0     # generous bounds on a busy machine; every wait polls


def wait_until(condition, what: str, deadline: float = DEADLINE_SECONDS):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {deadline:.0f} s: {what}")


def check_one_blas_thread_count(run, variable, expected, tmp_path, monkeypatch) -> None:
    """With OPENBLAS_NUM_THREADS ``variable`` (None: unset), ``run(jobs, tracker_factory,
    output)`` for jobs 1 and 2 tracks with ``expected`` BLAS threads in every process
    (also used by tests/test_ope_runner.py)."""
    from vot_fixtures import thread_probe_tracker

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    if variable is None:
        monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", variable)
    counts = {}         # OpenBLAS library -> the thread counts it tracked with, in any process
    for jobs in (1, 2):
        probes = tmp_path / f"probes{jobs}"
        probes.mkdir()
        run(jobs, partial(thread_probe_tracker, str(probes)), tmp_path / f"out{jobs}")
        seen = [json.loads(p.read_text()) for p in probes.glob("*.json")]
        assert 1 <= len(seen) <= jobs and all(seen), seen    # numpy's OpenBLAS at least
        for process in seen:
            for library, count in process.items():
                counts.setdefault(library, set()).add(count)
    # one count per library whatever the process (a build may cap what it accepts: OpenCV's)
    assert all(len(found) == 1 for found in counts.values()), counts
    assert max(count for found in counts.values() for count in found) == expected, counts


DRIVER = """
import functools, sys
sys.path[:0] = [{tests!r}]
from conftest import load_tool
from vot_fixtures import gated_tracker
from goturn_caffe.{package} import evaluate
evaluate.evaluate = functools.partial(evaluate.evaluate,
                                      tracker_factory=functools.partial(gated_tracker, {folder!r}))
sys.exit(load_tool({tool!r}).main(sys.argv[1:]))
"""


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie nobody reaped yet counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


@contextmanager
def gated_run(tool: str, package: str, args: list, jobs: int, folder: Path):
    """Start ``tools/<tool>.py args --jobs jobs`` with trackers that never finish (the
    ``goturn_caffe.<package>.evaluate`` it calls gets :func:`vot_fixtures.gated_tracker`);
    yield (process, pids of the processes tracking) once ``jobs`` of them track; kill
    whatever is left at the end (also used by tests/test_ope_runner.py)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc")
    folder.mkdir()
    driver = DRIVER.format(tests=str(REPO_ROOT / "tests"), package=package, folder=str(folder),
                           tool=tool)
    process = subprocess.Popen([sys.executable, "-c", driver, *args, "--jobs", str(jobs)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=REPO_ROOT)
    workers = []
    try:
        started = wait_until(lambda: len(list(folder.glob("started-*"))) == jobs and
                             list(folder.glob("started-*")), f"{jobs} process(es) tracking")
        workers = [int(p.name.split("-")[1]) for p in started]
        assert all(alive(pid) for pid in workers)
        yield process, workers
    finally:
        for pid in [process.pid, *workers]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        process.communicate()


def check_killed_parent_takes_its_workers(process, workers) -> None:
    assert process.pid not in workers           # they are workers, not the parent itself
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    wait_until(lambda: not any(alive(pid) for pid in workers), "workers gone after SIGKILL")


def check_sigterm_ends_with_one_line(process, workers, tool: str, output: Path) -> None:
    os.kill(process.pid, signal.SIGTERM)
    out, err = process.communicate(timeout=DEADLINE_SECONDS)
    assert process.returncode == 143, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"{tool}.py: terminated (SIGTERM)") and "rerun" in err
    wait_until(lambda: not any(alive(pid) for pid in workers), "workers gone after SIGTERM")
    assert not [p for p in output.rglob("*") if p.name.startswith(".")]   # no partial files
