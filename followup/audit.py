"""The audit log: who changed a cadence, reassigned a lead, exported data, changed a status.

Each entry keeps the values before and after as JSON (``leads.models.AuditEntry``) and
is read-only in admin, for managers. Services call ``audit_record`` where the change is
made; the actor defaults to the user of the request being served (set by
``AuditActorMiddleware``, read late so the API's token user counts), and is the system
(blank) for commands and the worker, whose ``via`` names the command.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from leads.models import AuditEntry

LEAD_STATUS = "lead.status"
LEAD_OWNER = "lead.owner"
CADENCE_CHANGE = "cadence.change"
CADENCE_IMPORT = "cadence.import"
DATA_EXPORT = "data.export"

_request: ContextVar[HttpRequest | None] = ContextVar("followup_audit_request", default=None)
_FROM_REQUEST: Any = object()  # "actor not given": take the request's user


class AuditActorMiddleware:
    """Make the request being served known to ``audit_record`` (a context variable)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


@contextmanager
def acting_request(request: HttpRequest) -> Iterator[None]:
    """Serve ``request`` as the actor outside the middleware (tests, admin actions)."""
    token = _request.set(request)
    try:
        yield
    finally:
        _request.reset(token)


def current_actor() -> AbstractBaseUser | None:
    request = _request.get()
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def current_via() -> str:
    request = _request.get()
    if request is not None:
        return f"{request.method} {request.path}"[:200]
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    return f"manage.py {command}".strip()[:200]


def audit_record(
    *,
    action: str,
    target: Model | None,
    before: object,
    after: object,
    actor: AbstractBaseUser | None = _FROM_REQUEST,
    at: dt.datetime | None = None,
    via: str | None = None,
) -> AuditEntry:
    """Write one entry. ``before``/``after`` are anything JSON can hold (dates as ISO)."""
    if actor is _FROM_REQUEST:
        actor = current_actor()
    return AuditEntry.objects.create(
        at=at or timezone.now(),
        actor=actor,
        actor_name=actor.get_username() if actor is not None else "",
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:300] if target is not None else "",
        before=_as_json(before),
        after=_as_json(after),
        via=via if via is not None else current_via(),
    )


def _as_json(value: object) -> object:
    # Round-trip through Django's encoder: datetimes, dates, decimals and UUIDs as text.
    return None if value is None else json.loads(json.dumps(value, cls=DjangoJSONEncoder))


# --- leads: status and owner ---------------------------------------------------------


def lead_snapshot(lead: Model) -> dict[str, object]:
    """What ``lead_changed`` compares: status and owner id (no query: both are columns)."""
    return {"status": lead.status, "owner_id": lead.owner_id}


def lead_changed(*, lead: Model, before: dict[str, object], at: dt.datetime) -> None:
    """One entry for a new status, one for a new owner (a reassignment); none otherwise."""
    if lead.status != before["status"]:
        audit_record(
            action=LEAD_STATUS,
            target=lead,
            before={"status": before["status"]},
            after={"status": lead.status},
            at=at,
        )
    if lead.owner_id != before["owner_id"]:
        names = _usernames([before["owner_id"], lead.owner_id])
        audit_record(
            action=LEAD_OWNER,
            target=lead,
            before={"owner": names.get(before["owner_id"])},
            after={"owner": names.get(lead.owner_id)},
            at=at,
        )


def _usernames(ids: list[object]) -> dict[object, str]:
    users = get_user_model().objects.filter(id__in=[i for i in ids if i is not None])
    return {user.id: user.get_username() for user in users}


# --- cadences: the whole cadence, steps included -------------------------------------


def cadence_snapshot(cadence: Model | None) -> dict[str, object] | None:
    """The cadence as saved in the database, in its file format with its steps; None
    for one not saved yet. Read afresh, so an edited copy in memory does not count."""
    from cadences.cadence_format import cadence_export  # cadences imports this module

    if cadence is None or cadence.pk is None:
        return None
    query = type(cadence).objects.select_related("on_complete_cadence").filter(pk=cadence.pk)
    saved = query.first()
    if saved is None:
        return None
    return {"is_active": saved.is_active, **cadence_export(saved)}  # the file leaves it out


def cadence_snapshots(cadences: Iterable[Model]) -> dict[object, dict[str, object] | None]:
    return {cadence.pk: cadence_snapshot(cadence) for cadence in cadences}


def cadence_changed(*, cadence: Model, before: dict[str, object] | None) -> None:
    """One entry when the cadence or any of its steps differs from ``before``."""
    after = cadence_snapshot(cadence)
    if after != before:
        audit_record(action=CADENCE_CHANGE, target=cadence, before=before, after=after)


def cadences_changed(*, model: type[Model], before: dict[object, dict[str, object] | None]) -> None:
    """``cadence_changed`` for each cadence of ``cadence_snapshots`` (admin actions)."""
    for cadence in model.objects.filter(pk__in=list(before)):
        cadence_changed(cadence=cadence, before=before[cadence.pk])
