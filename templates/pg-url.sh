# shellcheck shell=bash
# Sourced by backup.sh and restore.sh (not run on its own).
#
# libpq wants postgresql://; SQLAlchemy URLs carry a driver (postgresql+psycopg://).
# A password in the URL moves to PGPASSWORD so that it never shows up in `ps`.
# Sets libpq_url (not in a subshell, so that the export sticks).
to_libpq_url() {
    local url
    url=$(sed -E 's#^postgres(ql)?\+[A-Za-z0-9_]+://#postgresql://#' <<<"$1")
    if [[ $url =~ ^(postgresql://[^:@/]+):([^@/]*)@(.*)$ ]]; then
        local pw=${BASH_REMATCH[2]}
        export PGPASSWORD
        PGPASSWORD=$(printf '%b' "${pw//%/\\x}")
        url="${BASH_REMATCH[1]}@${BASH_REMATCH[3]}"
    fi
    # shellcheck disable=SC2034  # read by the sourcing script
    libpq_url=$url
}
