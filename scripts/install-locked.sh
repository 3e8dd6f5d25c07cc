#!/usr/bin/env bash
# Install platequeue into a virtual environment with exactly the versions of its lock file:
#   bash scripts/install-locked.sh VENV [EXTRAS] [WHEEL_DIR]
# EXTRAS: comma-separated, among omero and gpu (server, worker and ops are always in the
# runtime locks). The lock is requirements/lock/runtime[-<extras sorted, joined by ->].txt;
# refresh the locks with scripts/lock.sh. Every download is checked against its hash.
# With omero, zeroc-ice (not on PyPI as a wheel) comes from WHEEL_DIR, else is built once
# by scripts/build-ice-wheel.sh. Ends with `pip check`: a lock that does not cover every
# requirement fails here, not at run time. Used by the Dockerfile, update.sh (systemd
# mode) and the systemd installation (templates/README.md).
set -euo pipefail
prog=install-locked.sh
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:?usage: $prog VENV [EXTRAS] [WHEEL_DIR]}
extras=${2:-}
wheels=${3:-}
py=$venv/bin/python
[ -x "$py" ] || { echo "$prog: no Python at $py" >&2; exit 1; }
key=$(printf '%s\n' "${extras//,/$'\n'}" | sed '/^$/d; /^server$/d; /^worker$/d; /^ops$/d' \
    | sort -u | paste -sd- -)
lock=$root/requirements/lock/runtime${key:+-$key}.txt
if [ ! -f "$lock" ]; then
    echo "$prog: no lock file for extras '$extras' ($lock); add the set to scripts/lock.sh" >&2
    exit 1
fi
if [[ ",$extras," == *,omero,* ]] && ! "$py" -c 'import Ice' 2>/dev/null; then
    ice=
    if [ -n "$wheels" ]; then
        ice=$(find "$wheels" -maxdepth 1 -name 'zeroc_ice-*.whl' | head -1)
    fi
    if [ -z "$ice" ]; then
        ice=$(PYTHON="$py" bash "$root/scripts/build-ice-wheel.sh" ${wheels:+"$wheels"} | tail -1)
    fi
    "$py" -m pip install --quiet --no-deps "$ice"
fi
"$py" -m pip install --quiet --require-hashes --no-deps -r "$lock"
"$py" -m pip install --quiet --no-deps "$root"
"$py" -m pip check
echo "$prog: installed platequeue with $(basename "$lock") into $venv" >&2
