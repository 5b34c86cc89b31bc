"""The one CLI error convention (goturn_caffe.cli): every tool in tools/ and
data_prep/, given a missing input file or a bad weights file, ends with exactly
one line on stderr, `<tool>: <message>` naming the file, exit status 2, no
traceback -- and writes no output file."""

import os
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

from goturn_caffe.cli import command, describe, prefixed

SAMPLE = REPO_ROOT / "data" / "sample"
SAMPLE_JPEG = SAMPLE / "vot" / "car" / "00000001.jpg"
MISSING = "/nonexistent/goturn-cli-test/input"


def tool_names() -> list:
    return sorted(f"{folder}/{path.name}" for folder in ("tools", "data_prep")
                  for path in (REPO_ROOT / folder).glob("*.py"))


# tool -> arguments that name the missing input MISSING ({out}: a fresh output folder)
MISSING_INPUT = {
    "tools/ablation.py": ["l2_loss", "--dataset", MISSING, "--output", "{out}"],
    "tools/benchmark.py": ["tracker", "--sequence", MISSING, "--no-opencv", "--json", "{out}/b.json"],
    "tools/demo.py": [MISSING],
    "tools/eval_ope.py": ["--dataset", MISSING, "--tracker", "static", "--output", "{out}"],
    "tools/eval_vot2014.py": ["--dataset", MISSING, "--output", "{out}"],
    "tools/export_onnx.py": ["--deploy", MISSING, "--output", "{out}/x.onnx"],
    "tools/fetch_models.py": ["caffenet", "--mirror", MISSING, "--cache", "{out}/cache",
                              "--models-dir", "{out}/models", "--no-progress"],
    "tools/make_init_weights.py": ["--caffenet", MISSING, "--output", "{out}/init.caffemodel"],
    "tools/track.py": [MISSING, "--output", "{out}/boxes.txt"],
    "tools/train.py": ["--lmdb", MISSING, "--output", "{out}", "--no-progress"],
    "tools/vot_trax.py": ["--tracker", "goturn", "--deploy", MISSING],
    "data_prep/build_lmdb.py": ["--alov", MISSING, "--no-det", "--output", "{out}/cache.lmdb"],
    "data_prep/download.py": ["extract", MISSING, "{out}/dest"],
    "data_prep/validate_dataset.py": ["--alov", MISSING, "--no-det"],
}

CAFFE_FIRST = {"tools/export_onnx.py", "tools/vot_trax.py"}

# tool -> arguments that give it the weights file {weights}
WEIGHTS = {
    "tools/benchmark.py": ["tracker", "--weights", "{weights}", "--targets", "1", "--no-opencv",
                           "--json", "{out}/b.json"],
    "tools/demo.py": ["--weights", "{weights}"],
    "tools/eval_vot2014.py": ["--tracker", "goturn", "--weights", "{weights}", "--dataset",
                              str(SAMPLE / "vot"), "--experiments", "baseline", "--no-efo",
                              "--output", "{out}"],
    "tools/eval_ope.py": ["--tracker", "goturn", "--weights", "{weights}", "--dataset",
                          str(SAMPLE / "vot"), "--output", "{out}"],
    "tools/export_onnx.py": ["--weights", "{weights}", "--output", "{out}/x.onnx"],
    "tools/make_init_weights.py": ["--caffenet", "{weights}", "--output", "{out}/init.caffemodel"],
    "tools/track.py": ["--weights", "{weights}", "--output", "{out}/boxes.txt"],
    "tools/train.py": ["--init", "{weights}", "--max-iter", "1", "--output", "{out}", "--no-progress"],
    "tools/vot_trax.py": ["--tracker", "goturn", "--weights", "{weights}"],
}


def run_tool(tool: str, args: list, out) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("GOTURN_CAFFE_TRACEBACK", None)
    args = [a.replace("{out}", str(out)) for a in args]
    return subprocess.run([sys.executable, str(REPO_ROOT / tool)] + args, capture_output=True,
                          text=True, cwd=REPO_ROOT, timeout=300, env=env, stdin=subprocess.DEVNULL)


def assert_one_line_error(proc, tool: str, named: str, out) -> None:
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert len(lines) == 1, proc.stderr[-3000:]
    assert lines[0].startswith(tool.split("/")[1] + ": ") and "Traceback" not in proc.stderr
    assert named in lines[0]
    written = [p for p in out.rglob("*") if p.is_file()] if out.exists() else []
    assert written == []


def test_every_tool_is_covered():
    assert sorted(MISSING_INPUT) == tool_names()
    assert set(WEIGHTS) <= set(MISSING_INPUT)


def caffe_available() -> bool:
    try:
        import caffe  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("tool", sorted(MISSING_INPUT))
def test_missing_input_file(tool, tmp_path):
    out = tmp_path / "out"
    proc = run_tool(tool, MISSING_INPUT[tool], out)
    # these two read the prototxt through pycaffe: without it, that is the one line
    named = "pycaffe" if tool in CAFFE_FIRST and not caffe_available() else MISSING
    assert_one_line_error(proc, tool, named, out)


def bad_weights(kind: str, folder):
    path = folder / f"bad_{kind}.caffemodel"
    if kind == "random bytes":
        path.write_bytes(bytes([0x8f, 0x13, 0xfe, 0x01, 0x77, 0x3c, 0xa5]))
    else:
        path.write_bytes(SAMPLE_JPEG.read_bytes())   # a JPEG renamed .caffemodel
    return path


@pytest.mark.parametrize("kind", ["random bytes", "jpeg"])
@pytest.mark.parametrize("tool", sorted(WEIGHTS))
def test_bad_weights_file(tool, kind, caffe, tmp_path):
    weights = bad_weights(kind, tmp_path)
    out = tmp_path / "out"
    args = [a.replace("{weights}", str(weights)) for a in WEIGHTS[tool]]
    assert_one_line_error(run_tool(tool, args, out), tool, weights.name, out)


# ---- the convention itself, in process ------------------------------------------


def test_expected_errors_are_one_line_and_bugs_keep_their_traceback(capsys, monkeypatch):
    from goturn_caffe.caffe_env import CaffeUnavailable

    monkeypatch.delenv("GOTURN_CAFFE_TRACEBACK", raising=False)

    def failing(error):
        @command(name="tool.py")
        def main(argv=None):
            raise error
        return main

    assert failing(ValueError("x.txt: bad\nsecond line"))() == 2
    assert capsys.readouterr().err == "tool.py: x.txt: bad; second line\n"
    assert failing(FileNotFoundError(2, "No such file or directory", "/a/b"))() == 2
    assert capsys.readouterr().err == "tool.py: /a/b: No such file or directory\n"
    assert failing(CaffeUnavailable("pycaffe is not importable"))() == 2
    assert capsys.readouterr().err == "tool.py: pycaffe is not importable\n"
    assert failing(KeyboardInterrupt("kept 3 boxes"))() == 130
    assert capsys.readouterr().err == "tool.py: interrupted: kept 3 boxes\n"
    # a missing third-party package is bad input; a broken import of ours is a bug
    assert describe(ModuleNotFoundError("No module named 'onnx'", name="onnx")).startswith(
        "No module named 'onnx'")
    for bug in (ModuleNotFoundError("x", name="goturn_caffe.nope"), KeyError("k"), TypeError("t")):
        with pytest.raises(type(bug)):
            failing(bug)()
    monkeypatch.setenv("GOTURN_CAFFE_TRACEBACK", "1")
    with pytest.raises(ValueError):
        failing(ValueError("shown with its traceback"))()


def test_prefixed_names_the_step():
    with pytest.raises(Exception, match="^net: bad engine$"):
        with prefixed("net"):
            raise ValueError("bad engine")
    with pytest.raises(KeyError):   # a bug passes through unchanged
        with prefixed("net"):
            raise KeyError("bug")
