#!/usr/bin/env bash
# `make restore BACKUP_FILE=path`: put a `make backup` dump back, replacing what the
# database holds now (pg_restore --clean), in one transaction: if anything fails, the
# database is left exactly as it was.
#
# With docker compose (the default) the web and worker services are stopped first, so
# nothing writes while the data is replaced, and started again afterwards. With
# BACKUP_DIRECT=1 it restores into DATABASE_URL: stop the app yourself first.
set -euo pipefail
cd "$(dirname "$0")/.."

FILE="${1:-${BACKUP_FILE:-}}"
DB_USER="${POSTGRES_USER:-followup}"
DB_NAME="${POSTGRES_DB:-followup}"

die() { echo "restore: $*" >&2; exit 1; }

[[ -n "$FILE" ]] || die "name the dump: make restore BACKUP_FILE=backups/followup-....dump"
[[ -s "$FILE" ]] || die "$FILE does not exist or is empty"

RESTORE=(pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction --exit-on-error)

if [[ "${BACKUP_DIRECT:-0}" == 1 ]]; then
    [[ "${DATABASE_URL:-}" =~ ^postgres(ql)?:// ]] || die "BACKUP_DIRECT=1 needs DATABASE_URL=postgres://..."
    "${RESTORE[@]}" --dbname="$DATABASE_URL" "$FILE"
else
    docker compose stop web worker
    # Started again whatever happens: a failed restore changed nothing.
    trap 'docker compose up -d web worker' EXIT
    docker compose exec -T db "${RESTORE[@]}" --username="$DB_USER" --dbname="$DB_NAME" <"$FILE"
fi
echo "restore: $FILE restored"
