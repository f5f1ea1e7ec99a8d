#!/usr/bin/env bash
# Restart the throwaway cluster of scripts/pg_test_cluster.sh as a production server on
# this machine would run: durable commits (the test cluster runs with fsync off) and
# memory settings for a 2-core, 24 GB box. The published figures use this.
#
#   PG_TEST_PORT=54331 scripts/pg_test_cluster.sh start
#   PG_TEST_PORT=54331 bench/tuned_postgres.sh
#   DATABASE_URL=$(PG_TEST_PORT=54331 scripts/pg_test_cluster.sh url) make bench SCALE=full
#
# `scripts/pg_test_cluster.sh stop` still stops and deletes it.
set -euo pipefail

PORT="${PG_TEST_PORT:-54329}"
DIR="${PG_TEST_DIR:-${TMPDIR:-/tmp}/followup-pg-${PORT}}"
DATA="$DIR/data"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
[[ -x "$BIN/pg_ctl" ]] || BIN="$(dirname "$(command -v pg_ctl)")"
[[ -f "$DIR/.followup-pg-test" ]] || { echo "no cluster of pg_test_cluster.sh in $DIR" >&2; exit 1; }

as_owner() {
    if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

as_owner "$BIN/pg_ctl" --pgdata="$DATA" --mode=fast --wait stop >/dev/null
# Options on the command line: they replace the test cluster's fsync=off and friends.
as_owner "$BIN/pg_ctl" --pgdata="$DATA" --log="$DIR/server.log" --wait --timeout=120 \
    -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$DIR" \
    -o "-c max_connections=200 -c fsync=on -c synchronous_commit=on -c full_page_writes=on" \
    -o "-c shared_buffers=4GB -c effective_cache_size=16GB -c work_mem=64MB" \
    -o "-c maintenance_work_mem=1GB -c random_page_cost=1.1 -c max_wal_size=8GB" \
    start >/dev/null
echo "tuned_postgres: running on 127.0.0.1:$PORT, durable, shared_buffers 4GB, work_mem 64MB"
