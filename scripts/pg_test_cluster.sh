#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests: trust auth on 127.0.0.1 only, fsync off.
#
#   scripts/pg_test_cluster.sh start   # initdb + start + create database "followup"
#   scripts/pg_test_cluster.sh url     # prints the DATABASE_URL to test against
#   scripts/pg_test_cluster.sh stop    # stops it and deletes its files
#   scripts/pg_test_cluster.sh status
#
# PG_TEST_PORT (default 54329) and PG_TEST_DIR (default /tmp/followup-pg-$PORT) move it.
# PostgreSQL refuses to run as root, so as root it runs as the "postgres" user.
# "stop" deletes the directory; it only ever deletes one that "start" made.
set -euo pipefail

PORT="${PG_TEST_PORT:-54329}"
DIR="${PG_TEST_DIR:-${TMPDIR:-/tmp}/followup-pg-${PORT}}"
DATA="$DIR/data"
DB_NAME="followup"

die() { echo "pg_test_cluster: $*" >&2; exit 1; }

pg_bin() {
    # Debian/Ubuntu keep the server binaries off PATH; elsewhere they are on it.
    local found
    found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -n "$found" && -x "$found/initdb" ]]; then
        echo "$found"
    elif command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
    else
        die "initdb not found; install PostgreSQL (Debian: apt-get install postgresql)"
    fi
}

BIN="$(pg_bin)"

as_owner() {
    # Run a server command as the unprivileged owner of the cluster.
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

ensure_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        chown postgres: "$DIR"
    fi
}

remove_dir() {
    # Only ever delete a directory this script made (it holds the marker file).
    if [[ -d "$DIR" ]]; then
        [[ -f "$DIR/.followup-pg-test" ]] || die "$DIR exists and was not made by this script"
        rm -rf "$DIR"
    fi
}

is_running() {
    [[ -f "$DATA/PG_VERSION" ]] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

cmd_start() {
    if is_running; then
        echo "pg_test_cluster: already running on 127.0.0.1:$PORT"
        return
    fi
    remove_dir
    mkdir -p "$DIR"
    touch "$DIR/.followup-pg-test"
    ensure_owner
    as_owner "$BIN/initdb" --pgdata="$DATA" --username=postgres --auth=trust \
        --encoding=UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
        || { cat "$DIR/initdb.log" >&2; die "initdb failed"; }
    # Durability off: the cluster lives for one test run, speed is all that matters.
    as_owner "$BIN/pg_ctl" --pgdata="$DATA" --log="$DIR/server.log" --wait --timeout=60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$DIR" \
        -o "-c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        -o "-c max_connections=200" \
        start >/dev/null || { cat "$DIR/server.log" >&2; die "server did not start"; }
    as_owner "$BIN/createdb" --host=127.0.0.1 --port="$PORT" --username=postgres "$DB_NAME"
    echo "pg_test_cluster: running on 127.0.0.1:$PORT ($DIR)"
}

cmd_stop() {
    if is_running; then
        as_owner "$BIN/pg_ctl" --pgdata="$DATA" --mode=fast --wait stop >/dev/null
        echo "pg_test_cluster: stopped"
    fi
    remove_dir
}

cmd_url() {
    echo "postgres://postgres@127.0.0.1:$PORT/$DB_NAME"
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    url) cmd_url ;;
    status) if is_running; then echo "running: $(cmd_url)"; else echo "stopped"; exit 3; fi ;;
    *) die "usage: $0 start|stop|url|status" ;;
esac
