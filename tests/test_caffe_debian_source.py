"""Debian's Caffe source through the machine's own apt configuration, checked without
network: deb-src entries derived from sample sources files (one-line and deb822), and
the private apt state fetch_debian runs apt-get / apt-cache with (fake ones on PATH)."""

import hashlib
import json
import os
import stat
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "caffe_build"))
import build_caffe  # noqa: E402

ONE_LINE = """\
# a local mirror, a proxy and a third-party repository
deb [arch=amd64 signed-by=/usr/share/keyrings/mirror.gpg] http://mirror.example/debian bookworm main contrib
deb http://mirror.example/debian bookworm-updates main
deb http://mirror.example/debian-security bookworm-security main   # trailing comment
deb-src http://mirror.example/debian bookworm main contrib
# deb http://disabled.example/debian bookworm main
deb [ trusted=yes ] http://apt-proxy.internal:3142/flat ./
deb [broken http://mirror.example/debian bookworm main
"""

DEB822 = """\
# Debian through a caching proxy
Types: deb
URIs: http://apt-proxy.internal:3142/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb deb-src
URIs: http://apt-proxy.internal:3142/debian-security
Suites: bookworm-security
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBGPL0BUBEADmW5NlOAkyLI3f
 -----END PGP PUBLIC KEY BLOCK-----

Enabled: no
Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
"""


def test_deb_src_lines_keep_each_mirror_its_options_and_components():
    assert build_caffe.deb_src_lines(ONE_LINE, extra_suites=("bullseye",)) == [
        "deb-src [arch=amd64 signed-by=/usr/share/keyrings/mirror.gpg] "
        "http://mirror.example/debian bookworm main contrib",
        "deb-src [arch=amd64 signed-by=/usr/share/keyrings/mirror.gpg] "
        "http://mirror.example/debian bullseye main contrib",
        "deb-src http://mirror.example/debian bookworm-updates main",  # no extra suite: -updates
        "deb-src http://mirror.example/debian-security bookworm-security main",
        "deb-src http://mirror.example/debian bookworm main contrib",
        "deb-src http://mirror.example/debian bullseye main contrib",
        "deb-src [ trusted=yes ] http://apt-proxy.internal:3142/flat ./",  # flat: as it is
    ]
    assert build_caffe.deb_src_lines("deb http://m.example/debian bullseye main\n",
                                     extra_suites=("bullseye",)) == [
        "deb-src http://m.example/debian bullseye main"]


def test_deb_src_stanzas_keep_every_field_and_skip_disabled_ones():
    stanzas = build_caffe.deb_src_stanzas(DEB822, extra_suites=("bullseye",))
    assert stanzas == [
        textwrap.dedent("""\
            Types: deb-src
            URIs: http://apt-proxy.internal:3142/debian
            Suites: bookworm bookworm-updates bullseye
            Components: main
            Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"""),
        textwrap.dedent("""\
            Types: deb-src
            URIs: http://apt-proxy.internal:3142/debian-security
            Suites: bookworm-security
            Components: main
            Signed-By:
             -----BEGIN PGP PUBLIC KEY BLOCK-----
             .
             mQINBGPL0BUBEADmW5NlOAkyLI3f
             -----END PGP PUBLIC KEY BLOCK-----"""),
    ]


FAKE_APT = """\
#!{python}
import json, os, pathlib, shutil, sys
log = pathlib.Path({log!r})
name, args = pathlib.Path(sys.argv[0]).name, sys.argv[1:]
options = dict(args[i + 1].split("=", 1) for i, a in enumerate(args) if a == "-o")
rest = [a for i, a in enumerate(args) if a != "-o" and (i == 0 or args[i - 1] != "-o")]
with open(log / "calls.jsonl", "a") as f:
    f.write(json.dumps({{"tool": name, "options": options, "args": rest, "cwd": os.getcwd()}}) + "\\n")
if name == "apt-config":
    print("LIST='{sources}/sources.list'")
    print("PARTS='{sources}/sources.list.d/'")
elif rest == ["update"]:
    shutil.copy(options["Dir::Etc::sourcelist"], log / "private.list")
    parts = pathlib.Path(options["Dir::Etc::sourceparts"])
    shutil.copy(next(parts.glob("*.sources")), log / "private.sources")
elif name == "apt-cache":
    print("Package: caffe\\nVersion: {offered}\\n")
elif rest[:2] == ["source", "--download-only"]:
    if rest[2] != "caffe={offered}":
        sys.exit(100)
    pathlib.Path("{orig}").write_bytes(b"the orig tarball")
    pathlib.Path("caffe_{offered}.dsc").write_text("dsc")
"""


@pytest.fixture
def fake_apt(tmp_path, monkeypatch):
    """apt-config, apt-get and apt-cache stand-ins that log their calls; returns a
    function (offered version) -> (cache folder, log folder)."""
    def install(offered: str):
        sources, log, bin_dir = tmp_path / "etc", tmp_path / "log", tmp_path / "bin"
        for folder in (sources / "sources.list.d", log, bin_dir, tmp_path / "cache" / "sources"):
            folder.mkdir(parents=True, exist_ok=True)
        (sources / "sources.list").write_text(ONE_LINE)
        (sources / "sources.list.d" / "proxy.sources").write_text(DEB822)
        (sources / "sources.list.d" / "ignored.list.disabled").write_text(
            "deb http://other.example/debian bookworm main\n")
        script = FAKE_APT.format(python=sys.executable, log=str(log), sources=sources,
                                 offered=offered, orig=build_caffe.DEBIAN_ORIG)
        for tool in ("apt-config", "apt-get", "apt-cache"):
            (bin_dir / tool).write_text(script)
            (bin_dir / tool).chmod(stat.S_IRWXU)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setattr(build_caffe, "DEBIAN_SHA256",
                            hashlib.sha256(b"the orig tarball").hexdigest())
        return tmp_path / "cache", log
    return install


def calls(log: Path) -> list:
    return [json.loads(line) for line in (log / "calls.jsonl").read_text().splitlines()]


def test_fetch_debian_runs_apt_on_a_private_state_with_derived_sources(fake_apt):
    cache, log = fake_apt(offered=build_caffe.DEBIAN_VERSION)
    tarball, info = build_caffe.fetch_debian(cache)
    assert tarball == cache / "sources" / build_caffe.DEBIAN_ORIG
    assert tarball.read_bytes() == b"the orig tarball"
    assert info["checksum"] == f"sha256:{build_caffe.DEBIAN_SHA256}"
    assert [p.name for p in (cache / "sources").iterdir()] == [build_caffe.DEBIAN_ORIG]  # work dir gone
    apt = [c for c in calls(log) if c["tool"] != "apt-config"]
    assert [(c["tool"], c["args"]) for c in apt] == [
        ("apt-get", ["update"]), ("apt-cache", ["showsrc", "caffe"]),
        ("apt-get", ["source", "--download-only", f"caffe={build_caffe.DEBIAN_VERSION}"])]
    private = Path(apt[0]["options"]["Dir::Etc::sourcelist"]).parent
    assert private.parent.parent == cache / "sources"  # a temporary folder in the cache
    for call in apt:
        assert call["options"] == {"Dir::Etc::sourcelist": str(private / "sources.list"),
                                   "Dir::Etc::sourceparts": str(private / "sources.list.d"),
                                   "Dir::State::Lists": str(private / "lists"),
                                   "Dir::Cache": str(private / "cache")}
    assert Path(apt[2]["cwd"]).parent == private.parent
    assert (log / "private.list").read_text().splitlines() == list(dict.fromkeys(
        build_caffe.deb_src_lines(ONE_LINE)))
    assert (log / "private.sources").read_text() == "".join(
        f"{stanza}\n\n" for stanza in build_caffe.deb_src_stanzas(DEB822))
    # a second call finds the tarball in the cache and asks apt nothing
    count = len(calls(log))
    assert build_caffe.fetch_debian(cache)[0] == tarball and len(calls(log)) == count


def test_fetch_debian_takes_another_revision_of_the_same_upstream_tarball(fake_apt):
    cache, log = fake_apt(offered=f"{build_caffe.DEBIAN_UPSTREAM}-7ubuntu1")
    assert build_caffe.fetch_debian(cache)[0].read_bytes() == b"the orig tarball"
    assert calls(log)[-1]["args"][-1] == f"caffe={build_caffe.DEBIAN_UPSTREAM}-7ubuntu1"


def test_fetch_debian_hands_over_when_apt_offers_no_such_source(fake_apt, capsys):
    cache, log = fake_apt(offered="1.0.0+git20170101.aaaaaaa-1")
    assert build_caffe.fetch_debian(cache) is None
    assert "versions seen: 1.0.0+git20170101.aaaaaaa-1" in capsys.readouterr().out
    assert not any(c["args"][:1] == ["source"] for c in calls(log))
    assert list((cache / "sources").iterdir()) == []


def test_fetch_debian_rejects_a_tarball_that_misses_the_pin(fake_apt, monkeypatch):
    cache, _ = fake_apt(offered=build_caffe.DEBIAN_VERSION)
    monkeypatch.setattr(build_caffe, "DEBIAN_SHA256", "0" * 64)
    with pytest.raises(SystemExit, match="does not match the pinned 0000"):
        build_caffe.fetch_debian(cache)
    assert not (cache / "sources" / build_caffe.DEBIAN_ORIG).exists()
