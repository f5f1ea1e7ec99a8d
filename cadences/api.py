"""HTTP API for queues and reports (CONTRACT.md section 6)."""

from __future__ import annotations

import datetime as dt
import importlib
from types import ModuleType
from typing import Annotated, Any

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from ninja import Query, Router, Schema

from cadences.queues import queue_for_rep
from followup.api_base import (
    ERRORS,
    ApiError,
    BearerToken,
    Day,
    Text,
    bad_input,
    caller,
    require_manager,
    user_named,
)

router = Router(tags=["queues and reports"])


class QueueItemOut(Schema):
    task_id: int
    lead_id: int
    lead_email: str
    lead_name: str
    channel: str
    cadence: str | None
    step: int | None
    reason: str
    due_at: str
    status: str


class QueueOut(Schema):
    rep: str
    date: dt.date
    rolled_over: dict[str, int]
    calls: list[QueueItemOut]
    emails: list[QueueItemOut]
    other: list[QueueItemOut]


@router.get("/queue/", response={200: QueueOut, **ERRORS}, summary="A rep's daily queue")
def queue_read(
    request: HttpRequest, date: Day | None = None, rep: Text | None = None
) -> HttpResponse:
    """The queue for ``date`` (rep-local; default the rep's today); ``rep`` for managers."""
    queue = queue_for_rep(rep=_queue_owner(caller(request), rep), now=timezone.now(), day=date)
    # Sent as built: queue_for_rep makes QueueOut's shape (CONTRACT §5) of plain values,
    # and validating a hundred items field by field cost more than reading them.
    return JsonResponse(queue)


def _queue_owner(user: AbstractBaseUser, username: str | None) -> AbstractBaseUser:
    if not username or username == user.get_username():
        return user
    require_manager(user, "another rep's queue")
    return user_named(username, "rep")


@router.get(
    "/reports/{name}/",
    response={200: dict[str, Any], **ERRORS},
    # Managers only, checked with the token so a rep learns nothing from bad parameters.
    auth=BearerToken(managers_only="reports"),
    summary="A report (managers only)",
)
def report_read(
    request: HttpRequest,
    name: str,
    date_from: Annotated[Day, Query(alias="from")],
    date_to: Annotated[Day, Query(alias="to")],
    rep: Text | None = None,
) -> dict[str, Any]:
    """``touches-to-close``, ``follow-up-stops`` or ``speed-to-lead`` for the period."""
    require_manager(caller(request), "reports")
    if date_to < date_from:
        raise bad_input({"to": "must be on or after from"})
    reports = _reports_module()
    if reports is None or name not in getattr(reports, "REPORTS", {}):
        raise ApiError(404, f"no report named {name!r}")
    who = user_named(rep, "rep") if rep else None
    return reports.report_json(name, date_from, date_to, who)


def _reports_module() -> ModuleType | None:
    # Imported when asked: the reports are their own module and may be absent in a build.
    try:
        return importlib.import_module("cadences.reports")
    except ModuleNotFoundError as exc:
        if exc.name != "cadences.reports":
            raise
        return None
