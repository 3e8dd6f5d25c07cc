#!/usr/bin/env bash
# Restore a platequeue dump (from backup.sh) into a FRESH database, which this
# script creates; it refuses to touch an existing one. Point the app at the new
# database (DATABASE_URL) once you have checked it — see templates/README.md.
#
# Usage: restore.sh [--mode local|compose] DUMP_FILE NEW_DATABASE_NAME
#
# Environment:
#   BACKUP_MODE   local (default): pg_restore on this host against the server in
#                 DATABASE_URL (or the libpq PG* variables); the URL's user must be
#                 allowed to CREATE DATABASE.
#                 compose: pg_restore inside the compose `postgres` service as
#                 POSTGRES_USER (socket, no password).
#   COMPOSE_FILE  compose mode: the compose file (default: ../compose.yaml)
set -euo pipefail

prog=restore.sh
die() { echo "$prog: ERROR: $*" >&2; exit 1; }
log() { echo "$prog: $*" >&2; }

mode=${BACKUP_MODE:-local}
args=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --mode) mode=${2:?--mode needs a value}; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option: $1 (see --help)" ;;
        *) args+=("$1"); shift ;;
    esac
done
[[ ${#args[@]} -eq 2 ]] || die "usage: restore.sh [--mode local|compose] DUMP_FILE NEW_DATABASE_NAME"
dump=${args[0]}
target=${args[1]}

[[ -f $dump && -r $dump ]] || die "dump file not readable: $dump"
[[ $target =~ ^[A-Za-z_][A-Za-z0-9_]{0,62}$ ]] \
    || die "database name must be letters, digits and _ (max 63), got '$target'"

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=templates/pg-url.sh
source "$script_dir/pg-url.sh"

# Same server, other database: replace the path of postgresql://.../dbname?params.
with_db() {
    local url=$1 db=$2 base query
    base=${url%%\?*}
    query=${url#"$base"}
    [[ $base =~ ^postgresql://[^/]+/[^/]*$ ]] || die "DATABASE_URL must look like postgresql://user@host:port/dbname"
    printf '%s/%s%s\n' "${base%/*}" "$db" "$query"
}

case $mode in
    local)
        command -v psql >/dev/null || die "psql not found (install postgresql-client-15)"
        command -v pg_restore >/dev/null || die "pg_restore not found (install postgresql-client-15)"
        if [[ -n ${DATABASE_URL:-} ]]; then
            to_libpq_url "$DATABASE_URL"
            admin_url=$libpq_url
            target_url=$(with_db "$admin_url" "$target")
        elif [[ -n ${PGDATABASE:-} ]]; then
            admin_url=$PGDATABASE
            target_url=$target
        else
            die "set DATABASE_URL (or PGHOST/PGUSER/PGDATABASE) to say which server to restore into"
        fi
        sql() { psql --no-psqlrc --no-password -v ON_ERROR_STOP=1 -qAt --dbname="$admin_url" "$@"; }
        restore() { pg_restore --no-password --exit-on-error --single-transaction --no-owner --dbname="$target_url" "$dump"; }
        ;;
    compose)
        compose_file=${COMPOSE_FILE:-$script_dir/../compose.yaml}
        [[ -f $compose_file ]] || die "compose file not found: $compose_file"
        : "${POSTGRES_USER:?compose mode needs POSTGRES_USER}" "${POSTGRES_DB:?compose mode needs POSTGRES_DB}"
        dc=(docker compose -f "$compose_file")
        sql() { "${dc[@]}" exec -T postgres psql --no-psqlrc -v ON_ERROR_STOP=1 -qAt -U "$POSTGRES_USER" -d "$POSTGRES_DB" "$@"; }
        restore() { "${dc[@]}" exec -T postgres pg_restore --exit-on-error --single-transaction --no-owner -U "$POSTGRES_USER" -d "$target" <"$dump"; }
        ;;
    *) die "--mode must be local or compose, got '$mode'" ;;
esac

exists=$(sql -c "SELECT 1 FROM pg_database WHERE datname = '$target'") \
    || die "cannot connect to the database server (check DATABASE_URL)"
[[ -z $exists ]] || die "database '$target' already exists; restore only into a fresh database"

log "creating database $target"
sql -c "CREATE DATABASE \"$target\"" || die "CREATE DATABASE $target failed"

log "restoring $dump into $target"
if ! restore; then
    log "restore failed; dropping the half-restored database $target"
    sql -c "DROP DATABASE IF EXISTS \"$target\"" || log "could not drop $target; drop it by hand"
    die "pg_restore into $target failed; nothing else was changed"
fi
log "ok: $dump restored into $target"
