#!/bin/sh
# The `web` service's command: migrate, collect static files, then serve with gunicorn.
# WEB_BIND, WEB_CONCURRENCY (processes) and WEB_THREADS (threads each) move and size it
# (tests run it on a free loopback port). Threaded workers (gthread), one process per
# core: a request spends much of its time waiting on PostgreSQL, which another thread
# uses, and keep-alive spares API clients a connection per request. Measured on 2 cores
# (bench/README.md): 2 x 4 threads served about twice the requests of 3 sync workers.
set -eu
cd "$(dirname "$0")/.."

python manage.py migrate --noinput
python manage.py collectstatic --noinput --verbosity 0
# exec: gunicorn becomes PID 1's child directly and receives `docker stop`'s SIGTERM.
exec gunicorn followup.wsgi:application \
    --bind "${WEB_BIND:-0.0.0.0:8000}" \
    --worker-class gthread \
    --workers "${WEB_CONCURRENCY:-2}" \
    --threads "${WEB_THREADS:-4}" \
    --access-logfile - \
    --graceful-timeout 30
