"""NCCL data parallelism (goturn_caffe.train.multi_gpu): the order of Caffe calls each
rank makes (BVLC's python/train.py protocol), device-list parsing, and the clear
errors on builds that cannot do it.  No GPU here: the calls are recorded on a
stand-in for the caffe module; a real NCCL run needs a GPU (docs/gpu.md)."""

import json
import subprocess
import sys
import types

import pytest
from conftest import REPO_ROOT

from goturn_caffe.caffe_env import CaffeUnavailable
from goturn_caffe.train import multi_gpu


class RecordingCaffe:
    """The parts of pycaffe a rank touches, recording each call in order."""

    def __init__(self, layer_wise_reduce=True, iteration=0):
        self.calls = []
        self.layer_wise_reduce, self.iteration = layer_wise_reduce, iteration
        caffe = self

        class NCCL:
            def __init__(self, solver, uid):
                caffe.calls.append(("NCCL", uid))

            def bcast(self):
                caffe.calls.append(("bcast",))

            @staticmethod
            def new_uid():
                return b"uid-bytes"

        self.NCCL = NCCL

    def __getattr__(self, name):  # set_device, set_mode_gpu, set_solver_count, ...
        return lambda *args: self.calls.append((name,) + args)

    def SGDSolver(self, path):
        calls, caffe = self.calls, self
        calls.append(("SGDSolver", path))
        source = types.SimpleNamespace(close=lambda: calls.append(("close data",)))
        net = types.SimpleNamespace(layers=[types.SimpleNamespace(batch_source=source)],
                                    after_backward=lambda f: calls.append(("after_backward",)))
        solver = types.SimpleNamespace(iter=caffe.iteration, net=net,
                                       param=types.SimpleNamespace(layer_wise_reduce=caffe.layer_wise_reduce))
        solver.add_callback = lambda f: calls.append(("add_callback",))
        solver.restore = lambda p: calls.append(("restore", p))
        solver.step = lambda n: calls.append(("step", n))
        return solver


def test_a_rank_sets_its_place_before_the_solver_then_joins_and_steps(monkeypatch):
    fake = RecordingCaffe(iteration=3)
    monkeypatch.setattr(multi_gpu, "import_caffe", lambda: fake)
    multi_gpu.run_rank("solver.prototxt", [4, 6], b"uid", 1, "snap.solverstate", 10)
    assert fake.calls == [
        ("set_device", 6), ("set_mode_gpu",), ("set_solver_count", 2), ("set_solver_rank", 1),
        ("set_multiprocess", True),              # before the solver: the data layer reads its rank
        ("SGDSolver", "solver.prototxt"), ("restore", "snap.solverstate"),
        ("NCCL", b"uid"), ("bcast",), ("add_callback",), ("after_backward",),
        ("step", 7),                             # from the restored iteration 3 to 10
        ("close data",)]


def test_without_layer_wise_reduce_gradients_are_reduced_once_per_step():
    fake = RecordingCaffe(layer_wise_reduce=False)
    solver = fake.SGDSolver("s")
    multi_gpu.connect(fake, solver, b"u")
    assert ("after_backward",) not in fake.calls and ("add_callback",) in fake.calls


@pytest.mark.parametrize("text, gpus", [("0", [0]), ("0,1", [0, 1]), ("3,1,2", [3, 1, 2])])
def test_gpu_lists(text, gpus):
    assert multi_gpu.parse_gpus(text) == gpus


@pytest.mark.parametrize("text", ["a", "0,0", "-1", "0,,1", ""])
def test_bad_gpu_lists(text):
    with pytest.raises(ValueError, match="--gpu"):
        multi_gpu.parse_gpus(text)


def test_a_failed_rank_is_noticed():
    alive, done, failed = (types.SimpleNamespace(exitcode=c) for c in (None, 0, -9))
    assert multi_gpu.failed_ranks({1: alive, 2: done, 3: failed}) == {3: -9}
    assert multi_gpu.failed_ranks({1: alive, 2: done}) == {}


def fake_build(tmp_path, cuda) -> types.SimpleNamespace:
    """A caffe module whose BUILD_INFO.json says ``cuda`` (see caffe_env.build_info)."""
    package = tmp_path / "key" / "src" / "python" / "caffe"
    package.mkdir(parents=True)
    (tmp_path / "key" / "BUILD_INFO.json").write_text(json.dumps({"flags": {"cuda": cuda}}))
    return types.SimpleNamespace(__file__=str(package / "__init__.py"))


def test_builds_that_cannot_train_on_several_gpus_say_why(tmp_path):
    with pytest.raises(CaffeUnavailable, match="CPU-only"):
        multi_gpu.check_multi_gpu(fake_build(tmp_path / "cpu", None))
    with pytest.raises(CaffeUnavailable, match="built with NCCL: CAFFE_SOURCE=debian USE_NCCL=1"):
        multi_gpu.check_multi_gpu(fake_build(tmp_path / "gpu", {"arch": ["90"]}))
    nccl_build = fake_build(tmp_path / "nccl", {"arch": ["90"], "nccl": True})
    nccl_build.NCCL = object
    multi_gpu.check_multi_gpu(nccl_build)


def test_train_tool_refuses_several_gpus_on_this_build_in_one_line(caffe, tmp_path):
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "tools" / "train.py"), "--gpu", "0,1",
                           "--max-iter", "1", "--output", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "NCCL training (several GPUs, or --nccl) needs a CUDA build" in proc.stderr
    assert not (tmp_path / "run" / "snapshots").exists()  # stopped before writing the run


def test_a_one_rank_nccl_group_is_requested_with_nccl(caffe, tmp_path):
    train_py = [sys.executable, str(REPO_ROOT / "tools" / "train.py"), "--max-iter", "1",
                "--output", str(tmp_path / "run")]
    proc = subprocess.run(train_py + ["--nccl"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stderr.strip() == \
        "train.py: training through NCCL (--nccl) needs the GPU(s) to use: --gpu ID"
    # with one GPU it takes the NCCL path, which this CPU-only build refuses by name
    proc = subprocess.run(train_py + ["--nccl", "--gpu", "0"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "NCCL training (several GPUs, or --nccl) needs a CUDA build" in proc.stderr
    assert not (tmp_path / "run" / "snapshots").exists()
