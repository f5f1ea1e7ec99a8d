from __future__ import annotations

import datetime as dt

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache

HEARTBEAT_MAX_AGE = dt.timedelta(minutes=2)  # the tick runs every minute


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and docker-compose: the database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # any database failure means "not healthy", nothing more to say
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: the database answers, every migration is applied, the worker ticks.

    Each check says only ``ok`` or what failed, in words: no versions, hosts or errors
    (the endpoint needs no login, so it must not help an attacker).
    """
    checks = {"database": _database_check()}
    if checks["database"] == "ok":
        checks["migrations"] = _migrations_check()
        checks["worker"] = _worker_check(timezone.now())
    failing = [name for name, result in checks.items() if result != "ok"]
    body = {"status": "error" if failing else "ok", "checks": checks, "failing": failing}
    return JsonResponse(body, status=503 if failing else 200)


def _database_check() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # any database failure means "not ready"; the log has the detail
        return "unreachable"
    return "ok"


def _migrations_check() -> str:
    try:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception:  # an unreadable history is as bad as a missing migration
        return "unknown"
    return "ok" if not plan else f"{len(plan)} not applied"


def _worker_check(now: dt.datetime) -> str:
    from cadences.models import Heartbeat

    beat = Heartbeat.objects.filter(name="tick").values_list("at", flat=True).first()
    if beat is None:
        return "no tick yet"
    age = now - beat
    if age > HEARTBEAT_MAX_AGE:
        return f"last tick {int(age.total_seconds())} seconds ago"
    return "ok"


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    return render(request, "500.html", status=500)
