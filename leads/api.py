"""HTTP API for leads, touches and signals (CONTRACT.md section 6).

Thin operations: parse (django-ninja and the schemas below), a permission-checked
lookup, one service call, the answer. Writes go through ``leads.services`` and
``leads.touches``, the same code the pages, the import and the worker use.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema
from pydantic import BaseModel, ConfigDict, field_validator

from cadences.models import Cadence, Enrolment, Task
from cadences.scheduling import DueTime
from cadences.services import lead_timezone
from followup.api_base import (
    ERRORS,
    ApiError,
    CompanyName,
    Id,
    Instant,
    Text,
    bad_input,
    caller,
    require_may_see,
    user_named,
)
from followup.prepared import HotQuery, concrete_fields, row_instances
from followup.roles import is_manager, is_rep
from leads.models import BuyingStage, Channel, Lead, LeadStatus, Outcome, SignalKind
from leads.services import LeadRefused, UpsertResult, lead_find_by_email, lead_update, lead_upsert
from leads.touches import TouchRefused, signal_record, touch_log

router = Router(tags=["leads"])

RUNNING = (Enrolment.Status.ACTIVE, Enrolment.Status.PAUSED)
CSV_TEXT_FIELDS = ("email", "first_name", "last_name", "phone", "title", "timezone", "source")


# --- schemas ------------------------------------------------------------------------


class LeadIn(BaseModel):
    """The CSV columns (CONTRACT §4) as fields. Unknown fields are ignored and listed back."""

    # A web form that adds a field must not start losing leads: extras are kept aside.
    model_config = ConfigDict(extra="allow")

    email: Text | None = None
    first_name: Text | None = None
    last_name: Text | None = None
    phone: Text | None = None
    company: CompanyName | None = None
    title: Text | None = None
    timezone: Text | None = Field(None, description="IANA name, e.g. Europe/Berlin")
    source: Text | None = None
    tags: list[Text] | None = None
    owner: Text | None = Field(None, description="Username; none: round-robin among reps")
    cadence: Text | None = Field(None, description="Name of a cadence to enrol the lead in")
    created_at: Instant | None = Field(None, description="For leads synced from elsewhere")


class LeadAnswer(Schema):
    id: int
    email: str
    owner: str | None
    enrolled_in: list[str]
    enrolment_refused: str | None = None
    ignored_fields: list[str] = []


class LeadPatch(BaseModel):
    """Any lead field; ``status`` with an optional ``occurred_at`` (when it changed)."""

    model_config = ConfigDict(extra="forbid", use_enum_values=True)  # a typo: no silent no-op

    email: Text = ""
    first_name: Text = ""
    last_name: Text = ""
    phone: Text = ""
    title: Text = ""
    timezone: Text = ""
    source: Text = ""
    stage: BuyingStage = BuyingStage.AWARENESS
    address_line1: Text = ""
    address_line2: Text = ""
    city: Text = ""
    region: Text = ""
    postal_code: Text = ""
    country: Text = ""
    notes: Text = ""
    do_not_email: bool = False
    do_not_call: bool = False
    company: CompanyName = ""
    tags: list[Text] = []
    owner: Text = Field("", description="Username of the new owner")
    status: LeadStatus = LeadStatus.NEW
    occurred_at: Instant | None = Field(None, description="When the status changed")


class EnrolmentOut(Schema):
    id: int
    cadence: str
    status: str
    position: int
    exit_reason: str
    started_at: dt.datetime
    paused_at: dt.datetime | None
    ended_at: dt.datetime | None


class NextTaskOut(Schema):
    id: int
    kind: str
    channel: str
    mode: str
    title: str
    cadence: str | None
    step: int | None
    due_at: dt.datetime
    reasons: list[str]
    explanation: str


class LeadOut(Schema):
    id: int
    email: str
    first_name: str
    last_name: str
    name: str
    phone: str
    title: str
    company: str | None
    owner: str | None
    source: str
    status: str
    stage: str
    tags: list[str]
    timezone: str
    address_line1: str
    address_line2: str
    city: str
    region: str
    postal_code: str
    country: str
    notes: str
    do_not_email: bool
    do_not_call: bool
    unsubscribed_at: dt.datetime | None
    bounced_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    status_changed_at: dt.datetime | None
    won_at: dt.datetime | None
    first_touched_at: dt.datetime | None
    last_touched_at: dt.datetime | None
    last_outbound_at: dt.datetime | None
    touch_count: int
    enrolments: list[EnrolmentOut]
    next_task: NextTaskOut | None


class TouchIn(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=True)

    lead_id: Id | None = None
    lead_email: Text | None = None
    channel: Channel
    outcome: Outcome
    occurred_at: Instant | None = None
    notes: Text = ""
    callback_at: Instant | None = Field(None, description="With a voicemail: the callback")
    task_id: Id | None = Field(None, description="The task this touch does; else matched")


class TouchAnswer(Schema):
    id: int
    lead_id: int
    completed_task_id: int | None


class SignalIn(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=True)

    lead_id: Id | None = None
    lead_email: Text | None = Field(None, max_length=254)
    kind: SignalKind
    occurred_at: Instant | None = None
    data: dict[str, Any] = {}

    @field_validator("data")
    @classmethod
    def _storable(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "\\u0000" in json.dumps(value):  # PostgreSQL's jsonb refuses NUL
            raise ValueError("must not contain NUL characters")
        return value


class SignalAnswer(Schema):
    id: int


# --- operations ---------------------------------------------------------------------


@router.post(
    "/leads/",
    response={200: LeadAnswer, 201: LeadAnswer, **ERRORS},
    summary="Create a lead, or match it by email",
)
def lead_create(request: HttpRequest, payload: LeadIn) -> tuple[int, dict]:
    """201 for a new lead, 200 when one with the same email (any case) exists."""
    user = caller(request)
    values = {f: (getattr(payload, f) or "").strip() for f in CSV_TEXT_FIELDS}
    if not values["email"] and not values["phone"]:
        need = "a lead needs an email or a phone"
        raise bad_input({"email": need, "phone": need})
    owner = _owner_named(user, payload.owner)
    cadence = _cadence_named(payload.cadence)
    result = _upsert(payload, user=user, values=values, owner=owner, cadence=cadence)
    answer = _lead_answer(result, ignored=sorted(payload.model_extra or {}))
    return (201 if result.created else 200), answer


def _upsert(
    payload: LeadIn,
    *,
    user: AbstractBaseUser,
    values: dict[str, str],
    owner: AbstractBaseUser | None,
    cadence: Cadence | None,
) -> UpsertResult:
    def attempt() -> UpsertResult:
        return lead_upsert(
            values=values,
            now=timezone.now(),
            owner=owner,
            tags=payload.tags or [],
            company=payload.company or "",
            cadence=cadence,
            created_at=payload.created_at,
            # Another rep's lead with this email: 403 before anything is written.
            may_update=lambda existing: require_may_see(user, existing),
        )

    try:
        try:
            return attempt()
        except IntegrityError:
            # Two requests for one new email at once: the other one created it, the
            # unique index refused ours (never two leads). Now it matches: update it.
            return attempt()
    except LeadRefused as exc:
        raise bad_input(_named(exc.fields)) from None


def _named(fields: dict[str, str]) -> dict[str, str]:
    return {("lead" if k == "__all__" else k): v for k, v in fields.items()}


def _lead_answer(result: UpsertResult, *, ignored: list[str]) -> dict[str, object]:
    lead = result.lead
    enrolment = result.enrolment
    if result.created and (enrolment is None or enrolment.status == Enrolment.Status.ACTIVE):
        # A new lead runs only what this request enrolled it in: no query to ask. (An
        # enrolment that completed at once may have handed the lead on: asked below.)
        enrolled = [enrolment.cadence.name] if enrolment is not None else []
    else:
        running = lead.enrolments.filter(status__in=RUNNING).order_by("started_at", "id")
        enrolled = list(running.values_list("cadence__name", flat=True))
    return {
        "id": lead.id,
        "email": lead.email,
        "owner": lead.owner.get_username() if lead.owner else None,
        "enrolled_in": enrolled,
        "enrolment_refused": result.refusal,
        "ignored_fields": ignored,
    }


def _owner_named(user: AbstractBaseUser, username: str | None) -> AbstractBaseUser | None:
    """The owner a caller may give: a rep names only themselves; a manager anyone."""
    if not username:
        return None
    if username != user.get_username() and not is_manager(user):
        raise ApiError(403, "a rep may only give leads to themselves")
    owner = user_named(username, "owner")
    if not is_rep(owner):
        raise bad_input({"owner": f"{username!r} is not a rep"})
    return owner


def _cadence_by_name_query(name: str) -> QuerySet:
    # .first()'s order: the model's (name), then the id.
    cadences = Cadence.objects.filter(name=name).order_by(*Cadence._meta.ordering, "pk")
    return cadences.values_list(*concrete_fields(Cadence))[:1]


_CADENCE_BY_NAME = HotQuery(_cadence_by_name_query, (str,))


def _cadence_named(name: str | None) -> Cadence | None:
    if not name:
        return None
    found = _CADENCE_BY_NAME.rows(name)
    cadence = row_instances(found[0], Cadence)[0] if found else None
    if cadence is None:
        raise bad_input({"cadence": f"no cadence named {name!r}"})
    if not cadence.is_active:
        raise bad_input({"cadence": f"cadence {name!r} is not active"})
    return cadence


@router.get("/leads/{id}/", response={200: LeadOut, **ERRORS}, summary="Read a lead")
def lead_read(request: HttpRequest, id: Id) -> dict[str, object]:
    """The lead, its enrolments, and its next task with the reasons for its time."""
    return lead_detail(_visible_lead(caller(request), id))


@router.patch("/leads/{id}/", response={200: LeadOut, **ERRORS}, summary="Change a lead")
def lead_change(request: HttpRequest, id: Id, payload: LeadPatch) -> dict[str, object]:
    """Any field; a status of ``won`` or ``lost`` applies the cadences' exit rules."""
    user = caller(request)
    lead = _visible_lead(user, id)
    changes = payload.model_dump(exclude_unset=True)
    status = changes.pop("status", None)
    status_at = changes.pop("occurred_at", None)
    if status_at is not None and status is None:
        raise bad_input({"occurred_at": "goes with status: when the status changed"})
    owner = _owner_named(user, changes.pop("owner")) if "owner" in changes else None
    tags, company = changes.pop("tags", None), changes.pop("company", None)
    _require_contact(lead, changes)
    try:
        lead_update(
            lead=lead,
            values=changes,
            now=timezone.now(),
            status=status,
            status_at=status_at,
            owner=owner,
            tags=tags,
            company=company,
        )
    except LeadRefused as exc:
        raise bad_input(_named(exc.fields)) from None
    return lead_detail(_visible_lead(user, id))


def _require_contact(lead: Lead, changes: dict[str, object]) -> None:
    email = changes.get("email", lead.email)
    phone = changes.get("phone", lead.phone)
    if not str(email).strip() and not str(phone).strip():
        need = "a lead needs an email or a phone"
        raise bad_input({"email": need, "phone": need})


def _visible_lead(user: AbstractBaseUser, lead_id: int) -> Lead:
    """The lead, with what its detail shows, if it exists (404) and the caller may see it (403)."""
    lead = (
        Lead.objects.select_related("owner__rep_profile", "account")
        .prefetch_related("tags")
        .filter(id=lead_id)
        .first()
    )
    if lead is None:
        raise ApiError(404, f"no lead with id {lead_id}")
    require_may_see(user, lead)
    return lead


def lead_detail(lead: Lead) -> dict[str, object]:
    """The lead as ``LeadOut``: fields, enrolments and next task (three queries)."""
    fields = {name: getattr(lead, name) for name in LeadOut.model_fields if hasattr(lead, name)}
    return {
        **fields,
        "company": lead.account.name if lead.account else None,
        "owner": lead.owner.get_username() if lead.owner else None,
        "tags": [tag.name for tag in lead.tags.all()],
        "enrolments": [_enrolment_out(e) for e in lead.enrolments.select_related("cadence")],
        "next_task": _next_task_out(lead),
    }


def _enrolment_out(enrolment: Enrolment) -> dict[str, object]:
    return {
        "id": enrolment.id,
        "cadence": enrolment.cadence.name,
        "status": enrolment.status,
        "position": enrolment.position,
        "exit_reason": enrolment.exit_reason,
        "started_at": enrolment.started_at,
        "paused_at": enrolment.paused_at,
        "ended_at": enrolment.ended_at,
    }


def _next_task_out(lead: Lead) -> dict[str, object] | None:
    task = (
        lead.tasks.filter(status=Task.Status.PENDING)
        .select_related("enrolment__cadence", "step")
        .order_by("due_at", "id")
        .first()
    )
    if task is None:
        return None
    reasons = [str(r) for r in task.due_reasons or []]
    due = DueTime(
        at=task.due_at, reasons=tuple(reasons), naive_at=task.unmoved_due_at or task.due_at
    )
    return {
        "id": task.id,
        "kind": task.kind,
        "channel": task.channel,
        "mode": task.mode,
        "title": task.title,
        "cadence": task.enrolment.cadence.name if task.enrolment else None,
        "step": task.step.position if task.step else None,
        "due_at": task.due_at,
        "reasons": reasons,
        "explanation": due.explain(lead_timezone(lead)),
    }


@router.post("/touches/", response={201: TouchAnswer, **ERRORS}, summary="Log a touch")
def touch_create(request: HttpRequest, payload: TouchIn) -> tuple[int, dict]:
    """Record a touch; it completes the lead's matching task (or ``task_id``'s)."""
    user = caller(request)
    lead = _lead_referred(payload.lead_id, payload.lead_email, required=True)
    require_may_see(user, lead)
    task = _task_referred(payload.task_id)
    if payload.callback_at and lead.owner_id is None:
        raise bad_input({"callback_at": "the lead has no owner to call back"})
    now = timezone.now()
    try:
        touch = touch_log(
            lead=lead,
            # A manager's or an integration's token logs for whoever works the lead.
            rep=user if is_rep(user) else lead.owner,
            channel=payload.channel,
            outcome=payload.outcome,
            occurred_at=payload.occurred_at or now,
            now=now,
            notes=payload.notes,
            callback_at=payload.callback_at,
            task=task,
            source="api",
        )
    except TouchRefused as exc:
        raise bad_input(exc.fields) from None
    completed = Task.objects.filter(touch=touch).values_list("id", flat=True).first()
    return 201, {"id": touch.id, "lead_id": lead.id, "completed_task_id": completed}


def _lead_referred(lead_id: int | None, lead_email: str | None, *, required: bool) -> Lead | None:
    """The lead named by id (404 when none) or by email (None when none, unless required)."""
    if lead_id is not None:
        lead = Lead.objects.filter(id=lead_id).select_related("owner").first()
        if lead is None:
            raise ApiError(404, f"no lead with id {lead_id}")
        if lead_email and lead.email.lower() != lead_email.strip().lower():
            raise bad_input({"lead_email": f"lead {lead_id} has another email"})
        return lead
    if not lead_email or not lead_email.strip():
        raise bad_input({"lead_id": "give lead_id or lead_email"})
    lead = lead_find_by_email(lead_email)
    if lead is None and required:
        raise ApiError(404, f"no lead with email {lead_email.strip()!r}")
    return lead


def _task_referred(task_id: int | None) -> Task | None:
    if task_id is None:
        return None
    task = Task.objects.filter(id=task_id).select_related("step", "enrolment").first()
    if task is None:
        raise ApiError(404, f"no task with id {task_id}")
    return task


@router.post("/signals/", response={202: SignalAnswer, **ERRORS}, summary="Post a signal")
def signal_create(request: HttpRequest, payload: SignalIn) -> tuple[int, dict]:
    """Store a signal and apply it; one for an unknown email is kept for later (202)."""
    user = caller(request)
    lead_email = (payload.lead_email or "").strip()
    if lead_email:
        _require_email(lead_email)
    lead = _lead_referred(payload.lead_id, lead_email, required=False)
    if lead is not None:
        require_may_see(user, lead)
    now = timezone.now()
    signal = signal_record(
        kind=payload.kind,
        occurred_at=payload.occurred_at or now,
        lead=lead,
        lead_email=lead_email,
        data=payload.data,
        now=now,
    )
    return 202, {"id": signal.id}


def _require_email(value: str) -> None:
    try:
        validate_email(value)
    except DjangoValidationError:
        raise bad_input({"lead_email": "not an email address"}) from None
