"""Checks for faults a reviewer planted that no other test caught (issue 21): the
user's own OPENBLAS_CORETYPE must win over pycaffe's probe, and the signed-rank test
of the VOT ranking must drop zero differences (Matlab's signrank; scipy's "wilcox").

The other planted faults of the issue are caught where their code is tested:
the ONNX cache and the deploy digest (test_onnx_backend.py), the per-pair seed and
an infinite loss (test_training_faults.py), a JPEG cut after an EXIF thumbnail
(test_truncated_jpeg.py)."""

import io
import math
import os
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "caffe_build"))
import patch_caffe  # noqa: E402

AVX2_CPU = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n"
AVX512_CPU = "processor\t: 0\nflags\t\t: fpu avx2 fma avx512f avx512bw avx512vl avx512dq avx512cd\n"


def run_pycaffe_check(monkeypatch, cpuinfo: str, openblas_core: str) -> list:
    """Run the OpenBLAS check pycaffe's __init__.py starts with, with /proc/cpuinfo
    reading ``cpuinfo``, no libcaffe loaded yet, and the OpenBLAS probe answering
    ``openblas_core``; returns the probe's calls."""
    import subprocess

    calls = []

    def probe(command, **kwargs):
        calls.append(kwargs.get("env", {}))
        return SimpleNamespace(returncode=0, stdout=openblas_core + "\n", stderr="")

    def fake_open(path, *args, **kwargs):
        if path == "/proc/cpuinfo":
            return io.StringIO(cpuinfo)
        if path == "/proc/self/maps":
            return io.StringIO("7f00-7f01 r-xp 0 0:0 0 /usr/lib/libopenblas.so.0\n")
        raise AssertionError(f"the check opened {path}")

    monkeypatch.setattr(subprocess, "run", probe)
    monkeypatch.setattr("os.path.exists", lambda path: path == "/proc/cpuinfo")
    exec(compile(patch_caffe.OPENBLAS_CORE_CHECK, "pycaffe/__init__.py", "exec"),
         {"open": fake_open, "__name__": "caffe"})
    return calls


def test_the_users_openblas_coretype_wins_over_the_probe(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Nehalem")
    calls = run_pycaffe_check(monkeypatch, AVX2_CPU, openblas_core="Prescott")
    assert os.environ["OPENBLAS_CORETYPE"] == "Nehalem"
    assert calls == []  # not even probed


@pytest.mark.parametrize("cpuinfo, openblas_core, expected", [
    (AVX2_CPU, "Prescott", "Haswell"),      # OpenBLAS would fall back to SSE3: named
    (AVX512_CPU, "Sandybridge", "SkylakeX"),
    (AVX2_CPU, "Haswell", None),            # OpenBLAS knows the CPU: left alone
])
def test_without_a_user_value_the_family_is_named_only_on_a_fallback(monkeypatch, cpuinfo,
                                                                    openblas_core, expected):
    # setenv first, so that monkeypatch records the variable's state and removes what
    # the check sets (a delenv of an absent variable records nothing, and the check's
    # value leaked into later tests: their worker processes then ran other kernels).
    monkeypatch.setenv("OPENBLAS_CORETYPE", "unset-by-the-test")
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    monkeypatch.setenv("OPENBLAS_VERBOSE", "2")
    calls = run_pycaffe_check(monkeypatch, cpuinfo, openblas_core)
    assert os.environ.get("OPENBLAS_CORETYPE") == expected
    (env,) = calls  # probed once, without the OPENBLAS_ settings of this process
    assert env.get("OPENBLAS_NUM_THREADS") == "1" and "OPENBLAS_VERBOSE" not in env


def test_zero_differences_are_dropped_from_the_signed_rank_test():
    """6 frames better by 0.01 .. 0.06 and 40 equal ones.  Zeros dropped, as Matlab's
    signrank does: all 6 remaining differences are positive, W+ = 21 of n = 6, and the
    normal approximation (scipy's, once zeros were present) gives z = (21 - 10.5) /
    sqrt(6 * 7 * 13 / 24) = 2.20, p = 0.028 < 0.05: the trackers differ.  Split
    between the signs instead, the 40 zeros would pull p to 0.12: no difference."""
    from goturn_caffe.vot.analysis import accuracy_differs

    z = (21 - 10.5) / math.sqrt(6 * 7 * 13 / 24)
    assert math.erfc(z / math.sqrt(2)) == pytest.approx(0.0277, abs=5e-4)
    second = np.linspace(0.3, 0.7, 46)
    first = second.copy()
    first[-6:] += np.arange(1, 7) * 0.01
    assert accuracy_differs(first, second)
    assert accuracy_differs(first[-6:], second[-6:])  # the same verdict without the zeros
    assert not accuracy_differs(second, second)
