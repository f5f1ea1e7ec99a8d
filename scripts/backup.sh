#!/usr/bin/env bash
# `make backup [BACKUP_FILE=path]`: a pg_dump of followup's PostgreSQL database, in
# pg_dump's custom format (-Fc: compressed, restored with `make restore`).
#
# By default through docker compose: `pg_dump` runs inside the `db` service, so no
# PostgreSQL client is needed on the host. With BACKUP_DIRECT=1 it runs here against
# DATABASE_URL instead (a managed PostgreSQL, a host install, CI).
#
# The dump is written to FILE.partial and renamed when complete, so a failed or
# interrupted backup never leaves a file that looks like a good one.
set -euo pipefail
cd "$(dirname "$0")/.."

FILE="${1:-${BACKUP_FILE:-}}"
FILE="${FILE:-backups/followup-$(date -u +%Y%m%dT%H%M%SZ).dump}"
DB_USER="${POSTGRES_USER:-followup}"
DB_NAME="${POSTGRES_DB:-followup}"

die() { echo "backup: $*" >&2; exit 1; }

mkdir -p "$(dirname "$FILE")"
rm -f "$FILE.partial"
trap 'rm -f "$FILE.partial"' EXIT

if [[ "${BACKUP_DIRECT:-0}" == 1 ]]; then
    [[ "${DATABASE_URL:-}" =~ ^postgres(ql)?:// ]] \
        || die "BACKUP_DIRECT=1 needs DATABASE_URL=postgres://... (SQLite: copy var/followup.sqlite3 while stopped)"
    pg_dump --format=custom --no-owner --no-privileges --dbname="$DATABASE_URL" --file="$FILE.partial"
else
    docker compose exec -T db pg_dump --format=custom --no-owner --no-privileges \
        --username="$DB_USER" --dbname="$DB_NAME" >"$FILE.partial"
fi

[[ -s "$FILE.partial" ]] || die "pg_dump wrote nothing"
mv "$FILE.partial" "$FILE"
trap - EXIT
echo "backup: $FILE ($(du -h "$FILE" | cut -f1))"
