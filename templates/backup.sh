#!/usr/bin/env bash
# Nightly backup of the platequeue audit store: pg_dump custom format (-Fc) into
# BACKUP_DIR, verified with pg_restore --list, then dumps older than
# BACKUP_RETENTION_DAYS are removed. Exits non-zero with a one-line reason on failure.
#
# Usage: backup.sh [--dir DIR] [--retention-days N] [--mode local|compose]
#
# Environment:
#   BACKUP_DIR             where dumps go (default /var/backups/platequeue)
#   BACKUP_RETENTION_DAYS  keep dumps this many days (default 14; 0 keeps everything)
#   BACKUP_MODE            local (default): pg_dump on this host, connecting with
#                          DATABASE_URL (or the libpq PG* variables);
#                          compose: pg_dump inside the compose `postgres` service,
#                          as POSTGRES_USER on POSTGRES_DB (socket, no password).
#   COMPOSE_FILE           compose mode: the compose file (default: compose.yaml
#                          next to this script's parent directory)
set -euo pipefail

prog=backup.sh
die() { echo "$prog: ERROR: $*" >&2; exit 1; }
log() { echo "$prog: $*" >&2; }

backup_dir=${BACKUP_DIR:-/var/backups/platequeue}
retention=${BACKUP_RETENTION_DAYS:-14}
mode=${BACKUP_MODE:-local}

while [[ $# -gt 0 ]]; do
    case $1 in
        --dir) backup_dir=${2:?--dir needs a value}; shift 2 ;;
        --retention-days) retention=${2:?--retention-days needs a value}; shift 2 ;;
        --mode) mode=${2:?--mode needs a value}; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done

[[ $retention =~ ^[0-9]+$ ]] || die "BACKUP_RETENTION_DAYS must be a whole number of days, got '$retention'"

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# shellcheck source=templates/pg-url.sh
source "$script_dir/pg-url.sh"

case $mode in
    local)
        command -v pg_dump >/dev/null || die "pg_dump not found (install postgresql-client-15)"
        command -v pg_restore >/dev/null || die "pg_restore not found (install postgresql-client-15)"
        conn=()
        if [[ -n ${DATABASE_URL:-} ]]; then
            to_libpq_url "$DATABASE_URL"
            conn=(--dbname="$libpq_url")
        elif [[ -z ${PGDATABASE:-} ]]; then
            die "set DATABASE_URL (or PGHOST/PGUSER/PGDATABASE) to say which database to dump"
        fi
        dump() { pg_dump --format=custom --compress=6 --no-password "${conn[@]}"; }
        list() { pg_restore --list "$1" >/dev/null; }
        ;;
    compose)
        compose_file=${COMPOSE_FILE:-$script_dir/../compose.yaml}
        [[ -f $compose_file ]] || die "compose file not found: $compose_file"
        : "${POSTGRES_USER:?compose mode needs POSTGRES_USER}" "${POSTGRES_DB:?compose mode needs POSTGRES_DB}"
        dc=(docker compose -f "$compose_file")
        dump() { "${dc[@]}" exec -T postgres pg_dump --format=custom --compress=6 -U "$POSTGRES_USER" -d "$POSTGRES_DB"; }
        list() { "${dc[@]}" exec -T postgres pg_restore --list <"$1" >/dev/null; }
        ;;
    *) die "--mode must be local or compose, got '$mode'" ;;
esac

mkdir -p -- "$backup_dir" || die "cannot create backup directory $backup_dir"
[[ -w $backup_dir ]] || die "backup directory $backup_dir is not writable by $(id -un)"

# One backup at a time.
if command -v flock >/dev/null; then
    exec 9>"$backup_dir/.backup.lock"
    flock -n 9 || die "another backup is running (lock $backup_dir/.backup.lock)"
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
final="$backup_dir/platequeue-$stamp.dump"
[[ ! -e $final ]] || die "$final already exists (two backups in one second?)"
partial="$final.partial"
trap 'rm -f -- "$partial"' EXIT
umask 077

log "dumping to $final"
if ! dump >"$partial"; then
    die "pg_dump failed; no backup written (previous dumps in $backup_dir kept)"
fi
[[ -s $partial ]] || die "pg_dump wrote an empty file; no backup written"
if ! list "$partial"; then
    die "the dump does not read back (pg_restore --list failed); no backup written"
fi
mv -- "$partial" "$final"
trap - EXIT
log "ok: $final ($(wc -c <"$final") bytes)"

# Retention: only after a good dump, only our own files, never the newest one.
if [[ $retention -gt 0 ]]; then
    find "$backup_dir" -maxdepth 1 -type f -name 'platequeue-*.dump' -mtime "+$((retention - 1))" \
        ! -name "$(basename "$final")" -print -delete | sed "s/^/$prog: removed old dump /" >&2
fi
