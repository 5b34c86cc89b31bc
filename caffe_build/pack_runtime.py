#!/usr/bin/env python3
"""Pack a self-contained runtime for a CUDA Caffe build: Python 3.11, pycaffe, libraries, wheels.

    python caffe_build/pack_runtime.py --venv GPU_VENV [--out .device/goturn-runtime.tar.xz] [--check]
    # on the GPU machine (only a driver, CUDA and cuDNN; any Python or none), in the checkout:
    tar xJf .device/goturn-runtime.tar.xz -C /tmp && /tmp/goturn-runtime/run.sh python tools/...

The target needs no package manager, compiler or Python: everything above the
C library, libstdc++ and the CUDA libraries comes in the archive.

  goturn-runtime/run.sh    sets LD_LIBRARY_PATH, PYTHONHOME, PYTHONPATH and PATH, runs "$@"
  goturn-runtime/python/   python3.11 (python_launcher.c over Debian 12's libpython3.11.so)
                           and Debian 12's standard library (from the .debs)
  goturn-runtime/lib/      the shared libraries the build and that Python need (from the .debs)
  goturn-runtime/site/     cp311 wheels the toolkit imports at run time
  goturn-runtime/caffe/    the Caffe build (BUILD_INFO.json, pycaffe, libcaffe, caffe.bin),
                           laid out as in the build cache so `goturn_caffe.doctor` finds it
  goturn-runtime/bin/      python, python3, python3.11 and caffe
  goturn-runtime/MANIFEST.txt  the exact .debs and wheels inside

Which libraries go in is not a hand-kept list: it is the ``ldd`` closure of
libcaffe, _caffe.so, caffe.bin, python3.11 and its extension modules on this
machine (which must be the Debian 12 that built Caffe), less what the target
supplies.  Each library is then taken from its owning package, downloaded with
``apt-get download`` (the installed version, or Debian 12's current one where
the archive has moved on) and unpacked with ``dpkg -x``, so the archive holds
Debian's binaries, not local copies.  To keep the archive small (a GPU machine
reached through a size-limited upload gets the repository and the archive
together; the pack checks them against a 64 MiB budget), the wheels lose what
the toolkit never loads (SITE_DROP) and OpenCV shares Caffe's OpenBLAS.
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from build_caffe import extract_tar

HERE = Path(__file__).resolve().parent
TOP = "goturn-runtime"

# Supplied by the target machine, never packed.  glibc must match its own loader;
# its libstdc++/libgcc_s are newer than Debian 12's, and an older copy first on
# LD_LIBRARY_PATH would break the CUDA libraries built against the newer one.
TARGET_SUPPLIES = re.compile(
    r"^(ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libresolv|libutil|libanl|"
    r"libstdc\+\+|libgcc_s|"
    r"libcuda|libcudart|libcublas|libcublasLt|libcurand|libcudnn\w*|libnvrtc\w*|libnvJitLink|"
    r"libnccl)"
    r"\.so(\.|$)")

# Debian 12's standard library; the interpreter itself is python_launcher.c over libpython3.11.so.
PYTHON_PACKAGES = ["libpython3.11-minimal", "libpython3.11-stdlib"]
# Standard-library parts the toolkit never imports (tests, GUIs, the REPL's curses/readline).
STDLIB_DROP = re.compile(r"^(test|idlelib|tkinter|turtledemo|ensurepip|lib2to3|pydoc_data|sqlite3|"
                         r"__pycache__|sitecustomize\.py)$|"  # a link to /etc/python3.11, absent there
                         r"^(_curses|_curses_panel|readline|_dbm|_sqlite3|_tkinter)\.cpython")

# What goturn_caffe and pycaffe import at run time (tracker, training, its loss plot).
WHEELS = ["numpy==2.2.6", "protobuf==4.21.12", "six==1.17.0",
          "opencv-python-headless==4.12.0.88", "lmdb==1.7.5", "tqdm==4.67.1"]
# Parts of the wheels the toolkit never loads, relative to site/.  fontTools and
# the AFM/PDF core fonts only serve PDF/PS/SVG output (our plots are PNG through
# Agg); the Pillow modules are AVIF/WebP codecs, Tk, FreeType text and colour
# management; the rest are GUI/web backends and icons, OpenCV's face-detector
# cascades, numpy's SIMD test module and f2py.  Vendored libraries left
# unreferenced afterwards are dropped too (see prune_site).
SITE_DROP = ["fontTools", "fonttools-*.dist-info", "PIL/_avif.*", "PIL/_webp.*", "PIL/_imagingtk.*",
             "PIL/_imagingft.*", "PIL/_imagingcms.*", "matplotlib/mpl-data/sample_data",
             "matplotlib/mpl-data/fonts/afm", "matplotlib/mpl-data/fonts/pdfcorefonts",
             "matplotlib/mpl-data/images", "matplotlib/backends/web_backend",
             "matplotlib/backends/_tkagg.*", "cv2/data/*.xml", "numpy/_core/_simd.*", "numpy/f2py"]
# OpenCV's wheel bundles OpenBLAS 0.3.3 (37 MB) for a few cblas_*gemm and LAPACK
# calls; Caffe needs Debian's OpenBLAS anyway, which exports all of them.
SHARED_OPENBLAS = "opencv_python_headless.libs/libopenblas-r0-*.so"

PLOT_WHEELS = ["matplotlib==3.10.3", "contourpy==1.3.3", "cycler==0.12.1", "fonttools==4.68.0",
               "kiwisolver==1.5.1", "packaging==26.3", "pillow==13.0.0", "pyparsing==3.3.3",
               "python-dateutil==4.0.0"]

RUN_SH = r"""#!/usr/bin/env bash
# goturn-caffe runtime: runs "$@" with the packed Python 3.11, pycaffe and libraries.
#   cd <goturn-caffe checkout> && <this dir>/run.sh python tools/benchmark.py --gpu 0
# CUDA_HOME (default /usr/local/cuda) supplies libcudart, libcublas and libcurand;
# libcudnn comes from the loader's default path, CUDA_HOME/lib64, or CUDNN_LIB;
# libnccl (builds with USE_NCCL) likewise, or from NCCL_LIB.
# GOTURN_REPO (default: the current directory) puts its src/ on PYTHONPATH.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cuda=${CUDA_HOME:-/usr/local/cuda}
export LD_LIBRARY_PATH="$here/lib:$here/caffe/src/.build_release/lib:$cuda/lib64${CUDNN_LIB:+:$CUDNN_LIB}${NCCL_LIB:+:$NCCL_LIB}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PYTHONHOME="$here/python/usr"
export PYTHONNOUSERSITE=1
export PYTHONPATH="$here/caffe/src/python:$here/site:${GOTURN_REPO:-$PWD}/src${PYTHONPATH:+:$PYTHONPATH}"
export PATH="$here/bin:$PATH"
if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGS...]   e.g. $0 python -m goturn_caffe.doctor" >&2
  exit 2
fi
exec "$@"
"""


class PackError(SystemExit):
    def __init__(self, message: str):
        super().__init__(f"pack_runtime: {message}")


def log(message: str) -> None:
    print(f"[pack] {message}", flush=True)


def run(cmd: list[str], **kwargs) -> str:
    out = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if out.returncode:
        raise PackError(f"`{' '.join(cmd)}` failed: {(out.stderr or out.stdout).strip()[-400:]}")
    return out.stdout


# ------------------------------------------------------------ the closure --
def ldd(paths: list[Path], lib_path: list[str]) -> dict[str, str | None]:
    """``{soname: resolved path or None}`` over the transitive dependencies of ``paths``."""
    env = dict(os.environ, LD_LIBRARY_PATH=":".join(lib_path))
    found: dict[str, str | None] = {}
    for path in paths:
        out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env).stdout
        for name, target in re.findall(r"^\s*(\S+) => (.+?)(?: \(0x[0-9a-f]+\))?$", out, re.M):
            found[name] = None if target == "not found" else target
    return found


def owning_package(path: str) -> str:
    """The installed Debian package that ships ``path`` (usr-merge aware), as ``name=version``."""
    real = os.path.realpath(path)
    candidates = {path, real}
    for p in list(candidates):  # Debian 12 is usr-merged: /lib/x -> /usr/lib/x
        candidates.add(p[4:] if p.startswith("/usr/") else "/usr" + p)
    for candidate in sorted(candidates):
        out = subprocess.run(["dpkg-query", "-S", candidate], capture_output=True, text=True)
        if out.returncode == 0:
            arch_name = out.stdout.splitlines()[0].split(": ")[0].split(", ")[0]
            package = arch_name.split(":")[0]
            version = run(["dpkg-query", "-W", "-f=${Version}", arch_name]).strip()
            return f"{package}={version}"
    raise PackError(f"{path} belongs to no installed Debian package; pack on the Debian 12 "
                    "machine that built Caffe, with its build dependencies installed")


def download_debs(specs: list[str], scratch: Path) -> tuple[Path, list[str]]:
    """``apt-get download`` every ``name=version`` and ``dpkg -x`` it into one root.

    Where the installed version is no longer in the archive (a newer stable or
    security update replaced it), the candidate version is taken: Debian keeps
    sonames and ABI within a release.  Returns the root and the .deb file names.
    """
    debs, root = scratch / "debs", scratch / "root"
    debs.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    used = []
    for spec in specs:
        name, version = spec.split("=")
        pattern = f"{name}_{version.replace(':', '%3a')}_*.deb"  # apt's file name for an epoch
        if not list(debs.glob(pattern)):
            out = subprocess.run(["apt-get", "download", spec], cwd=debs, capture_output=True, text=True)
            if out.returncode:
                candidate = run(["apt-cache", "policy", name])
                version = re.search(r"Candidate: (\S+)", candidate).group(1)
                if version == "(none)":
                    raise PackError(f"apt-get download {spec} failed and {name} has no candidate "
                                    "version; run `apt-get update`")
                log(f"  {spec} is no longer downloadable; taking {name}={version}")
                pattern = f"{name}_{version.replace(':', '%3a')}_*.deb"
                if not list(debs.glob(pattern)):
                    run(["apt-get", "download", f"{name}={version}"], cwd=debs)
        (deb,) = debs.glob(pattern)
        run(["dpkg", "-x", str(deb), str(root)])
        used.append(deb.name)
    return root, used


def in_root(root: Path, path: str) -> Path:
    """``path`` of the live system inside the unpacked .debs (usr-merge aware, links followed)."""
    for candidate in (path, os.path.realpath(path)):
        for variant in (candidate, candidate[4:] if candidate.startswith("/usr/") else "/usr" + candidate):
            inside = root / variant.lstrip("/")
            if inside.exists():
                return inside.resolve()
    raise PackError(f"{path} is not in the downloaded .debs")


# --------------------------------------------------------------- packing --
def caffe_files(build: Path) -> list[Path]:
    """The parts of a build the runtime needs, relative to ``build``."""
    src = build / "src"
    files = [build / "BUILD_INFO.json", src / ".build_release" / "tools" / "caffe.bin"]
    files += sorted((src / ".build_release" / "lib").glob("libcaffe.so*"))
    # pycaffe without its tests and its ImageNet mean (ilsvrc_2012_mean.npy: GOTURN subtracts
    # a constant mean, see goturn_caffe.geometry.preprocess)
    files += [p for p in sorted((src / "python" / "caffe").rglob("*"))
              if p.is_file() and p.suffix != ".npy"
              and "test" not in p.relative_to(src).parts and "__pycache__" not in p.parts]
    return [f.relative_to(build) for f in files]


def copy_caffe(build: Path, dest: Path) -> list[Path]:
    """Copy the build's runtime parts into ``dest`` (ELF files stripped); returns those ELF files."""
    elves = []
    for rel in caffe_files(build):
        source, target = build / rel, dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
            continue
        shutil.copy2(source, target)
        if source.name == "caffe.bin" or source.name.endswith(".so") or ".so." in source.name:
            run(["strip", "--strip-unneeded", str(target)])
            elves.append(target)
    return elves


def build_launcher(target: Path) -> None:
    """``python_launcher.c`` linked against this machine's libpython3.11.so (the
    same Debian package's library goes into lib/), found at run time through an
    $ORIGIN rpath, so the packed python also starts without run.sh's LD_LIBRARY_PATH."""
    libpython = "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0"
    if not os.path.exists(libpython) or not os.path.exists("/usr/include/python3.11/Python.h"):
        raise PackError("libpython3.11-dev is not installed (needed to build the packed python "
                        "launcher): apt-get install libpython3.11-dev")
    run(["gcc", "-O2", "-s", "-I/usr/include/python3.11", str(HERE / "python_launcher.c"),
         "-o", str(target), libpython, "-Wl,-rpath,$ORIGIN/../../../lib"])


def copy_python(root: Path, dest: Path) -> list[Path]:
    """python3.11 (our launcher over libpython3.11.so) and Debian's standard library,
    as ``dest/usr/...``; returns its ELF files."""
    (dest / "usr" / "bin").mkdir(parents=True)
    build_launcher(dest / "usr/bin/python3.11")
    shutil.copytree(root / "usr/lib/python3.11", dest / "usr/lib/python3.11", symlinks=True,
                    ignore=lambda _dir, names: [n for n in names if STDLIB_DROP.match(n)])
    return [dest / "usr/bin/python3.11"] + sorted((dest / "usr/lib/python3.11/lib-dynload").glob("*.so"))


def install_wheels(python: str, pins: list[str], scratch: Path, dest: Path) -> None:
    wheels = scratch / "wheels"
    run([python, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
         "-d", str(wheels)] + pins)
    run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-compile", "--no-index",
         "--find-links", str(wheels), "--target", str(dest)] + pins)
    shutil.rmtree(dest / "bin", ignore_errors=True)  # console scripts point at the packing python


def needed_names(elf: Path) -> set[str]:
    return set(re.findall(r"\(NEEDED\).*\[(.+)\]", run(["readelf", "-d", str(elf)])))


def prune_site(site: Path, lib: Path) -> None:
    """Drop test suites, SITE_DROP and vendored libraries nothing loads any more;
    point OpenCV's OpenBLAS at the one in ``lib``."""
    doomed = [p for p in site.rglob("tests") if p.is_dir()]  # numpy ships its test suite
    doomed += [p for pattern in SITE_DROP for p in site.glob(pattern)]
    for path in doomed:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    for blas in site.glob(SHARED_OPENBLAS) if (lib / "libopenblas.so.0").exists() else []:
        blas.unlink()
        blas.symlink_to(os.path.relpath(lib / "libopenblas.so.0", blas.parent))
    for elf in [p for p in site.rglob("*.so*") if p.is_file() and not p.is_symlink()]:
        if ".debug_info" in run(["readelf", "-S", "-W", str(elf)]):  # some wheels ship DWARF
            run(["strip", "--strip-debug", str(elf)])
    vendored = {p.name: p for p in site.glob("*.libs/*") if not p.is_symlink()}
    while True:  # a vendored library stays only while some extension module or kept library needs it
        elves = [p for p in site.rglob("*.so*") if p.is_file() and not p.is_symlink()]
        wanted = set().union(*(needed_names(p) for p in elves))
        unused = [p for name, p in vendored.items() if name not in wanted and p.exists()]
        if not unused:
            return
        for path in unused:
            path.unlink()


def python_version(python: str) -> str:
    return run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).strip()


def build_dir_of(args) -> Path:
    if args.build:
        return Path(args.build).resolve()
    marker = Path(args.venv).resolve() / "goturn_caffe_build"
    if not marker.exists():
        raise PackError(f"{marker} is missing: build Caffe into that venv first "
                        "(caffe_build/build_caffe.py --venv ...) or pass --build")
    return Path(marker.read_text().strip())


def pack(args) -> Path:
    build = build_dir_of(args)
    info_path = build / "BUILD_INFO.json"
    if not info_path.exists():
        raise PackError(f"{build} holds no finished Caffe build (no BUILD_INFO.json)")
    info = json.loads(info_path.read_text())
    if not info["flags"].get("cuda"):
        log("note: this build is CPU-only; the runtime will run Caffe on the CPU")
    python = str(Path(args.venv).resolve() / "bin" / "python")
    if python_version(python) != "3.11":
        raise PackError(f"{python} is not Python 3.11, which the build and Debian's Boost.Python target")
    scratch = Path(args.scratch).resolve()
    scratch.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix="stage-", dir=scratch))
    out = Path(args.out).resolve()
    try:
        top = stage / TOP
        log(f"Caffe build {build.name}: {info['source']} {info['commit']}")
        caffe_elves = copy_caffe(build, top / "caffe")

        log("downloading Debian 12's Python 3.11 standard library; building the python launcher")
        py_specs = [f"{p}={run(['dpkg-query', '-W', '-f=${Version}', p]).strip()}"
                    for p in PYTHON_PACKAGES]
        root, _ = download_debs(py_specs, scratch)
        py_elves = copy_python(root, top / "python")

        cuda_dirs = [d for d in args.cuda_lib if os.path.isdir(d)]
        caffe_lib = str(top / "caffe/src/.build_release/lib")
        closure = ldd(caffe_elves + py_elves, [caffe_lib] + cuda_dirs)
        needed = {name: path for name, path in closure.items()
                  if not TARGET_SUPPLIES.match(name) and not name.startswith("libcaffe")}
        missing = sorted(name for name, path in needed.items() if path is None)
        if missing:
            raise PackError("unresolved libraries: " + ", ".join(missing))
        specs = sorted({owning_package(path) for path in needed.values()})
        log(f"downloading {len(specs)} Debian packages for {len(needed)} libraries")
        root, debs = download_debs(sorted(set(specs) | set(py_specs)), scratch)
        (top / "lib").mkdir()
        for name, path in sorted(needed.items()):
            shutil.copy2(in_root(root, path), top / "lib" / name)

        wheels = WHEELS + ([] if args.no_plots else PLOT_WHEELS)
        log(f"installing {len(wheels)} cp311 wheels")
        install_wheels(python, wheels, scratch, top / "site")
        prune_site(top / "site", top / "lib")

        (top / "bin").mkdir()
        for name in ("python", "python3", "python3.11"):
            (top / "bin" / name).symlink_to("../python/usr/bin/python3.11")
        (top / "bin" / "caffe").symlink_to("../caffe/src/.build_release/tools/caffe.bin")
        (top / "run.sh").write_text(RUN_SH)
        (top / "run.sh").chmod(0o755)
        (top / "MANIFEST.txt").write_text(
            f"goturn-caffe runtime for Caffe build {build.name} ({info['source']} {info['commit']}, "
            f"cuda={json.dumps(info['flags'].get('cuda'))})\n"
            "Debian 12 packages (apt-get download + dpkg -x):\n"
            + "".join(f"  {deb}\n" for deb in debs)
            + "libraries in lib/:\n" + "".join(f"  {n}\n" for n in sorted(needed))
            + "wheels in site/:\n" + "".join(f"  {w}\n" for w in wheels)
            + "supplied by the target: glibc, libstdc++, libgcc_s, the CUDA driver, "
              "cudart/cublas/curand (CUDA 13), cuDNN 9 and, for a USE_NCCL build, NCCL 2\n")

        size = sum(p.stat().st_size for p in top.rglob("*") if p.is_file() and not p.is_symlink())
        log(f"staged {size / 2**20:.0f} MiB; compressing (xz -{args.xz_level}e, x86 filter)")
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        # Mostly machine code: the x86 branch filter ahead of LZMA2 shrinks it by several MiB.
        # A dictionary beyond -9's 64 MiB lets similar libraries far apart share matches
        # (unpacking then needs that much memory).
        filters = [{"id": lzma.FILTER_X86},
                   {"id": lzma.FILTER_LZMA2, "preset": args.xz_level | lzma.PRESET_EXTREME,
                    "dict_size": 256 << 20}]
        with lzma.open(tmp, "wb", format=lzma.FORMAT_XZ, filters=filters) as xz, \
                tarfile.open(fileobj=xz, mode="w") as tar:
            tar.add(top, arcname=TOP)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    log(f"wrote {out}: {out.stat().st_size / 2**20:.1f} MiB")
    report_carry_budget(out)
    return out


# Upload budget of a remote GPU machine that receives the repository's working tree and
# the archive together (e.g. a batch or CI runner with a size limit per job): 64 MiB.
DEVICE_CARRY_LIMIT = 64 * 2**20


def travelling_tree_bytes(repo: Path) -> int:
    """Bytes of the working tree as a checkout sends it to a remote machine: tracked
    files and untracked files git does not ignore (ignored ones, such as .device/,
    are sent only when named)."""
    names = run(["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others",
                 "--exclude-standard"]).split("\0")
    return sum((repo / n).stat().st_size for n in names if n and (repo / n).is_file())


def report_carry_budget(archive: Path) -> None:
    """Say whether the archive and the working tree together fit the upload budget."""
    repo = HERE.parent
    try:
        tree = travelling_tree_bytes(repo)
    except PackError:
        return  # not a git checkout: no working tree to send beside the archive
    size = archive.stat().st_size
    total = tree + size
    verdict = "fits" if total <= DEVICE_CARRY_LIMIT else "does NOT fit (try --no-plots)"
    log(f"upload budget: working tree {tree / 2**20:.1f} MiB + archive {size / 2**20:.1f} MiB "
        f"= {total / 2**20:.1f} MiB of 64 MiB: {verdict}")


CHECK_CODE = r"""
import os, sys, tempfile
import numpy as np, cv2, google.protobuf, lmdb, tqdm, goturn_caffe
from goturn_caffe.caffe_env import import_caffe, caffe_has_gpu
caffe = import_caffe()
print(sys.executable, sys.version.split()[0], "numpy", np.__version__, "cv2", cv2.__version__,
      "protobuf", google.protobuf.__version__)
print("caffe", caffe.__file__, "| CUDA build:", caffe_has_gpu(caffe))
# OpenCV through the shared OpenBLAS: GEMM and a LAPACK solve against numpy
a = np.random.default_rng(0).random((8, 8)) + 8 * np.eye(8)
b = np.arange(8.0).reshape(8, 1)
assert np.allclose(cv2.gemm(a, a, 1, None, 0), a @ a)
assert np.allclose(a @ cv2.solve(a, b)[1], b)
# the data layer's workers are spawned with sys.executable: the packed launcher
import multiprocessing
with multiprocessing.get_context("spawn").Pool(1) as pool:
    assert pool.apply(os.getpid) != os.getpid()
print("spawned worker: ok")
with tempfile.TemporaryDirectory() as tmp:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        plt.plot([0, 1], [1, 0])
        plt.savefig(os.path.join(tmp, "p.png"))
        assert cv2.imread(os.path.join(tmp, "p.png")).shape[2] == 3
        print("matplotlib", matplotlib.__version__, "PNG through Agg: ok")
    except ImportError:
        print("matplotlib: not packed")
    # one CPU forward.  Without a GPU a CUDA build logs that cuBLAS is unavailable, and
    # its default convolution engine (cuDNN) cannot start: ask for Caffe's own.
    proto = os.path.join(tmp, "net.prototxt")
    with open(proto, "w") as f:
        f.write('input: "x" input_shape { dim: 1 dim: 3 dim: 5 dim: 5 } layer { name: "c" '
                'type: "Convolution" bottom: "x" top: "y" convolution_param { num_output: 2 '
                'kernel_size: 3 engine: CAFFE weight_filler { type: "constant" value: 1 } } }')
    caffe.set_mode_cpu()
    net = caffe.Net(proto, caffe.TEST)
    net.blobs["x"].data[...] = 1.0
    assert np.allclose(net.forward()["y"], 27.0)
    print("caffe CPU forward: ok")
"""


def check(archive: Path, repo: Path) -> None:
    """Unpack the archive and, with its own Python, import and exercise what the toolkit needs."""
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(archive) as tar:
            extract_tar(tar, Path(tmp))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        result = subprocess.run([f"{tmp}/{TOP}/run.sh", "python", "-c", CHECK_CODE], cwd=repo,
                                capture_output=True, text=True, env=env)
        print(result.stdout + result.stderr[-3000:], end="")
        if result.returncode:
            raise PackError(f"the unpacked runtime failed its check (exit {result.returncode})")
    log("check passed: the unpacked runtime runs numpy, OpenCV, pycaffe, goturn_caffe, "
        "spawned workers (and matplotlib where packed)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--venv", default=".venv",
                        help="Python 3.11 venv the Caffe build is linked into (its pip fetches the wheels)")
    parser.add_argument("--build", help="Caffe build directory <cache>/<key> (default: the venv's)")
    parser.add_argument("--out", default=str(HERE.parent / ".device" / "goturn-runtime.tar.xz"),
                        help="archive to write (default: .device/, which git ignores, ready to copy "
                             "to the GPU machine)")
    parser.add_argument("--scratch", default=str(Path.home() / ".cache" / "goturn-caffe" / "pack"),
                        help="where .debs and wheels are downloaded (kept for the next run)")
    parser.add_argument("--cuda-lib", nargs="*", default=["/usr/local/cuda/lib64"],
                        help="where this machine's CUDA libraries are, to resolve the build's "
                             "dependencies (they are not packed)")
    parser.add_argument("--no-plots", action="store_true",
                        help="leave out matplotlib and its dependencies (training then cannot "
                             "plot its loss curve)")
    parser.add_argument("--xz-level", type=int, default=9, choices=range(10), metavar="0-9")
    parser.add_argument("--check", action="store_true",
                        help="unpack the archive and import caffe etc. with it (needs this machine's "
                             "CUDA libraries through CUDA_HOME / CUDNN_LIB)")
    args = parser.parse_args(argv)
    archive = pack(args)
    if args.check:
        check(archive, HERE.parent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
