#!/usr/bin/env python3
"""Build Caffe (pycaffe + Python layers) from a pinned source into a cache.

    python caffe_build/build_caffe.py [--venv .venv] [--jobs N]

Source (``CAFFE_SOURCE``), all official BVLC code except the last resort:
  auto   BVLC at commit 9b89154 (git, content-addressed) when github is reachable,
         else debian, else (neither reachable) pypi
  bvlc   BVLC at 9b89154 only
  debian the BVLC tree at 99bd997 (2018-08-21) as Debian archives it: the upstream
         tarball caffe_1.0.0+git20180821.99bd997.orig.tar.gz, fetched with
         `apt-get source --download-only` through the mirrors of this machine's own
         apt sources (so a local mirror or proxy serves it too), sha256-pinned (the
         value in Debian's signed .dsc), with caffe::NCCL
  pypi   the PyPI sdist brocolli-caffe 9.0.2 (sha256-pinned), a 2016 fork of BVLC
         with extra layers and no NCCL
  a path an existing source tree
Build switches (environment):
  CPU_ONLY=1        force a CPU build even where nvcc exists
  CUDA_HOME         CUDA toolkit (default: the directory of the nvcc on PATH)
  CUDA_ARCH         e.g. "90" or "80 90" (default: the local GPU, else 90)
  USE_CUDNN=0|1     default 1 when cudnn.h is found
  CUDNN_WORKSPACE_MB  cuDNN workspace limit per convolution (default 8, Caffe's)
  USE_NCCL=1        multi-GPU training through NCCL (needs nccl.h/libnccl and a tree with
                    caffe::NCCL: the official BVLC one, CAFFE_SOURCE=bvlc or debian;
                    the PyPI tree has none)
  CAFFE_DEPS_PREFIX extra prefix holding unpacked .debs (include/, lib/)
  CAFFE_NATIVE=1    compile Caffe's C++ with -O3 -march=native: for this CPU only (the
                    build then runs nowhere older), so off by default; its own cache key
  GOTURN_CAFFE_CACHE  cache root (default ~/.cache/goturn-caffe)

The build lands in ``<cache>/<key>/`` where the key hashes the source
checksum, the patch set and the flags, so a second build is instant.  The
venv gets a ``.pth`` file pointing at that pycaffe, and ``bin/caffe``.
BUILD_INFO.json records source, checksum, flags and patches;
``python -m goturn_caffe.doctor`` prints it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import patch_caffe  # noqa: E402

BVLC_COMMIT = "9b891540183ddc834a02b2bd81b31afae71b2153"
BVLC_GIT = "https://github.com/BVLC/caffe.git"
PYPI_NAME, PYPI_VERSION = "brocolli-caffe", "9.0.2"
PYPI_SHA256 = "c6410cc60bdd6db685d441b66be7df05410f8850ac88d6b75d48ef9b2315c08a"
DEBIAN_PACKAGE, DEBIAN_UPSTREAM = "caffe", "1.0.0+git20180821.99bd997"
DEBIAN_VERSION = f"{DEBIAN_UPSTREAM}-8"  # the source package apt is asked for first
DEBIAN_ORIG = f"{DEBIAN_PACKAGE}_{DEBIAN_UPSTREAM}.orig.tar.gz"
# From caffe_1.0.0+git20180821.99bd997-8.dsc (Checksums-Sha256), signed by its uploader.
DEBIAN_SHA256 = "e0eb3f06794f7402c77b7dec8e8480273ee1a1bb192e9122b621a69d4147ad0c"
# Debian releases that ship that source package (it left Debian after bullseye): asked of
# each configured mirror besides the mirror's own suites.
DEBIAN_SUITES = ("bullseye",)

# header -> Debian package that provides it (what `make deps` installs)
REQUIRED_HEADERS = {
    "glog/logging.h": "libgoogle-glog-dev",
    "gflags/gflags.h": "libgflags-dev",
    "google/protobuf/message.h": "libprotobuf-dev",
    "boost/python.hpp": "libboost-python-dev",
    "boost/thread.hpp": "libboost-thread-dev",
    "boost/regex.hpp": "libboost-regex-dev",
    "hdf5.h": "libhdf5-dev",
    "lmdb.h": "liblmdb-dev",
    "leveldb/db.h": "libleveldb-dev",
    "snappy.h": "libsnappy-dev",
    "cblas.h": "libopenblas-dev",
}


class BuildError(SystemExit):
    def __init__(self, message: str):
        super().__init__(f"build_caffe: {message}")


def log(message: str) -> None:
    print(f"[caffe] {message}", flush=True)


# ---------------------------------------------------------------- config --
SYSTEM_INCLUDES = ["/usr/include", "/usr/include/x86_64-linux-gnu", "/usr/local/include"]


def include_dirs(prefix: str | None, system: bool = False) -> list[str]:
    """Extra -I directories (``system=True`` adds the compiler's defaults, for lookups)."""
    dirs = []
    if prefix:
        dirs += [f"{prefix}/include", f"{prefix}/usr/include",
                 f"{prefix}/usr/include/x86_64-linux-gnu", f"{prefix}/usr/include/hdf5/serial"]
    dirs.append("/usr/include/hdf5/serial")
    if system:  # never as -I: that breaks libstdc++'s #include_next
        dirs += SYSTEM_INCLUDES
    return [d for d in dirs if os.path.isdir(d)]


def library_dirs(prefix: str | None) -> list[str]:
    dirs = []
    if prefix:
        dirs += [f"{prefix}/lib", f"{prefix}/usr/lib", f"{prefix}/usr/lib/x86_64-linux-gnu",
                 f"{prefix}/usr/lib/x86_64-linux-gnu/hdf5/serial",
                 f"{prefix}/usr/lib/x86_64-linux-gnu/openblas-pthread"]
    dirs += ["/usr/lib/x86_64-linux-gnu/hdf5/serial", "/usr/lib/x86_64-linux-gnu", "/usr/lib",
             "/usr/local/lib"]
    return [d for d in dirs if os.path.isdir(d)]


def check_boost_python(prefix: str | None, version: str) -> None:
    """pycaffe links ``libboost_python<version>``: it must exist for the venv's Python
    (``version`` as ``311``), since a Boost.Python built for another Python fails at
    ``import caffe``."""
    name = f"libboost_python{version}.so"
    dirs = library_dirs(prefix)
    if any(os.path.exists(os.path.join(d, name)) for d in dirs):
        return
    found = sorted({f.name for d in dirs for f in Path(d).glob("libboost_python3*.so")})
    dotted = f"{version[0]}.{version[1:]}"
    raise BuildError(
        f"{name} not found: the venv's Python is {dotted}, but Boost.Python is installed for "
        + (", ".join(found) if found else "no Python (run `make deps`)")
        + "; remove .venv and run make without PYTHON= (it picks the Python Boost.Python was "
        "built for), or install Boost.Python for Python " + dotted)


def check_dependencies(prefix: str | None, python: str) -> None:
    dirs = include_dirs(prefix, system=True)
    missing = [f"{pkg} ({header})" for header, pkg in REQUIRED_HEADERS.items()
               if not any(os.path.exists(os.path.join(d, header)) for d in dirs)]
    if not shutil.which("protoc") and not (prefix and os.path.exists(f"{prefix}/usr/bin/protoc")):
        missing.append("protobuf-compiler (protoc)")
    py_inc = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['include'])"],
                            capture_output=True, text=True).stdout.strip()
    if not os.path.exists(os.path.join(py_inc, "Python.h")):
        missing.append(f"python3-dev (Python.h in {py_inc})")
    if missing:
        raise BuildError("missing build dependencies: " + ", ".join(missing) +
                         ". Run `make deps` (Debian/Ubuntu) or point CAFFE_DEPS_PREFIX at a "
                         "prefix holding them.")


def find_cuda() -> dict | None:
    """CUDA settings, or None for a CPU build.

    USE_CUDA=auto (default) builds for CUDA where nvcc exists and a GPU answers
    nvidia-smi; USE_CUDA=1 forces it (cross-building for a GPU machine);
    CPU_ONLY=1 or USE_CUDA=0 forces a CPU build.
    """
    mode = "0" if os.environ.get("CPU_ONLY") == "1" else os.environ.get("USE_CUDA", "auto")
    if mode == "0":
        return None
    cuda_home = os.environ.get("CUDA_HOME")
    nvcc = os.path.join(cuda_home, "bin", "nvcc") if cuda_home else shutil.which("nvcc")
    if not nvcc or not os.path.exists(nvcc):
        if mode == "1":
            raise BuildError("USE_CUDA=1 but no nvcc found (set CUDA_HOME)")
        return None
    if mode == "auto" and not local_gpu_arch():
        log(f"nvcc found ({nvcc}) but no GPU answers nvidia-smi: CPU-only build "
            "(USE_CUDA=1 builds for CUDA anyway)")
        return None
    cuda_home = cuda_home or str(Path(os.path.realpath(nvcc)).parent.parent)
    prefix = os.environ.get("CAFFE_DEPS_PREFIX")
    search = include_dirs(prefix, system=True) + [f"{cuda_home}/include"]
    for header in ("cublas_v2.h", "curand.h"):
        if not any(os.path.exists(os.path.join(d, header)) for d in search):
            raise BuildError(f"CUDA build needs {header} (cuBLAS/cuRAND development headers); "
                             "install them or put them under CAFFE_DEPS_PREFIX/include")
    archs = cuda_archs(os.environ.get("CUDA_ARCH"), toolkit_version(nvcc), local_gpu_arch())
    has_cudnn_h = any(os.path.exists(os.path.join(d, "cudnn.h")) for d in search)
    cudnn = os.environ.get("USE_CUDNN") or ("1" if has_cudnn_h else "0")
    if cudnn == "1" and not has_cudnn_h:
        raise BuildError("USE_CUDNN=1 but cudnn.h is not found; install cuDNN, put it under "
                         "CAFFE_DEPS_PREFIX/include, or build with USE_CUDNN=0")
    libs = ["cudart", "cublas", "curand"] + (["cudnn"] if cudnn == "1" else [])
    lib_search = library_dirs(prefix) + [f"{cuda_home}/lib64", f"{cuda_home}/lib"]
    missing = [f"lib{name}.so" for name in libs
               if not any(os.path.exists(os.path.join(d, f"lib{name}.so")) for d in lib_search)]
    if missing:
        raise BuildError(f"CUDA build needs {', '.join(missing)} (the plain, unversioned link) in "
                         f"{cuda_home}/lib64 or CAFFE_DEPS_PREFIX/lib; "
                         "caffe_build/stage_cuda_prefix.sh stages them from NVIDIA's wheels")
    nccl = os.environ.get("USE_NCCL") == "1"
    if nccl and not any(os.path.exists(os.path.join(d, "nccl.h")) for d in search):
        raise BuildError("USE_NCCL=1 but nccl.h is not found; install NCCL or put it under "
                         "CAFFE_DEPS_PREFIX (include/, lib/)")
    workspace_mb = os.environ.get("CUDNN_WORKSPACE_MB", "8")
    if not workspace_mb.isdigit() or int(workspace_mb) < 1:
        raise BuildError(f"CUDNN_WORKSPACE_MB={workspace_mb!r} is not a positive whole number")
    cuda = {"cuda_home": cuda_home, "arch": archs, "cudnn": cudnn == "1",
            "workspace_mb": int(workspace_mb)}
    if nccl:  # only when asked: keeps the cache keys of builds without it unchanged
        cuda["nccl"] = True
    return cuda


# What each CUDA major version compiles for (its lowest architecture), and the
# default set of a build with no GPU to ask: the cards in use that it supports
# (Pascal GTX 10xx, Turing RTX 20xx/T4, Ampere RTX 30xx, Ada RTX 40xx/L4, Hopper).
# CUDA 13 dropped every architecture below sm_75 (Maxwell, Pascal, Volta).
CUDA_TOOLKITS = {
    11: {"lowest": 35, "default": ["61", "75", "86"]},
    12: {"lowest": 50, "default": ["61", "75", "86", "89", "90"]},
    13: {"lowest": 75, "default": ["75", "86", "89", "90"]},
}


def toolkit_version(nvcc: str) -> tuple:
    """``(major, minor)`` of the toolkit that ``nvcc`` belongs to (``release 12.8``)."""
    out = subprocess.run([nvcc, "--version"], capture_output=True, text=True)
    found = re.search(r"release (\d+)\.(\d+)", out.stdout)
    if out.returncode or not found:
        raise BuildError(f"{nvcc} --version does not say its CUDA release; is it nvcc?")
    return int(found.group(1)), int(found.group(2))


def cuda_archs(requested: str | None, version: tuple, local: str | None) -> list:
    """The architectures to compile for: ``CUDA_ARCH`` (``"61 86"``, ``sm_90``, ``75,90``),
    else the local GPU's, else the toolkit's default set; one that the toolkit cannot
    build stops with one line that says which toolkit can."""
    major, minor = version
    known = CUDA_TOOLKITS.get(major)
    if requested:
        archs = requested.replace(",", " ").replace("sm_", "").split()
        bad = [a for a in archs if not a.isdigit()]
        if bad or not archs:
            raise BuildError(f"CUDA_ARCH={requested!r}: give compute capabilities such as 61, "
                             "86 or sm_90, separated by spaces or commas")
    elif local:
        archs = [local]
    elif known:
        archs = list(known["default"])
    else:
        archs = ["90"]
    lowest = known["lowest"] if known else (75 if major > 13 else 0)
    too_old = [a for a in archs if int(a) < lowest]
    if too_old:
        older = "CUDA 12" if lowest >= 75 else "an older CUDA"
        raise BuildError(f"CUDA {major}.{minor} cannot build for "
                         f"{', '.join('sm_' + a for a in too_old)}: it supports sm_{lowest} and "
                         f"newer; use {older} for that GPU (CUDA_HOME=<CUDA 12 toolkit>)")
    return archs


def local_gpu_arch() -> str | None:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None
    out = subprocess.run([smi, "--query-gpu=compute_cap", "--format=csv,noheader"],
                         capture_output=True, text=True)
    cap = out.stdout.strip().splitlines()
    return cap[0].replace(".", "") if out.returncode == 0 and cap else None


def python_config(python: str) -> dict:
    code = ("import sys, sysconfig, numpy; print(sysconfig.get_paths()['include']); "
            "print(numpy.get_include()); print('%d%d' % sys.version_info[:2]); "
            "print(sysconfig.get_config_var('LIBDIR'))")
    out = subprocess.run([python, "-c", code], capture_output=True, text=True)
    if out.returncode:
        raise BuildError(f"{python} cannot import numpy; create the venv first (`make venv`)")
    inc, np_inc, ver, libdir = out.stdout.split("\n")[:4]
    return {"include": inc, "numpy_include": np_inc, "version": ver, "libdir": libdir}


# ---------------------------------------------------------------- source --
def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_bvlc(cache: Path) -> tuple[Path, dict] | None:
    """Clone BVLC at the pinned commit; git verifies every object by its hash."""
    dest = cache / "sources" / f"bvlc-{BVLC_COMMIT[:12]}"
    if not (dest / ".git").exists():
        if not shutil.which("git"):
            return None
        tmp = Path(tempfile.mkdtemp(dir=cache / "sources"))
        env = dict(os.environ, GIT_TERMINAL_PROMPT="0")
        steps = [["git", "init", "-q", str(tmp)],
                 ["git", "-C", str(tmp), "fetch", "-q", "--depth", "1", BVLC_GIT, BVLC_COMMIT],
                 ["git", "-C", str(tmp), "checkout", "-q", "FETCH_HEAD"]]
        for step in steps:
            try:
                ok = subprocess.run(step, env=env, capture_output=True, timeout=300).returncode == 0
            except subprocess.TimeoutExpired:
                ok = False
            if not ok:
                shutil.rmtree(tmp, ignore_errors=True)
                return None
        tmp.rename(dest)
    head = subprocess.run(["git", "-C", str(dest), "rev-parse", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    if head != BVLC_COMMIT:
        raise BuildError(f"{dest} is at {head}, expected {BVLC_COMMIT}; delete it and rebuild")
    return dest, {"source": "bvlc", "commit": BVLC_COMMIT, "checksum": f"git:{BVLC_COMMIT}"}


def fetch_pypi(cache: Path, python: str) -> tuple[Path, dict]:
    sdist_dir = cache / "sources"
    sdist = sdist_dir / f"{PYPI_NAME}-{PYPI_VERSION}.tar.gz"
    if not sdist.exists():
        log(f"downloading the {PYPI_NAME}=={PYPI_VERSION} sdist from PyPI")
        tmp = Path(tempfile.mkdtemp(dir=sdist_dir))
        cmd = [python, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               "-q", "-d", str(tmp), f"{PYPI_NAME}=={PYPI_VERSION}"]
        if subprocess.run(cmd).returncode:
            raise BuildError(f"could not download {PYPI_NAME}=={PYPI_VERSION} from PyPI")
        next(tmp.glob("*.tar.gz")).rename(sdist)
        shutil.rmtree(tmp, ignore_errors=True)
    digest = sha256_of(sdist)
    if digest != PYPI_SHA256:
        sdist.unlink()
        raise BuildError(f"{sdist.name}: sha256 {digest} does not match the pinned {PYPI_SHA256}")
    return sdist, {"source": "pypi", "commit": f"{PYPI_NAME}=={PYPI_VERSION}",
                   "checksum": f"sha256:{PYPI_SHA256}"}


# -- Debian's archive through apt's own configuration ------------------------------
def _release_suite(suite: str) -> bool:
    """A release's main suite ("bookworm", "jammy"), not -updates/-security or a flat path."""
    return "-" not in suite and "/" not in suite


def deb_src_lines(text: str, extra_suites=DEBIAN_SUITES) -> list[str]:
    """One-line sources (``deb [options] uri suite [component...]``) -> deb-src lines.

    Every ``deb`` (and ``deb-src``) line gives a ``deb-src`` line for the same
    mirror, options and components; a mirror that carries a release's main suite
    is also asked for ``extra_suites``. Comments and other lines are ignored.
    """
    lines = []
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split()
        if not words or words[0] not in ("deb", "deb-src"):
            continue
        options = []
        if words[1:] and words[1].startswith("["):
            end = next((i for i, w in enumerate(words) if w.endswith("]")), None)
            if end is None:
                continue  # unterminated [options]: apt rejects the line too
            options, words = words[1:end + 1], words[:1] + words[end + 1:]
        if len(words) < 3:
            continue
        uri, suite, components = words[1], words[2], words[3:]
        suites = [suite] + ([s for s in extra_suites if s != suite]
                            if components and _release_suite(suite) else [])
        lines += [" ".join(["deb-src", *options, uri, s, *components]) for s in suites]
    return list(dict.fromkeys(lines))


def deb_src_stanzas(text: str, extra_suites=DEBIAN_SUITES) -> list[str]:
    """deb822 sources (``*.sources``) -> the same stanzas as ``Types: deb-src``.

    Every field is kept as written (a Signed-By keyring, or a key inline), so the
    deb-src entry trusts exactly what the deb entry does; ``Enabled: no`` stanzas
    are left out; a stanza with a release's main suite and components also asks
    for ``extra_suites``.
    """
    stanzas = []
    for block in re.split(r"\n[ \t]*\n", text):
        fields: list[list[str]] = []  # [name, value lines...] in file order
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            if line[:1] in (" ", "\t") and fields:
                fields[-1].append(line)
            elif ":" in line:
                name, _, value = line.partition(":")
                fields.append([name.strip(), value.strip()])
        values = {f[0].lower(): " ".join(v.strip() for v in f[1:]).split() for f in fields}
        if "deb" not in values.get("types", []) and "deb-src" not in values.get("types", []):
            continue
        if values.get("enabled", ["yes"])[0].lower() == "no" or not values.get("uris"):
            continue
        suites = values.get("suites", [])
        if values.get("components") and any(_release_suite(s) for s in suites):
            suites = suites + [s for s in extra_suites if s not in suites]
        out = []
        for name, *value in fields:
            if name.lower() == "types":
                value = ["deb-src"]
            elif name.lower() == "suites":
                value = [" ".join(suites)]
            out.append(f"{name}:" + (f" {value[0]}" if value[0] else "")
                       + "".join(f"\n{v}" for v in value[1:]))
        stanzas.append("\n".join(out))
    return stanzas


def apt_source_files() -> list[Path]:
    """The sources files apt reads on this machine (Dir::Etc::sourcelist / sourceparts)."""
    places = {"LIST": "/etc/apt/sources.list", "PARTS": "/etc/apt/sources.list.d"}
    try:
        out = subprocess.run(["apt-config", "shell", "LIST", "Dir::Etc::sourcelist/f",
                              "PARTS", "Dir::Etc::sourceparts/d"],
                             capture_output=True, text=True, timeout=60).stdout
        for line in out.splitlines():
            name, _, value = line.partition("=")
            if name in places and shlex.split(value):
                places[name] = shlex.split(value)[0]
    except (OSError, subprocess.TimeoutExpired):
        pass  # no apt-config: apt's defaults
    parts = Path(places["PARTS"])
    found = sorted(parts.glob("*.list")) + sorted(parts.glob("*.sources")) if parts.is_dir() else []
    return [p for p in [Path(places["LIST"]), *found] if p.is_file()]


def private_apt_config(root: Path, files: list[Path]) -> list[str]:
    """apt options for a private state under ``root``, with deb-src entries derived from
    ``files``: the machine's own apt lists, caches and sources are not touched."""
    one_line, deb822 = [], []
    for path in files:
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            deb822 += deb_src_stanzas(text)
        else:
            one_line += deb_src_lines(text)
    (root / "sources.list.d").mkdir(parents=True)
    (root / "sources.list").write_text("".join(f"{line}\n" for line in dict.fromkeys(one_line)))
    (root / "sources.list.d" / "goturn-caffe.sources").write_text(
        "".join(f"{stanza}\n\n" for stanza in deb822))
    for folder in ("lists/partial", "cache/archives/partial"):
        (root / folder).mkdir(parents=True)
    return ["-o", f"Dir::Etc::sourcelist={root / 'sources.list'}",
            "-o", f"Dir::Etc::sourceparts={root / 'sources.list.d'}",
            "-o", f"Dir::State::Lists={root / 'lists'}",
            "-o", f"Dir::Cache={root / 'cache'}"]


def _apt(args: list[str], options: list[str], cwd: Path,
         transcript: list[str]) -> subprocess.CompletedProcess | None:
    """Run ``args`` (apt-get / apt-cache and its arguments) with ``options``; its output
    goes to ``transcript``."""
    try:
        done = subprocess.run([args[0], *options, *args[1:]], cwd=cwd, capture_output=True,
                              text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        transcript.append(f"$ {' '.join(args)}: {exc}")
        return None
    transcript.append(f"$ {' '.join(args)} (exit {done.returncode})\n"
                      + (done.stdout + done.stderr).strip())
    return done


def fetch_debian(cache: Path) -> tuple[Path, dict] | None:
    """BVLC's tree at 99bd997 from Debian's archive, through this machine's apt sources
    (None when it cannot be fetched); the sha256 pin is what makes plain http safe.

    deb-src entries are derived from the machine's own ``deb`` entries (their mirrors,
    proxies and keys) into a private apt configuration in a temporary folder, then
    ``apt-get update`` and ``apt-get source --download-only`` fetch the source package.
    """
    tarball = cache / "sources" / DEBIAN_ORIG
    if not tarball.exists():
        if not shutil.which("apt-get"):
            log("no apt-get on this machine: cannot fetch Debian's source package")
            return None
        log(f"fetching {DEBIAN_ORIG} with apt-get source through this machine's apt sources")
        work = Path(tempfile.mkdtemp(dir=cache / "sources"))
        try:
            options = private_apt_config(work / "apt", apt_source_files())
            transcript: list[str] = []
            # A mirror without one of the suites fails its part of the update; the rest is kept.
            _apt(["apt-get", "update"], options, work, transcript)
            shown = _apt(["apt-cache", "showsrc", DEBIAN_PACKAGE], options, work, transcript)
            offered = re.findall(r"^Version: (\S+)$", shown.stdout if shown else "", re.M)
            versions = [v for v in dict.fromkeys([DEBIAN_VERSION, *offered])
                        if v in offered and v.split(":")[-1].rsplit("-", 1)[0] == DEBIAN_UPSTREAM]
            for version in versions:
                download = work / f"download-{version}"
                download.mkdir()
                done = _apt(["apt-get", "source", "--download-only", f"{DEBIAN_PACKAGE}={version}"],
                            options, download, transcript)
                if done and done.returncode == 0 and (download / DEBIAN_ORIG).is_file():
                    os.replace(download / DEBIAN_ORIG, tarball)
                    break
            else:
                log(f"apt offers no {DEBIAN_PACKAGE} {DEBIAN_UPSTREAM} source package "
                    f"(versions seen: {', '.join(offered) or 'none'}); apt said:\n"
                    + "\n".join(transcript)[-3000:])
                return None
        finally:
            shutil.rmtree(work, ignore_errors=True)
    digest = sha256_of(tarball)
    if digest != DEBIAN_SHA256:
        tarball.unlink()
        raise BuildError(f"{tarball.name}: sha256 {digest} does not match the pinned {DEBIAN_SHA256}")
    return tarball, {"source": "debian", "commit": "BVLC 99bd997 (Debian 1.0.0+git20180821.99bd997)",
                     "checksum": f"sha256:{DEBIAN_SHA256}"}


def resolve_source(cache: Path, python: str):
    choice = os.environ.get("CAFFE_SOURCE", "auto")
    (cache / "sources").mkdir(parents=True, exist_ok=True)
    if choice not in ("auto", "bvlc", "debian", "pypi"):
        tree = Path(choice).resolve()
        if not (tree / "src" / "caffe" / "net.cpp").exists():
            raise BuildError(f"CAFFE_SOURCE={choice} is not a Caffe source tree (no src/caffe/net.cpp)")
        digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(tree.rglob("*.cpp")))).hexdigest()
        return tree, {"source": "path", "commit": str(tree), "checksum": f"sha256-cpp:{digest}"}
    # Official code first; an unreachable source stops a forced choice, else hands over.
    chain = [
        ("bvlc", fetch_bvlc,
         f"cannot fetch {BVLC_GIT} at {BVLC_COMMIT} (no network access to github?)",
         "github.com is not reachable: taking BVLC Caffe at 99bd997 from Debian's archive "
         f"({DEBIAN_ORIG}, sha256-pinned). Set CAFFE_SOURCE=bvlc to insist on 9b89154."),
        ("debian", fetch_debian,
         f"cannot fetch the {DEBIAN_PACKAGE} {DEBIAN_VERSION} source package through apt "
         "(no apt-get, or no configured mirror of Debian's archive reachable?)",
         "Debian's archive is not reachable through apt either: falling back to the Caffe "
         "source distributed "
         f"on PyPI ({PYPI_NAME}=={PYPI_VERSION}, a 2016 fork of BVLC Caffe; sources only)."),
    ]
    for name, fetch, failure, handover in chain:
        if choice not in ("auto", name):
            continue
        fetched = fetch(cache)
        if fetched:
            return fetched
        if choice == name:
            raise BuildError(failure)
        log(handover)
    return fetch_pypi(cache, python)


def extract_tar(tar: tarfile.TarFile, dest: Path, members=None) -> None:
    """``tar.extractall`` with tarfile's "data" filter (no absolute paths, no ``..``, no
    links out of ``dest``, no device files).  Pythons without it (3.11 before 3.11.4,
    3.10 before 3.10.12: Debian 12's own 3.11.2 among them) get the same rules checked
    here first."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, members=members, filter="data")
        return
    root = Path(dest).resolve()
    chosen = list(members) if members is not None else tar.getmembers()
    for member in chosen:
        target = (root / member.name).resolve()
        if member.name.startswith("/") or not target.is_relative_to(root):
            raise BuildError(f"{tar.name}: unsafe member {member.name!r} (outside the destination)")
        if member.isdev() or member.isfifo():
            raise BuildError(f"{tar.name}: unsafe member {member.name!r} (a device or pipe)")
        if member.issym() or member.islnk():
            base = target.parent if member.issym() else root
            if member.linkname.startswith("/") or \
                    not (base / member.linkname).resolve().is_relative_to(root):
                raise BuildError(f"{tar.name}: unsafe link {member.name!r} -> {member.linkname!r}")
    tar.extractall(dest, members=chosen)


def unpack(source: Path, dest: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, dest, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        return
    staging = dest.parent / "unpack"
    shutil.rmtree(staging, ignore_errors=True)
    with tarfile.open(source) as tar:
        extract_tar(tar, staging)
    entries = list(staging.iterdir())
    if len(entries) == 1 and entries[0].is_dir():  # sdists: one top folder
        entries[0].rename(dest)
        staging.rmdir()
    else:  # Debian's orig tarball has the tree at its root
        staging.rename(dest)


# ----------------------------------------------------------------- build --
def native_build() -> bool:
    """CAFFE_NATIVE=1: host C++ compiled with -O3 -march=native (0 or unset: portable)."""
    value = os.environ.get("CAFFE_NATIVE", "0")
    if value not in ("0", "1"):
        raise BuildError(f"CAFFE_NATIVE={value!r}: use 1 (-O3 -march=native) or 0")
    return value == "1"


def cache_key(checksum: str, patch_digest: str, flags: dict) -> str:
    """The build's folder name under the cache: source, patch set and flags."""
    return hashlib.sha256(json.dumps([checksum, patch_digest, flags],
                                     sort_keys=True).encode()).hexdigest()[:16]


def makefile_config(py: dict, cuda: dict | None, prefix: str | None, lib_dir: Path,
                    native: bool = False) -> str:
    incs = [py["include"], py["numpy_include"]] + include_dirs(prefix)
    libs = [py["libdir"]] + library_dirs(prefix)
    lines = [
        "# written by goturn-caffe caffe_build/build_caffe.py",
        "USE_OPENCV := 0", "USE_LEVELDB := 1", "USE_LMDB := 1", "BLAS := open",
        "WITH_PYTHON_LAYER := 1", "RELEASE_BUILD_DIR := .build_release",
        "BUILD_DIR := build", "DISTRIBUTE_DIR := distribute",
        f"PYTHON_INCLUDE := {' '.join(incs[:2])}",
        f"PYTHON_LIB := {py['libdir']}",
        f"PYTHON_LIBRARIES := boost_python{py['version']} python{py['version'][0]}.{py['version'][1:]}",
        f"INCLUDE_DIRS := {' '.join(incs)}",
        f"LIBRARY_DIRS := {' '.join(libs)}",
        # absolute rpath: _caffe.so and the tools find libcaffe (and prefix libs) anywhere
        f"LINKFLAGS := -Wl,-rpath,{lib_dir}" + "".join(f" -Wl,-rpath,{d}" for d in library_dirs(prefix)
                                                        if prefix and d.startswith(prefix)),
        "Q ?= @",
    ]
    if native:  # appended after the Makefile's -O2 (patch set), host compiler only
        lines.append("GOTURN_CXXFLAGS := -O3 -march=native")
    if cuda:
        newest = max(cuda["arch"], key=int)
        # SASS for each requested arch, plus PTX of the newest so later GPUs can JIT it
        gencode = [f"-gencode arch=compute_{a},code=sm_{a}" for a in cuda["arch"]]
        gencode.append(f"-gencode arch=compute_{newest},code=compute_{newest}")
        lines += [f"CUDA_DIR := {cuda['cuda_home']}",
                  "CUDA_ARCH := " + " ".join(gencode),
                  # a plain integer: an unquoted 8*1024*1024 is a shell glob, and int overflows
                  f"COMMON_FLAGS := -DGOTURN_CUDNN_WORKSPACE_LIMIT={cuda['workspace_mb'] << 20}UL"]
        if cuda["cudnn"]:
            lines.append("USE_CUDNN := 1")
        if cuda.get("nccl"):
            lines.append("USE_NCCL := 1")
    else:
        lines.append("CPU_ONLY := 1")
    return "\n".join(lines) + "\n"


def build(src: Path, jobs: int, log_path: Path) -> None:
    cmd = ["make", f"-j{jobs}", "all", "pycaffe"]
    log(f"compiling ({' '.join(cmd)}; log: {log_path}) ... this takes a few minutes")
    start = time.time()
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(cmd, cwd=src, stdout=out, stderr=subprocess.STDOUT)
        last = 0.0
        while proc.poll() is None:
            time.sleep(2)
            done = len(list((src / ".build_release").rglob("*.o"))) if (src / ".build_release").exists() else 0
            if time.time() - last > 30:
                log(f"  {done} objects compiled, {time.time() - start:.0f} s")
                last = time.time()
    if proc.returncode:
        tail = log_path.read_text(errors="replace").splitlines()[-25:]
        raise BuildError("compilation failed; last lines of " + str(log_path) + ":\n" + "\n".join(tail))
    log(f"compiled in {time.time() - start:.0f} s")


def link_into_venv(venv: Path, build_dir: Path) -> None:
    site = subprocess.run([str(venv / "bin" / "python"), "-c",
                           "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    pth = Path(site) / "goturn_caffe_pycaffe.pth"
    pth.write_text(str(build_dir / "src" / "python") + "\n")
    caffe_bin = venv / "bin" / "caffe"
    if caffe_bin.is_symlink() or caffe_bin.exists():
        caffe_bin.unlink()
    caffe_bin.symlink_to(build_dir / "src" / ".build_release" / "tools" / "caffe.bin")
    (venv / "goturn_caffe_build").write_text(str(build_dir) + "\n")
    log(f"pycaffe linked into {venv} ({pth.name}); `caffe` binary in {venv}/bin")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--venv", default=".venv", help="virtualenv to link pycaffe into")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args(argv)
    venv = Path(args.venv).resolve()
    python = str(venv / "bin" / "python")
    if not os.path.exists(python):
        raise BuildError(f"no virtualenv at {venv}; run `make venv` first")
    cache = Path(os.environ.get("GOTURN_CAFFE_CACHE", Path.home() / ".cache" / "goturn-caffe"))
    prefix = os.environ.get("CAFFE_DEPS_PREFIX")

    check_dependencies(prefix, python)
    py = python_config(python)
    check_boost_python(prefix, py["version"])
    cuda = find_cuda()
    source, info = resolve_source(cache, python)
    flags = {"cuda": cuda, "python": py["version"], "deps_prefix": prefix,
             "with_python_layer": True, "blas": "openblas"}
    if native_build():  # only when asked: the portable build keeps its key
        flags["native"] = True
    patch_digest = sha256_of(HERE / "patch_caffe.py")
    key = cache_key(info["checksum"], patch_digest, flags)
    build_dir = cache / key
    info_path = build_dir / "BUILD_INFO.json"
    if info_path.exists():
        log(f"reusing cached build {build_dir} ({info['source']} {info['commit']})")
    else:
        log(f"building Caffe from {info['source']} ({info['commit']}) into {build_dir}; "
            + ("CUDA " + ",".join("sm_" + a for a in cuda["arch"]) +
               (" + cuDNN" if cuda["cudnn"] else "") if cuda else "CPU only")
            + (", -O3 -march=native" if flags.get("native") else ""))
        src = build_dir / "src"
        if not src.exists():  # a partial build with its sources is resumed by make
            build_dir.mkdir(parents=True, exist_ok=True)
            unpack(source, src)
            log("applying the goturn-caffe patch set")
            patches = patch_caffe.patch_tree(src, log=log)
            (build_dir / "patches.json").write_text(json.dumps(patches, indent=1))
        if cuda and cuda.get("nccl") and "class NCCL" not in (
                src / "include" / "caffe" / "parallel.hpp").read_text():
            raise BuildError(f"USE_NCCL=1, but this Caffe tree ({info['commit']}) has no NCCL data "
                             "parallelism (no caffe::NCCL, no pycaffe caffe.NCCL); build the "
                             "official tree with CAFFE_SOURCE=bvlc or CAFFE_SOURCE=debian")
        lib_dir = src / ".build_release" / "lib"
        config = makefile_config(py, cuda, prefix, lib_dir, native=flags.get("native", False))
        config_path = src / "Makefile.config"
        if not config_path.exists() or config_path.read_text() != config:  # keep make's timestamps
            config_path.write_text(config)
        build(src, args.jobs, build_dir / "build.log")
        patches = json.loads((build_dir / "patches.json").read_text())
        info.update(flags=flags, key=key, patch_set_sha256=patch_digest,
                    patches=[{"file": f, "why": w, "outcome": o} for f, w, o in patches],
                    built_at=time.strftime("%Y-%m-%d %H:%M:%S"), build_dir=str(build_dir))
        tmp = info_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(info, indent=1))
        tmp.rename(info_path)  # written last: its presence marks a finished build
    link_into_venv(venv, build_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
