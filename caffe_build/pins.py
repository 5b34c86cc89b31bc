#!/usr/bin/env python3
"""The pinned Python packages, per supported Python, checked against each other.

``requirements.txt`` (installed with its dependencies) and ``requirements-vot.txt``
(installed with ``--no-deps``) pin one tested set per Python, 3.10 to 3.13, with
environment markers where a version differs.  Whether those pins fit together
depends on what each wheel declares (``Requires-Python``, ``Requires-Dist``), and a
machine only has the wheels of its own Python, so the declarations of every pinned
wheel for every supported Python are recorded in ``pins_metadata.json`` beside this
file, read from the wheels themselves:

    python caffe_build/pins.py --record     # needs PyPI; rewrites pins_metadata.json
    python caffe_build/pins.py              # checks every Python's pins (offline)

The check, for each Python: every pin has a wheel for it (recorded), admits it
(``Requires-Python``), and each dependency it declares for that Python is met by
the pin of that package.  A dependency of a ``--no-deps`` package that is pinned
nowhere is never installed, so it must be one of ``LEFT_OUT`` (on purpose, with the
reason).  ``tests/test_pins.py`` runs the check and compares the record with what
is installed in the running venv.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REQUIREMENTS = {"requirements.txt": True, "requirements-vot.txt": False}   # file: with deps?
RECORD = HERE / "pins_metadata.json"
PYTHONS = ("3.10", "3.11", "3.12", "3.13")

# Dependencies of the --no-deps set that are deliberately not installed.
LEFT_OUT = {
    "opencv-python": "its cv2 would replace opencv-contrib-python-headless (KCF, CSRT, GOTURN)",
    "pylatex": "the toolkit's LaTeX report only; published as an sdist alone",
}


def marker_environment(python: str) -> dict:
    return {"python_version": python, "python_full_version": f"{python}.0",
            "implementation_name": "cpython", "platform_python_implementation": "CPython",
            "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
            "platform_machine": "x86_64", "platform_release": "", "platform_version": "",
            "implementation_version": f"{python}.0", "extra": ""}


def pins_for(python: str, root: Path = ROOT) -> dict:
    """``{canonical name: (name, version, with_deps)}`` that the set-up installs on ``python``."""
    pins: dict = {}
    for file, with_deps in REQUIREMENTS.items():
        for number, raw in enumerate((root / file).read_text().splitlines(), 1):
            line = re.sub(r"\s+#.*$", "", raw).strip()
            if not line or line.startswith("#"):
                continue
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate(marker_environment(python)):
                continue
            pinned = [s for s in req.specifier if s.operator == "=="]
            if len(pinned) != 1:
                raise ValueError(f"{file}:{number}: {req.name} is not pinned with ==")
            key = canonicalize_name(req.name)
            if key in pins:
                raise ValueError(f"{file}:{number}: {req.name} is pinned twice for Python {python}")
            pins[key] = (req.name, pinned[0].version, with_deps)
    return pins


def check(python: str, record: dict, root: Path = ROOT) -> list:
    """The problems with ``python``'s pins, one line each (none: they fit together)."""
    problems = []
    pins = pins_for(python, root)
    env = marker_environment(python)
    for key, (name, version, with_deps) in sorted(pins.items()):
        meta = record.get(python, {}).get(f"{key}=={version}")
        if meta is None:
            problems.append(f"Python {python}: {name}=={version} has no recorded wheel "
                            "(run caffe_build/pins.py --record)")
            continue
        if meta["requires_python"] and not SpecifierSet(meta["requires_python"]).contains(
                Version(f"{python}.0"), prereleases=True):
            problems.append(f"Python {python}: {name}=={version} requires Python "
                            f"{meta['requires_python']}")
        for text in meta["requires_dist"]:
            dep = Requirement(text)
            if dep.marker is not None and not dep.marker.evaluate(env):
                continue   # another Python, or an extra (extra == "" is false for those)
            dep_key = canonicalize_name(dep.name)
            if dep_key in pins:
                have = pins[dep_key][1]
                if not dep.specifier.contains(Version(have), prereleases=True):
                    problems.append(f"Python {python}: {name}=={version} needs {dep}, "
                                    f"but {pins[dep_key][0]}=={have} is pinned")
            elif not with_deps and dep_key not in LEFT_OUT:
                problems.append(f"Python {python}: {name}=={version} (installed --no-deps) "
                                f"needs {dep}, which is pinned nowhere")
    return problems


def wheel_metadata(wheel: Path) -> dict:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        message = Parser().parsestr(archive.read(name).decode("utf-8", "replace"))
    return {"wheel": wheel.name, "requires_python": message.get("Requires-Python", "") or "",
            "requires_dist": message.get_all("Requires-Dist") or []}


def download_args(python: str) -> list:
    tag = python.replace(".", "")
    platforms = ["manylinux_2_35_x86_64", "manylinux_2_34_x86_64", "manylinux_2_31_x86_64",
                 "manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64",
                 "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_12_x86_64",
                 "manylinux2010_x86_64", "manylinux_2_5_x86_64", "manylinux1_x86_64", "any"]
    args = ["--only-binary", ":all:", "--no-deps", "--python-version", tag,
            "--implementation", "cp", "--abi", f"cp{tag}", "--abi", "abi3", "--abi", "none"]
    for platform in platforms:
        args += ["--platform", platform]
    return args


def record_all() -> dict:
    """Download every pinned wheel for every supported Python (no install) and read
    its declarations; a pin without a wheel for some Python stops with one line."""
    record: dict = {}
    for python in PYTHONS:
        record[python] = {}
        for key, (name, version, _) in sorted(pins_for(python).items()):
            with tempfile.TemporaryDirectory() as folder:
                done = subprocess.run(
                    [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                     "-d", folder, *download_args(python), f"{name}=={version}"],
                    capture_output=True, text=True)
                wheels = list(Path(folder).glob("*.whl"))
                if done.returncode or not wheels:
                    raise SystemExit(f"pins.py: no wheel of {name}=={version} for Python {python}")
                record[python][f"{key}=={version}"] = wheel_metadata(wheels[0])
            print(f"Python {python}: {name}=={version}: {record[python][f'{key}=={version}']['wheel']}")
    return record


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--record", action="store_true",
                        help=f"download the wheels (PyPI) and rewrite {RECORD.name}")
    args = parser.parse_args(argv)
    if args.record:
        RECORD.write_text(json.dumps(record_all(), indent=1, sort_keys=True) + "\n")
    record = json.loads(RECORD.read_text())
    problems = [p for python in PYTHONS for p in check(python, record)]
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"pins fit together for Python {', '.join(PYTHONS)}")
    return 2 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
