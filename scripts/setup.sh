#!/usr/bin/env bash
# Install what platequeue needs on a fresh Debian machine: services (if absent), a venv, the package.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v pg_ctlcluster >/dev/null 2>&1 || need_apt+=(postgresql)
# Java for Bio-Formats (workers read FS-imported plates in process through JPype).
command -v java >/dev/null 2>&1 || need_apt+=(default-jre-headless)
if [ "${#need_apt[@]}" -gt 0 ] && [ "${PLATEQUEUE_SKIP_APT:-0}" != 1 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

PY=${PYTHON:-}
if [ -z "$PY" ]; then
    for cand in python3.11 python3.12 python3; do
        if command -v "$cand" >/dev/null 2>&1; then PY=$cand; break; fi
    done
fi
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# PLATEQUEUE_EXTRAS: pip extras to install (README, "Installing"): dev,bioformats by default
# (the tests; scripts/test.sh adds ops = Flower), demo,bioformats for scripts/demo.sh;
# bioformats = JPype, for the Bio-Formats source.
.venv/bin/python -m pip install -q -e ".[${PLATEQUEUE_EXTRAS:-dev,bioformats}]"
# bioformats_package.jar, fetched once into ~/.cache/platequeue/jars (BIOFORMATS_JAR overrides).
case ",${PLATEQUEUE_EXTRAS:-dev,bioformats}," in
    *,bioformats,*) bash scripts/fetch-bioformats-jar.sh >/dev/null ;;
esac
