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
# omero-py (the write-back's object builders are tested without a server), omero-web
# (sign-in with real OMERO.web sessions) and the OMERO.web app in contrib/omero-platequeue
# (tested in a real OMERO.web): zeroc-ice is built once from source with the two edits
# Python 3.11 needs, then cached.
if ! .venv/bin/python -c "import omero.gateway, omeroweb, django_redis, omero_platequeue" \
        >/dev/null 2>&1; then
    if wheel=$(bash scripts/build-ice-wheel.sh | tail -1); then
        .venv/bin/python -m pip install -q "$wheel" -e ".[omero,omeroweb-test]" \
            -e contrib/omero-platequeue
    else
        echo "warning: zeroc-ice did not build; tests that need omero-py will skip" >&2
    fi
fi
bash scripts/services.sh
# The lowest-versions job (scripts/test-lowest.sh: the declared floors, a smoke subset in
# its own venv) runs next to lint, type-check and the main suite. It runs for a whole-suite
# run; PLATEQUEUE_LOWEST=1 forces it, =0 skips it.
lowest=${PLATEQUEUE_LOWEST:-auto}
lowest_pid=
if [ "$lowest" = 1 ] || { [ "$lowest" = auto ] && [ $# -eq 0 ]; }; then
    mkdir -p test-output
    bash scripts/test-lowest.sh > test-output/lowest.log 2>&1 &
    lowest_pid=$!
    # If lint or type-check stops this script, stop the job too.
    trap 'if [ -n "$lowest_pid" ]; then kill "$lowest_pid" 2>/dev/null || true; fi' EXIT
fi
.venv/bin/ruff check .
.venv/bin/mypy platequeue web workers pipelines beat
.venv/bin/lint-imports
set +e
.venv/bin/pytest -q -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests: treating as a failure" >&2
    rc=1
fi
if [ -n "$lowest_pid" ]; then
    job=$lowest_pid
    lowest_pid=
    if wait "$job"; then
        echo "lowest-versions job passed ($(tail -1 test-output/lowest.log))"
    else
        echo "lowest-versions job FAILED; its log, test-output/lowest.log, ends:" >&2
        tail -40 test-output/lowest.log >&2
        rc=1
    fi
fi
exit "$rc"
