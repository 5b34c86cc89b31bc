#!/usr/bin/env bash
# Prints the Python interpreter that the set-up must use: the one the installed
# Boost.Python was built for.  pycaffe links libboost_python3XX, and that library
# only works inside the interpreter version it was compiled against, so the venv
# has to be made with exactly that Python (Debian 12: 3.11, Debian 13: 3.13,
# Ubuntu 22.04: 3.10, Ubuntu 24.04: 3.12).
#
# Where several Boost.Python builds are installed, the one for the system's
# default python3 wins, else the newest.  With no Boost.Python at all (before
# `make deps` on a machine without the packages) it prints python3, whose
# version is the one Debian's and Ubuntu's libboost-python-dev is built for.
# Stops with one line (exit 2) when the matching interpreter is not installed.
set -euo pipefail

boost_versions() {
    # libboost_python311.so -> 311; searched where Debian, Ubuntu and a
    # CAFFE_DEPS_PREFIX of unpacked .debs put it.
    # BOOST_PYTHON_LIB_DIRS (colon-separated) replaces the list, for a Boost elsewhere.
    local dirs=(/usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib)
    if [ -n "${BOOST_PYTHON_LIB_DIRS:-}" ]; then
        IFS=: read -r -a dirs <<<"$BOOST_PYTHON_LIB_DIRS"
    elif [ -n "${CAFFE_DEPS_PREFIX:-}" ]; then
        dirs=("$CAFFE_DEPS_PREFIX/usr/lib/x86_64-linux-gnu" "$CAFFE_DEPS_PREFIX/usr/lib"
              "$CAFFE_DEPS_PREFIX/lib" "${dirs[@]}")
    fi
    local d f
    for d in "${dirs[@]}"; do
        for f in "$d"/libboost_python3[0-9]*.so; do
            [ -e "$f" ] || continue
            f=${f##*/libboost_python}
            echo "${f%.so}"
        done
    done | sort -un
}

# 311 -> 3.11
dotted() { echo "${1:0:1}.${1:1}"; }

main() {
    local versions default chosen=""
    versions=$(boost_versions)
    if [ -z "$versions" ]; then
        echo python3
        return 0
    fi
    default=$(python3 -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")' \
              2>/dev/null || true)
    if [ -n "$default" ] && grep -qx "$default" <<<"$versions"; then
        chosen=$default
    else
        chosen=$(tail -n 1 <<<"$versions")
    fi
    local python="python$(dotted "$chosen")"
    if ! command -v "$python" >/dev/null 2>&1; then
        echo "make: Boost.Python here is built for Python $(dotted "$chosen")" \
             "(libboost_python$chosen.so) but $python is not installed: install $python," \
             "$python-venv and $python-dev (apt-get install ...), or set PYTHON= to another" \
             "interpreter whose Boost.Python is installed" >&2
        return 2
    fi
    echo "$python"
}

main "$@"
