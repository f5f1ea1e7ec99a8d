#!/bin/sh
# The `web` service's command: migrate, collect static files, then serve with gunicorn.
# WEB_BIND and WEB_CONCURRENCY move and size it (tests run it on a free loopback port).
set -eu
cd "$(dirname "$0")/.."

python manage.py migrate --noinput
python manage.py collectstatic --noinput --verbosity 0
# exec: gunicorn becomes PID 1's child directly and receives `docker stop`'s SIGTERM.
exec gunicorn followup.wsgi:application \
    --bind "${WEB_BIND:-0.0.0.0:8000}" \
    --workers "${WEB_CONCURRENCY:-3}" \
    --access-logfile - \
    --graceful-timeout 30
