"""A full disk, a file-size limit or a full LMDB map while writing the training
cache (issue 21): one line naming the cache and the cause, exit status 2, no
traceback, the partial build kept to resume.  The disk is never really filled:
a file-size limit (RLIMIT_FSIZE) makes LMDB's writes fail, and a stubbed
shutil.disk_usage says how much room is left."""

import re
import subprocess
import sys

from conftest import REPO_ROOT
from dataset_fixtures import ann_line, make_alov_video

from goturn_caffe.datasets import lmdb_cache
from goturn_caffe.fileio import partial_path

BUILD = REPO_ROOT / "data_prep" / "build_lmdb.py"
# Runs the tool under a file-size limit, SIGXFSZ ignored so that a write past it
# fails (EFBIG) instead of killing the process; argv[1] is the free space to
# report, in bytes ("" to leave shutil.disk_usage alone).
UNDER_LIMIT = """
import resource, runpy, shutil, signal, sys
from collections import namedtuple
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))
if sys.argv[1]:
    free = int(sys.argv[1])
    usage = namedtuple("usage", "total used free")
    shutil.disk_usage = lambda path: usage(10 << 30, (10 << 30) - free, free)
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def alov_tree(root, frames: int = 40):
    """One video of ``frames`` 320x240 frames (about 1 MB of JPEGs in all)."""
    from dataset_fixtures import write_jpeg

    lines = [ann_line(i, 20, 20, 120, 100) for i in range(1, frames + 1)]
    make_alov_video(root, "01-Light", "01-Light_video00001", frames, lines)
    for i in range(1, frames + 1):
        write_jpeg(root / "imagedata++" / "01-Light" / "01-Light_video00001" / f"{i:08d}.jpg",
                   320, 240, seed=i)
    return root


def run_limited(tmp_path, free: str):
    out = tmp_path / "cache.lmdb"
    done = subprocess.run([sys.executable, "-c", UNDER_LIMIT, free, str(BUILD),
                           "--alov", str(alov_tree(tmp_path / "alov")), "--no-det",
                           "--output", str(out)], capture_output=True, text=True, timeout=300,
                          cwd=REPO_ROOT)
    return out, done


def assert_one_line(done, pattern):
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.strip().splitlines() if "%|" not in line]  # progress bars
    assert "Traceback" not in done.stderr and len(lines) == 1, done.stderr[-2000:]
    assert re.fullmatch(pattern, lines[0]), lines[0]


def test_a_full_disk_is_one_line_naming_the_cache(tmp_path):
    out, done = run_limited(tmp_path, free=str(5 << 20))
    assert_one_line(done, re.escape(f"build_lmdb.py: {out}: no space left on the disk (5 MiB free, "
                                    f"ENOSPC); free some space, then the partial build "
                                    f"{partial_path(out).name} is kept: run again to resume"))
    assert partial_path(out).is_dir() and not out.exists()


def test_a_file_size_limit_is_one_line_with_lmdbs_words(tmp_path):
    out, done = run_limited(tmp_path, free="")
    assert_one_line(done, re.escape(f"build_lmdb.py: {out}: cannot write the cache (LMDB: ")
                    + r"mdb_\w+: .+; a file-size limit or a failing disk\?\); the partial build "
                    + re.escape(f"{partial_path(out).name} is kept: run again to resume"))
    assert not out.exists()


def test_a_full_lmdb_map_is_named_as_such(tmp_path, monkeypatch, capsys):
    import runpy

    monkeypatch.setattr(lmdb_cache, "MAP_SIZE", 64 << 10)  # 64 KiB: the second image overflows it
    out = tmp_path / "cache.lmdb"
    main = runpy.run_path(str(BUILD))["main"]
    assert main(["--alov", str(alov_tree(tmp_path / "alov", frames=4)), "--no-det",
                 "--output", str(out)]) == 2
    lines = [line for line in capsys.readouterr().err.strip().splitlines() if "%|" not in line]
    assert lines == [f"build_lmdb.py: {out}: the LMDB map is full (MDB_MAP_FULL: the cache would "
                     f"pass the 64 KiB reserved for it); the partial build {partial_path(out).name} "
                     "is kept: run again to resume"]
    assert not out.exists()
