#!/usr/bin/env bash
# `make run`: migrate, load the demo data, then the web app and the django-q2 worker
# side by side until Ctrl-C, which stops both. Embedded default: SQLite under var/.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
PORT="${PORT:-8000}"
URL="http://127.0.0.1:${PORT}/"
export DEBUG="${DEBUG:-1}"
export PYTHONUNBUFFERED=1

"$PY" manage.py migrate --noinput
# Idempotent, so it runs every time: a fresh clone gets data, a used one keeps its own.
"$PY" manage.py seed_demo

# Job control gives each child its own process group, so the trap can stop the
# runserver reloader together with the server process it forks.
set -m
"$PY" manage.py runserver "127.0.0.1:${PORT}" &
WEB_PID=$!
"$PY" manage.py qcluster &
WORKER_PID=$!
# Back off: with job control on, Ctrl-C would reach only the foreground command, not this
# script, and its trap would never run.
set +m

stop_all() {
    trap - INT TERM EXIT
    echo
    echo "Stopping the web app and the worker..."
    kill -TERM -- "-$WEB_PID" 2>/dev/null || true
    # Only the cluster's main process: it stops its own workers once their task is done.
    kill -TERM "$WORKER_PID" 2>/dev/null || true
    local waited=0
    while { kill -0 "$WEB_PID" || kill -0 "$WORKER_PID"; } 2>/dev/null && ((waited < 30)); do
        sleep 1
        waited=$((waited + 1))
    done
    kill -KILL -- "-$WEB_PID" "-$WORKER_PID" 2>/dev/null || true
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

# Print the banner once the site answers, so it is not lost above the start-up logs.
"$PY" - "$URL" <<'PYEOF' || true
import sys, time, urllib.request
deadline = time.monotonic() + 30
try:
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(sys.argv[1] + "healthz", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
except KeyboardInterrupt:
    sys.exit(1)
PYEOF
cat <<BANNER

  followup is running at ${URL}  (worker: django-q2 qcluster)

  Demo logins, password "followup-demo":
    alice, bob   reps     (their daily queue)
    maria        manager  (reports, cadences, ${URL}admin/)

  Press Ctrl-C to stop both.

BANNER

# Stop everything as soon as either process dies (say, the port was taken).
while kill -0 "$WEB_PID" 2>/dev/null && kill -0 "$WORKER_PID" 2>/dev/null; do
    sleep 1
done
echo "A process exited; stopping." >&2
exit 1
