#!/usr/bin/env bash
# Build (once) and cache the zeroc-ice wheel omero-py needs, for this Python.
#
# omero-py needs zeroc-ice>=3.6.5,<3.7; PyPI has it only as a source archive that does not
# build on Python >= 3.11. Two edits make it build:
#   src/Slice.cpp: #include <eval.h>            -> #include <Python.h>
#   src/Util.cpp:  PyThreadState_GET()->frame   -> PyEval_GetFrame()
# Usage: scripts/build-ice-wheel.sh [WHEEL_DIR] (default ~/.cache/platequeue/wheels);
# PYTHON selects the interpreter (default: .venv/bin/python, else python3).
# Prints the wheel's path. Takes about 5 minutes on 2 cores the first time.
set -euo pipefail
ICE_VERSION=${ICE_VERSION:-3.6.5}
WHEEL_DIR=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/platequeue/wheels}
PY=${PYTHON:-}
if [ -z "$PY" ]; then
    if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
pytag=$("$PY" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
mkdir -p "$WHEEL_DIR"
wheel() {
    find "$WHEEL_DIR" -maxdepth 1 -name "zeroc_ice-$ICE_VERSION-$pytag-*.whl" | head -1
}
found=$(wheel)
if [ -n "$found" ]; then
    echo "$found"
    exit 0
fi
# Build needs: a C++ compiler and the OpenSSL and bzip2 headers; setuptools and wheel.
if ! [ -f /usr/include/openssl/ssl.h ] || ! [ -f /usr/include/bzlib.h ]; then
    if [ "${PLATEQUEUE_SKIP_APT:-0}" != 1 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            g++ libssl-dev libbz2-dev >&2
    fi
fi
"$PY" -m pip install -q setuptools wheel >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PY" -m pip download -q --no-deps --no-binary :all: -d "$work" "zeroc-ice==$ICE_VERSION" >&2
tar -xzf "$work"/zeroc*ice-"$ICE_VERSION".tar.gz -C "$work"
src=$(ls -d "$work"/zeroc*ice-"$ICE_VERSION")
sed -i 's/#include <eval.h>/#include <Python.h>/' "$src/src/Slice.cpp"
sed -i 's/PyThreadState_GET()->frame/PyEval_GetFrame()/' "$src/src/Util.cpp"
grep -q 'PyEval_GetFrame()' "$src/src/Util.cpp" || { echo "Util.cpp edit did not apply" >&2; exit 1; }
"$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$WHEEL_DIR" "$src" >&2
found=$(wheel)
[ -n "$found" ] || { echo "no zeroc-ice wheel was built" >&2; exit 1; }
echo "$found"
