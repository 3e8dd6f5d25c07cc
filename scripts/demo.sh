#!/usr/bin/env bash
# The demo on embedded defaults: embedded Redis, SQLite audit store, a generated OMERO
# repository with a synthetic 96-well plate; queue it with nuclei-count and check the counts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/platequeue up --demo "$@"
