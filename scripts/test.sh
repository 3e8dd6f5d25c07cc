#!/usr/bin/env bash
# The whole test suite on a fresh machine: install, start services, lint, type-check, test.
set -euo pipefail
cd "$(dirname "$0")/.."
PLATEQUEUE_EXTRAS=dev,ops,bioformats bash scripts/setup.sh
# Tools the tests drive for real: Debian's chromium (Playwright, never a downloaded
# browser), nginx (the /flower/ auth_request config) and shellcheck (the shell scripts).
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
if [ "${#need[@]}" -gt 0 ] && [ "${PLATEQUEUE_SKIP_APT:-0}" != 1 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
# omero-py (the write-back's object builders are tested without a server): its zeroc-ice
# is built once from source with the two edits Python 3.11 needs, then cached.
if ! .venv/bin/python -c "import omero.gateway" >/dev/null 2>&1; then
    if wheel=$(bash scripts/build-ice-wheel.sh | tail -1); then
        .venv/bin/python -m pip install -q "$wheel" "omero-py>=5.19"
    else
        echo "warning: zeroc-ice did not build; tests that need omero-py will skip" >&2
    fi
fi
bash scripts/services.sh
.venv/bin/ruff check .
.venv/bin/mypy platequeue web workers pipelines beat
.venv/bin/lint-imports
set +e
.venv/bin/pytest -q -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests: treating as a failure" >&2
    exit 1
fi
exit "$rc"
