#!/usr/bin/env bash
# Runs the README's two commands (`make demo`, then `make test`) in a fresh Debian
# root made with debootstrap, as a new user on that release would, and prints each
# step's time.
#
#   sudo tools/check_platform.sh SUITE [ROOT]      # SUITE: bookworm, trixie, ...
#
# - The root is built from the Debian mirror this machine's own apt sources use
#   (one-line or deb822), never a fixed host.
# - It gets this machine's resolver, CA bundle, pip configuration (files and PIP_*
#   variables), apt's Acquire settings (proxies) and the proxy variables, so it
#   reaches the same mirrors from behind the same proxy.
# - The project is cloned into the root from this checkout's committed HEAD (what
#   a user would clone); uncommitted changes are not part of the check.
# - Beyond debootstrap's minimal system it installs only git and make (what the
#   README's first line assumes); the two commands install the rest themselves.
#
# ROOT defaults to /var/tmp/goturn-platform/SUITE and is made anew each run. Logs:
# ROOT.log (this script's lines) and ROOT-<step>.log. Needs root and debootstrap
# (apt-get install debootstrap). Slow: a Caffe build and the whole suite, about
# 20-40 minutes on 2 cores; not part of `make test`.
set -euo pipefail

usage() { echo "usage: $0 SUITE [ROOT]   (SUITE: a Debian release, e.g. bookworm or trixie)" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
case "$1" in -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0;; esac
SUITE=$1
ROOT=${2:-/var/tmp/goturn-platform/$SUITE}
REPO=$(cd "$(dirname "$0")/.." && pwd)
fail() { echo "check_platform.sh: $*" >&2; exit 2; }

[ "$(id -u)" = 0 ] || fail "needs root (debootstrap, chroot and bind mounts)"
command -v debootstrap >/dev/null || fail "debootstrap is not installed (apt-get install debootstrap)"
[[ "$SUITE" =~ ^[a-z]+$ ]] || fail "$SUITE: not a Debian release name"
[ -e "/usr/share/debootstrap/scripts/$SUITE" ] || fail "$SUITE: debootstrap here does not know this release"

# The Debian mirror of this machine's apt sources: the first `deb` entry whose suite
# is a release (no -security/-updates/-backports), from sources.list, *.list or *.sources.
debian_mirror() {
    local file
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$file" ] || continue
        awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                           uri = $i; suite = $(i + 1)
                           if (suite !~ /-/ && uri ~ /debian\/?$/) { print uri; exit } }' "$file"
    done
    for file in /etc/apt/sources.list.d/*.sources; do
        [ -f "$file" ] || continue
        awk 'BEGIN { RS = ""; FS = "\n" }
             { types = ""; uris = ""; suites = ""
               for (i = 1; i <= NF; i++) {
                 if ($i ~ /^Types:/) types = $i
                 if ($i ~ /^URIs:/) { uris = $i; sub(/^URIs:[ \t]*/, "", uris) }
                 if ($i ~ /^Suites:/) { suites = $i; sub(/^Suites:[ \t]*/, "", suites) } }
               split(suites, s, /[ \t]+/); split(uris, u, /[ \t]+/)
               if (types ~ /(^|[ \t])deb([ \t]|$)/ && s[1] !~ /-/ && u[1] ~ /debian\/?$/) { print u[1]; exit } }' "$file"
    done
}
MIRROR=$(debian_mirror | head -n 1)
[ -n "$MIRROR" ] || fail "no Debian mirror found in /etc/apt/sources.list{,.d/*}: cannot build a Debian root"

LOG=$ROOT.log
mkdir -p "$(dirname "$ROOT")"
: > "$LOG"
say() { echo "[platform $SUITE] $*" | tee -a "$LOG"; }
MOUNTS=()
cleanup() {
    local m
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount -l "${MOUNTS[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT

# step NAME COMMAND...: runs it with its output in ROOT-NAME.log, prints the time.
step() {
    local name=$1; shift
    local start end rc=0
    start=$(date +%s)
    "$@" > "$ROOT-$name.log" 2>&1 || rc=$?
    end=$(date +%s)
    say "$name: $((end - start)) s$( [ $rc = 0 ] || echo ", FAILED (exit $rc; last lines of $ROOT-$name.log below)")"
    if [ $rc != 0 ]; then tail -n 25 "$ROOT-$name.log" | sed 's/^/    /' | tee -a "$LOG"; exit 1; fi
}

say "mirror $MIRROR (from this machine's apt sources), root $ROOT, project $REPO at $(git -C "$REPO" rev-parse --short HEAD)"
if [ -d "$ROOT" ]; then
    for m in proc sys dev/shm dev/pts dev; do umount -l "$ROOT/$m" 2>/dev/null || true; done
    rm -rf --one-file-system "$ROOT"
fi
step debootstrap debootstrap --variant=minbase --include=ca-certificates,git,make \
    "$SUITE" "$ROOT" "$MIRROR"

configure_root() {
    cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
    if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
        mkdir -p "$ROOT/etc/ssl/certs"
        cp -L /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
    fi
    # pip: every configuration file pip reads here, at the same paths.
    local f
    for f in /etc/pip.conf /etc/xdg/pip/pip.conf /etc/xdg/pip/constraints.txt \
             "$HOME/.config/pip/pip.conf" "$HOME/.pip/pip.conf"; do
        [ -f "$f" ] || continue
        mkdir -p "$ROOT$(dirname "$f")"
        cp -L "$f" "$ROOT$f"
    done
    # apt: the Acquire settings (proxies, validity checks) of this machine.
    grep -h '^[[:space:]]*Acquire::' /etc/apt/apt.conf /etc/apt/apt.conf.d/* 2>/dev/null \
        > "$ROOT/etc/apt/apt.conf.d/90host-acquire" || true
    echo "deb $MIRROR $SUITE main" > "$ROOT/etc/apt/sources.list"
    git clone -q --no-hardlinks "$REPO" "$ROOT/root/goturn-caffe"
}
step configure configure_root

for m in proc sys dev dev/pts dev/shm; do
    mount --bind "/$m" "$ROOT/$m"
    MOUNTS+=("$ROOT/$m")
done

# The root's environment: a clean login, plus this machine's proxy and pip variables.
ENVIRONMENT=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
             LANG=C.UTF-8 TERM=dumb)
while IFS='=' read -r name value; do
    case "$name" in
        http_proxy|https_proxy|no_proxy|HTTP_PROXY|HTTPS_PROXY|NO_PROXY|PIP_*)
            ENVIRONMENT+=("$name=$value");;
    esac
done < <(env)
in_root() { chroot "$ROOT" /usr/bin/env -i "${ENVIRONMENT[@]}" /bin/bash -c "cd /root/goturn-caffe && $1"; }

say "$(chroot "$ROOT" /bin/sh -c '. /etc/os-release; echo "$PRETTY_NAME"')"
step make-demo in_root "make demo"
step make-test in_root "make test"
say "both commands passed; $(in_root '.venv/bin/python --version' 2>&1), $(grep -E '^[0-9]+ passed' "$ROOT-make-test.log" | tail -n 1)"
