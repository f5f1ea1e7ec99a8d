"""/readyz: the database answers, every migration is applied, the worker ticked lately."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from cadences.models import Heartbeat

pytestmark = pytest.mark.django_db


def beat(age: dt.timedelta) -> None:
    Heartbeat.objects.update_or_create(name="tick", defaults={"at": timezone.now() - age})


def test_ready_when_the_database_answers_migrations_are_applied_and_the_tick_is_fresh(client):
    beat(dt.timedelta(seconds=50))

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "worker": "ok"},
        "failing": [],
    }


def test_not_ready_before_the_worker_has_ever_ticked(client):
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["worker"]
    assert response.json()["checks"]["worker"] == "no tick yet"


def test_not_ready_when_the_last_tick_is_older_than_two_minutes(client):
    beat(dt.timedelta(minutes=2, seconds=5))

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["worker"]
    assert response.json()["checks"]["worker"].startswith("last tick 12")


def test_not_ready_while_a_migration_is_not_applied(client):
    beat(dt.timedelta(seconds=5))
    # Forget the newest applied migration of leads, as if its code were deployed first.
    newest = MigrationRecorder.Migration.objects.filter(app="leads").order_by("-id").first()
    newest.delete()

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["migrations"]
    assert response.json()["checks"]["migrations"] == "1 not applied"


def test_readyz_needs_no_login_is_never_cached_and_tells_no_secrets(client):
    beat(dt.timedelta(minutes=10))

    response = client.get("/readyz")

    text = response.content.decode()
    assert "no-cache" in response["Cache-Control"]
    assert response["Content-Type"] == "application/json"
    for secret in (settings.SECRET_KEY, str(settings.DATABASES["default"]["NAME"]), "Traceback"):
        assert secret not in text


def test_healthz_stays_a_pure_liveness_check_without_the_worker(client):
    # Liveness must not fail because the worker is down: the web container would restart.
    assert client.get("/healthz").status_code == 200
