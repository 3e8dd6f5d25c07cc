#!/usr/bin/env bash
# The whole test suite on a fresh machine: install, start services, lint, type-check, test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The browser tests drive Debian's chromium through Playwright (never a downloaded browser).
if ! command -v chromium >/dev/null 2>&1 && [ "${PLATEQUEUE_SKIP_APT:-0}" != 1 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
bash scripts/services.sh
.venv/bin/ruff check .
.venv/bin/mypy platequeue web workers pipelines beat
set +e
.venv/bin/pytest -q -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests: treating as a failure" >&2
    exit 1
fi
exit "$rc"
