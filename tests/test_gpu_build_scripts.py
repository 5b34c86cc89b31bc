"""The CUDA side of the build scripts, checked without a GPU or nvcc: the patch
set on the real PyPI sources, the CUDA Makefile.config, the clear errors for a
missing CUDA piece, and which libraries the runtime pack leaves to the target."""

import ast
import os
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "caffe_build"))
import build_caffe  # noqa: E402
import pack_runtime  # noqa: E402
import patch_caffe  # noqa: E402

SOURCES = Path(os.environ.get("GOTURN_CAFFE_CACHE", Path.home() / ".cache" / "goturn-caffe")) / "sources"
SDIST = SOURCES / f"{build_caffe.PYPI_NAME}-{build_caffe.PYPI_VERSION}.tar.gz"
DEBIAN_ORIG = SOURCES / build_caffe.DEBIAN_ORIG
# Files of the patch set each tree lacks (the other tree's own layers).
ABSENT = {
    "pypi": {"src/caffe/layers/cudnn_deconv_layer.cpp"},
    "debian": {"src/caffe/layers/cudnn_bn_layer.cpp", "src/caffe/layers/proposal_layer.cu"}
    | {f"src/caffe/layers/{name}_layer.cpp"
       for name in ("hardsigmoid", "hardswish", "maxunpool", "pixelshuffle", "relu6", "upsample")},
}


def unpack_edited_files(tarball: Path, dest: Path) -> Path:
    """The files the patch set edits, from a source tarball (one top folder or none)."""
    wanted = {edit.path for edit in patch_caffe.EDITS}
    with tarfile.open(tarball) as tar:
        top = {m.name.split("/", 1)[0] for m in tar.getmembers()}
        strip = len(top) == 1  # an sdist's top folder
        members = [m for m in tar.getmembers()
                   if (m.name.split("/", 1)[-1] if strip else m.name) in wanted]
        build_caffe.extract_tar(tar, dest, members=members)
    return next(dest.iterdir()) if strip else dest


@pytest.fixture(params=["debian", "pypi"])
def edited_files(request, tmp_path) -> Path:
    """The files the patch set edits, unpacked from a pinned source tarball that
    `make caffe` cached (the Debian BVLC one here; the PyPI one where it was used)."""
    tarball = DEBIAN_ORIG if request.param == "debian" else SDIST
    if not tarball.exists():
        pytest.skip(f"{tarball} not downloaded (CAFFE_SOURCE={request.param} make caffe fetches it)")
    return unpack_edited_files(tarball, tmp_path)


@pytest.mark.parametrize("tree", ["pypi", "debian"])
def test_patch_set_applies_to_each_tree_and_not_twice(tree, tmp_path):
    tarball = SDIST if tree == "pypi" else DEBIAN_ORIG
    if not tarball.exists():
        pytest.skip(f"{tarball} not downloaded (CAFFE_SOURCE={tree} make caffe fetches it)")
    root = unpack_edited_files(tarball, tmp_path)
    optional = {edit.path for edit in patch_caffe.EDITS if edit.optional}
    assert ABSENT[tree] <= optional
    first = patch_caffe.patch_tree(root, log=lambda _: None)
    absent = {path for path, _, outcome in first if outcome == "file absent"}
    assert absent == ABSENT[tree]
    present = [outcome for path, _, outcome in first if path not in absent]
    assert all(o.startswith(("applied", "not needed")) for o in present)
    # one edit per tree is already upstream: BVLC's one-argument limit / the fork's INT_MAX
    assert sum(o.startswith("not needed") for o in present) == 1
    snapshot = {p: p.read_text() for p in root.rglob("*") if p.is_file()}
    second = patch_caffe.patch_tree(root, log=lambda _: None)
    assert [o for path, _, o in second if path not in absent] == \
        ["not needed (already in this tree)"] * len(present)
    assert {p: p.read_text() for p in snapshot} == snapshot
    for name in ("cudnn_conv_layer", "cudnn_deconv_layer"):
        cpp = root / f"src/caffe/layers/{name}.cpp"
        if cpp.exists():
            text = cpp.read_text()
            assert text.count("cudnnGetConvolutionForwardAlgorithm_v7(") == 1
            assert "size_t workspace_limit_bytes = GOTURN_CUDNN_WORKSPACE_LIMIT;" in text


def test_patched_cuda_sources(edited_files):
    patch_caffe.patch_tree(edited_files, log=lambda _: None)
    common = (edited_files / "src/caffe/common.cpp").read_text()
    assert "prop.clockRate" not in common and "cudaDevAttrClockRate" in common
    for cpp in ("src/caffe/layers/cudnn_softmax_layer.cpp", "src/caffe/layers/cudnn_bn_layer.cpp"):
        if (edited_files / cpp).exists():  # cudnn_bn: PyPI tree only
            assert "thrust/" not in (edited_files / cpp).read_text()  # compiled by g++, not nvcc


def test_pycaffe_io_needs_neither_scipy_nor_scikit_image_at_import(edited_files):
    patch_caffe.patch_tree(edited_files, log=lambda _: None)
    tree = ast.parse((edited_files / "python/caffe/io.py").read_text())
    top_level = {name.split(".")[0] for node in tree.body
                 for name in ([a.name for a in node.names] if isinstance(node, ast.Import) else
                              [node.module or ""] if isinstance(node, ast.ImportFrom) else [])}
    assert not top_level & {"scipy", "skimage"}
    functions = {node.name: ast.unparse(node) for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert "from scipy.ndimage import zoom" in functions["resize_image"]
    assert "from skimage.transform import resize" in functions["resize_image"]
    assert "import skimage.io" in functions["load_image"]


def test_cuda_makefile_config(tmp_path):
    py = {"include": "/py/include", "numpy_include": "/np/include", "version": "311", "libdir": "/py/lib"}
    cuda = {"cuda_home": "/opt/cuda", "arch": ["80", "90"], "cudnn": True, "workspace_mb": 1024}
    lines = build_caffe.makefile_config(py, cuda, None, tmp_path).splitlines()
    assert "CUDA_DIR := /opt/cuda" in lines
    assert ("CUDA_ARCH := -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 "
            "-gencode arch=compute_90,code=compute_90") in lines
    assert "COMMON_FLAGS := -DGOTURN_CUDNN_WORKSPACE_LIMIT=1073741824UL" in lines
    assert "USE_CUDNN := 1" in lines and "CPU_ONLY := 1" not in lines and "USE_NCCL := 1" not in lines
    nccl = build_caffe.makefile_config(py, dict(cuda, cudnn=False, nccl=True), None, tmp_path)
    assert "USE_NCCL := 1" in nccl.splitlines() and "USE_CUDNN := 1" not in nccl
    assert "CPU_ONLY := 1" in build_caffe.makefile_config(py, None, None, tmp_path).splitlines()


def write_fake_nvcc(path: Path, release: str) -> None:
    path.write_text("#!/bin/sh\necho 'nvcc: NVIDIA (R) Cuda compiler driver'\n"
                    f"echo 'Cuda compilation tools, release {release}, V{release}.88'\n")
    path.chmod(0o755)


@pytest.mark.parametrize("requested, release, local, expected", [
    (None, (12, 8), None, ["61", "75", "86", "89", "90"]),   # a CUDA 12 cross-build: Pascal..Hopper
    (None, (13, 0), None, ["75", "86", "89", "90"]),         # CUDA 13 has nothing below sm_75
    (None, (13, 0), "89", ["89"]),                           # the local GPU wins
    ("sm_61,86", (12, 4), "90", ["61", "86"]),               # CUDA_ARCH wins over both
    ("75 90", (13, 0), None, ["75", "90"]),
])
def test_cuda_architectures_follow_the_toolkit(requested, release, local, expected):
    assert build_caffe.cuda_archs(requested, release, local) == expected


@pytest.mark.parametrize("requested, release, message", [
    ("61", (13, 0), "CUDA 13.0 cannot build for sm_61: it supports sm_75 and newer; use CUDA 12"),
    ("sm_61 sm_70 90", (13, 1), "CUDA 13.1 cannot build for sm_61, sm_70: it supports sm_75"),
    ("35", (12, 8), "CUDA 12.8 cannot build for sm_35: it supports sm_50 and newer; use an older"),
    ("ampere", (12, 8), "CUDA_ARCH='ampere': give compute capabilities such as 61, 86 or sm_90"),
])
def test_an_architecture_the_toolkit_dropped_stops_in_one_line(requested, release, message):
    with pytest.raises(SystemExit) as stop:
        build_caffe.cuda_archs(requested, release, None)
    assert message in str(stop.value) and "\n" not in str(stop.value)


def test_the_toolkit_release_is_read_from_nvcc(tmp_path):
    write_fake_nvcc(tmp_path / "nvcc", "12.6")
    assert build_caffe.toolkit_version(str(tmp_path / "nvcc")) == (12, 6)
    (tmp_path / "nvcc").write_text("#!/bin/sh\necho hello\n")
    with pytest.raises(SystemExit, match="does not say its CUDA release"):
        build_caffe.toolkit_version(str(tmp_path / "nvcc"))


@pytest.fixture
def fake_cuda(tmp_path, monkeypatch):
    """A CUDA home with nvcc, cuBLAS/cuRAND headers and libraries, but no cuDNN or NCCL."""
    if any(os.path.exists(os.path.join(d, h)) for d in build_caffe.SYSTEM_INCLUDES
           for h in ("cudnn.h", "nccl.h")):
        pytest.skip("this machine has cuDNN/NCCL headers installed system-wide")
    home = tmp_path / "cuda"
    for rel in ("bin/nvcc", "include/cublas_v2.h", "include/curand.h",
                "lib64/libcudart.so", "lib64/libcublas.so", "lib64/libcurand.so"):
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).touch()
    write_fake_nvcc(home / "bin" / "nvcc", "13.0")
    for var in ("CPU_ONLY", "USE_CUDNN", "USE_NCCL", "CUDNN_WORKSPACE_MB", "CAFFE_DEPS_PREFIX",
                "CUDA_ARCH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("USE_CUDA", "1")
    monkeypatch.setenv("CUDA_HOME", str(home))
    monkeypatch.setenv("CUDA_ARCH", "sm_90")
    return home


def test_find_cuda_settings_and_clear_errors(fake_cuda, monkeypatch):
    cuda = build_caffe.find_cuda()
    assert cuda == {"cuda_home": str(fake_cuda), "arch": ["90"], "cudnn": False, "workspace_mb": 8}
    monkeypatch.setenv("USE_CUDNN", "1")
    with pytest.raises(SystemExit, match="USE_CUDNN=1 but cudnn.h is not found"):
        build_caffe.find_cuda()
    monkeypatch.setenv("USE_CUDNN", "0")
    monkeypatch.setenv("USE_NCCL", "1")
    with pytest.raises(SystemExit, match="USE_NCCL=1 but nccl.h is not found"):
        build_caffe.find_cuda()
    monkeypatch.delenv("USE_NCCL")
    monkeypatch.setenv("CUDNN_WORKSPACE_MB", "1e3")
    with pytest.raises(SystemExit, match="CUDNN_WORKSPACE_MB='1e3' is not a positive whole number"):
        build_caffe.find_cuda()
    monkeypatch.delenv("CUDNN_WORKSPACE_MB")
    (fake_cuda / "lib64" / "libcublas.so").unlink()
    if not any((Path(d) / "libcublas.so").exists() for d in build_caffe.library_dirs(None)):
        with pytest.raises(SystemExit, match=r"needs libcublas\.so"):
            build_caffe.find_cuda()


@pytest.mark.parametrize("name, supplied", [
    ("libc.so.6", True), ("ld-linux-x86-64.so.2", True), ("libstdc++.so.6", True),
    ("libgcc_s.so.1", True), ("libcudart.so.13", True), ("libcublasLt.so.13", True),
    ("libcudnn_cnn.so.9", True), ("libcurand.so.10", True), ("libnccl.so.2", True),
    ("libcrypt.so.1", False), ("libcurl.so.4", False), ("libglog.so.1", False),
    ("libpython3.11.so.1.0", False), ("libmpdec.so.3", False), ("libcublas_fake", False),
])
def test_runtime_pack_leaves_only_glibc_toolchain_and_cuda_to_the_target(name, supplied):
    assert bool(pack_runtime.TARGET_SUPPLIES.match(name)) is supplied


def test_runtime_python_launcher_runs_the_interpreter_from_libpython(tmp_path):
    import subprocess

    if not Path("/usr/include/python3.11/Python.h").exists():
        pytest.skip("libpython3.11-dev is not installed")
    launcher = tmp_path / "python3.11"
    pack_runtime.build_launcher(launcher)
    needed = pack_runtime.needed_names(launcher)
    assert "libpython3.11.so.1.0" in needed  # the interpreter is not linked in a second time
    assert launcher.stat().st_size < 100_000
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    out = subprocess.run([str(launcher), "-c", "import sys, json, ssl; print(sys.version_info[:2], "
                          "sys.argv[1:])", "a", "b"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(3, 11) ['a', 'b']"
    assert subprocess.run([str(launcher), "-c", "raise SystemExit(7)"], env=env).returncode == 7


def test_carry_budget_counts_the_tree_that_travels(tmp_path, capsys, monkeypatch):
    import subprocess

    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitignore").write_text(".device/\n")
    (repo / "tracked.bin").write_bytes(b"x" * 3000)
    (repo / ".device").mkdir()
    (repo / ".device" / "runtime.tar.xz").write_bytes(b"y" * 5000)  # ignored: carried, not sent
    subprocess.run(["git", "-C", str(repo), "add", "tracked.bin", ".gitignore"], check=True)
    (repo / "untracked.txt").write_bytes(b"z" * 200)  # untracked, not ignored: sent
    assert pack_runtime.travelling_tree_bytes(repo) == 3000 + 200 + len(".device/\n")
    monkeypatch.setattr(pack_runtime, "HERE", repo / "caffe_build")
    pack_runtime.report_carry_budget(repo / ".device" / "runtime.tar.xz")
    assert "of 64 MiB: fits" in capsys.readouterr().out
    monkeypatch.setattr(pack_runtime, "DEVICE_CARRY_LIMIT", 6000)
    pack_runtime.report_carry_budget(repo / ".device" / "runtime.tar.xz")
    assert "does NOT fit (try --no-plots)" in capsys.readouterr().out


def test_source_chain_prefers_official_code_and_stops_a_forced_choice(tmp_path, monkeypatch):
    tried = []

    def unreachable(name):
        return lambda cache: tried.append(name)  # None: could not fetch

    monkeypatch.setattr(build_caffe, "fetch_bvlc", unreachable("bvlc"))
    monkeypatch.setattr(build_caffe, "fetch_debian", unreachable("debian"))
    monkeypatch.setattr(build_caffe, "fetch_pypi", lambda cache, python: ("sdist", {"source": "pypi"}))
    monkeypatch.setenv("CAFFE_SOURCE", "auto")
    assert build_caffe.resolve_source(tmp_path, "python")[1]["source"] == "pypi"
    assert tried == ["bvlc", "debian"]
    monkeypatch.setattr(build_caffe, "fetch_debian", lambda cache: ("tarball", {"source": "debian"}))
    tried.clear()
    assert build_caffe.resolve_source(tmp_path, "python")[1]["source"] == "debian"
    assert tried == ["bvlc"]
    for forced, message in [("bvlc", "cannot fetch https://github.com/BVLC"),
                            ("debian", r"cannot fetch the caffe 1\.0\.0\+git20180821\.99bd997-8 source "
                                       "package through apt")]:
        monkeypatch.setattr(build_caffe, "fetch_debian", unreachable("debian"))
        monkeypatch.setenv("CAFFE_SOURCE", forced)
        with pytest.raises(SystemExit, match=message):
            build_caffe.resolve_source(tmp_path, "python")
