"""The set-up's pins (issue 22): one tested set per supported Python, 3.10 to 3.13,
installed from wheels only.  ``caffe_build/pins_metadata.json`` holds what each pinned
wheel declares, read from the wheels for each Python by ``pins.py --record``; these
tests check the pins against each other for every Python, and the record against what
is really installed here."""

import json
import re
import subprocess
import sys
from importlib import metadata

import pytest
from conftest import REPO_ROOT
from packaging.utils import canonicalize_name

sys.path.insert(0, str(REPO_ROOT / "caffe_build"))
import pins  # noqa: E402

RECORD = json.loads(pins.RECORD.read_text())
RUNNING = "%d.%d" % sys.version_info[:2]


@pytest.mark.parametrize("python", pins.PYTHONS)
def test_the_pins_of_each_python_fit_together(python):
    assert pins.check(python, RECORD) == []


def test_the_pythons_differ_where_a_wheel_or_protoc_demands_it():
    # Ubuntu 22.04's protoc 3.12 code needs the 3.20 runtime; 3.13 has no onnx 1.17 wheel.
    assert pins.pins_for("3.10")["protobuf"][1] == "3.20.3"
    assert pins.pins_for("3.11")["protobuf"][1] == pins.pins_for("3.12")["protobuf"][1] == "4.21.12"
    assert pins.pins_for("3.13")["onnx"][1] != "1.17.0"
    assert all(RECORD[python] for python in pins.PYTHONS)


def test_a_conflicting_pin_is_reported(tmp_path):
    for name in pins.REQUIREMENTS:
        text = (REPO_ROOT / name).read_text()
        # onnx for 3.13 needs protobuf >= 4.25.1: pin 4.21.12 for every Python.
        text = re.sub(r"protobuf==4\.25\.9 ;.*", 'protobuf==4.21.12 ; python_version >= "3.13"', text)
        (tmp_path / name).write_text(text)
    problems = pins.check("3.13", RECORD, root=tmp_path)
    assert problems == [
        "Python 3.13: onnx==1.19.1 needs protobuf>=4.25.1, but protobuf==4.21.12 is pinned",
        # and that pin was never recorded as a wheel for 3.13, so nothing vouches for it
        "Python 3.13: protobuf==4.21.12 has no recorded wheel (run caffe_build/pins.py --record)"]


def test_a_no_deps_package_needing_an_unpinned_package_is_reported(tmp_path):
    for name in pins.REQUIREMENTS:
        text = (REPO_ROOT / name).read_text()
        (tmp_path / name).write_text(re.sub(r"(?m)^packaging==.*\n", "", text))
    problems = pins.check("3.11", RECORD, root=tmp_path)
    assert any("vot-toolkit==0.9.0 (installed --no-deps) needs packaging>=20" in p for p in problems)


def test_the_record_is_what_is_installed_here():
    if RUNNING not in pins.PYTHONS:
        pytest.skip(f"Python {RUNNING} is not one of the supported {pins.PYTHONS}")
    for key, (name, version, _) in pins.pins_for(RUNNING).items():
        installed = metadata.distribution(name)
        assert installed.version == version, name
        recorded = RECORD[RUNNING][f"{key}=={version}"]
        assert sorted(installed.requires or []) == sorted(recorded["requires_dist"]), name
        assert canonicalize_name(installed.metadata["Name"]) == key


def test_the_set_up_installs_wheels_only():
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "WHEELS_ONLY := --only-binary :all:" in makefile
    lines = [line for line in makefile.splitlines() if re.search(r"\$\(PIP\) (install|download)", line)]
    requirement_lines = [line for line in lines if "-r requirements" in line]
    assert len(requirement_lines) == 4
    assert all("$(WHEELS_ONLY)" in line for line in requirement_lines), requirement_lines


def test_the_interpreter_follows_boost_python(tmp_path):
    """pick_python.sh with a fake Boost.Python for 3.97 and no such interpreter: one
    line naming what to install, exit 2; with a python3.97 on PATH: that one."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "libboost_python397.so").write_text("")
    script = REPO_ROOT / "caffe_build" / "pick_python.sh"
    env = {"PATH": "/usr/bin:/bin", "BOOST_PYTHON_LIB_DIRS": str(lib)}
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert "built for Python 3.97 (libboost_python397.so)" in done.stderr
    assert "install python3.97, python3.97-venv and python3.97-dev" in done.stderr
    fake = tmp_path / "bin" / "python3.97"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    env["PATH"] = f"{fake.parent}:/usr/bin:/bin"
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and done.stdout.strip() == "python3.97"
    # Several builds: the one for the system's python3 wins over a newer one.
    (lib / "libboost_python396.so").write_text("")
    fake.with_name("python3").write_text("#!/bin/sh\necho 396\n")
    fake.with_name("python3").chmod(0o755)
    fake.with_name("python3.96").write_text("#!/bin/sh\n")
    fake.with_name("python3.96").chmod(0o755)
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and done.stdout.strip() == "python3.96"
    # No Boost.Python at all (before `make deps`): the system's python3.
    (lib / "libboost_python396.so").unlink()
    (lib / "libboost_python397.so").unlink()
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and done.stdout.strip() == "python3"
