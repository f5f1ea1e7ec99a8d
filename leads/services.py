"""Writes about leads and the people who work them."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from followup import audit
from followup.prepared import HotQuery, concrete_fields, row_instances
from followup.roles import REPS
from leads.models import Account, ApiToken, Lead, RepProfile, Tag, TimeOff

TOKEN_PREFIX = "fu_"


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_create(*, user: AbstractBaseUser, name: str = "") -> tuple[ApiToken, str]:
    """Make a token; return it with its key, which is never stored and shown only now."""
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=key[:10], key_hash=hash_api_key(key)
    )
    return token, key


def api_token_revoke(*, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


# --- leads -------------------------------------------------------------------------

LEAD_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "timezone",
    "source",
    "stage",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "notes",
    "do_not_email",
    "do_not_call",
)


class LeadRefused(ValueError):
    """The lead data cannot be used; ``fields`` maps field names to messages."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


@dataclass
class UpsertResult:
    lead: Lead
    created: bool
    enrolment: object | None = None
    refusal: str | None = None


def lead_find_by_email(email: str) -> Lead | None:
    """The lead with this email in any case (every API post and import row asks)."""
    if not email:
        return None
    found = _LEAD_BY_EMAIL.rows(email.strip())
    return row_instances(found[0], Lead)[0] if found else None


def _lead_by_email_query(email: str) -> QuerySet:
    leads = Lead.objects.filter(email__iexact=email)  # the newest first, as .first() did
    return leads.values_list(*concrete_fields(Lead))[:1]


_LEAD_BY_EMAIL = HotQuery(_lead_by_email_query, (str,))


def account_for(name: str, *, now: dt.datetime) -> Account | None:
    name = " ".join((name or "").split())
    if not name:
        return None
    found = _ACCOUNT_BY_NAME.rows(name)
    if found:
        return row_instances(found[0], Account)[0]
    try:
        with transaction.atomic():
            return Account.objects.create(name=name, created_at=now)
    except IntegrityError:  # a concurrent import created it
        return Account.objects.get(name__iexact=name)


def _account_by_name_query(name: str) -> QuerySet:
    accounts = Account.objects.filter(name__iexact=name)  # by name, as .first() did
    return accounts.values_list(*concrete_fields(Account))[:1]


_ACCOUNT_BY_NAME = HotQuery(_account_by_name_query, (str,))


def tags_for(names: list[str]) -> list[Tag]:
    clean = sorted({" ".join(n.split())[:60] for n in names if n and n.strip()})
    existing = list(Tag.objects.filter(name__in=clean))
    if len(existing) == len(clean):
        return existing  # the usual case: every tag is known, one query
    known = {t.name for t in existing}
    Tag.objects.bulk_create([Tag(name=n) for n in clean if n not in known], ignore_conflicts=True)
    return list(Tag.objects.filter(name__in=clean))


def next_owner(*, now: dt.datetime) -> AbstractBaseUser | None:
    """Round-robin among active reps not on time off today: least recently assigned first.

    The rotation is the reps' profiles in ``routing_seq`` order (a new profile has 0, so a
    rep who just joined goes next), read by one walk of the ``repprofile_rotation`` index
    that stops at the first rep available, whatever the size of the team. A rep without a
    profile is not in the rotation: ``rep_profiles_ensure`` gives one to every rep, run
    when the team admin saves a user and by the worker's hourly repair.
    """
    # savepoint=False: inside a caller's transaction (an upsert) the lock is held to its
    # commit either way, and a savepoint would cost two round trips per lead.
    with transaction.atomic(savepoint=False):
        found = _ROTATION.rows(now.date())
        if not found:
            return None
        profile, user = row_instances(found[0], RepProfile, get_user_model())
        rep_profile_cache(user, profile)
        _mark_assigned(profile, now=now)
    return user


def _rotation_query(today: dt.date) -> QuerySet:
    away = TimeOff.objects.filter(
        rep_id=OuterRef("user_id"), starts_on__lte=today, ends_on__gte=today
    )
    profiles = (
        RepProfile.objects.filter(user__is_active=True, user__groups__name=REPS)
        .exclude(Exists(away))
        .order_by("routing_seq", "user_id")
    )
    if _pg():
        # SKIP LOCKED: two leads routed at once go to two different reps.
        profiles = profiles.select_for_update(of=("self",), skip_locked=True)
    columns = [
        *concrete_fields(RepProfile),
        *(f"user__{n}" for n in concrete_fields(get_user_model())),
    ]
    return profiles.values_list(*columns)[:1]


_ROTATION = HotQuery(_rotation_query, (dt.date,))


def _mark_assigned(profile: RepProfile, *, now: dt.datetime) -> None:
    """Move the profile's rep to the back of the rotation: one UPDATE.

    A sequence, not a timestamp: leads imported with one --now still alternate.
    """
    # Plain SQL for the one expression: the ORM's subquery cost more to build than to run.
    next_seq = RawSQL(f"SELECT COALESCE(MAX(routing_seq), 0) + 1 FROM {_PROFILES}", ())
    RepProfile.objects.filter(pk=profile.pk).update(last_assigned_at=now, routing_seq=next_seq)


_PROFILES = RepProfile._meta.db_table


def rep_profiles_ensure() -> int:
    """Give every member of the reps group without a profile one (default settings),
    which puts them next in the routing rotation. Returns how many lacked one."""
    missing = get_user_model().objects.filter(groups__name=REPS, rep_profile__isnull=True)
    made = RepProfile.objects.bulk_create(
        [RepProfile(user_id=user_id) for user_id in missing.values_list("id", flat=True)],
        ignore_conflicts=True,  # a concurrent save made it first
    )
    return len(made)


def rep_profile_cache(user: AbstractBaseUser, profile: RepProfile | None) -> None:
    """Remember ``user.rep_profile`` (None included) as ``select_related`` would, so
    reading it asks nothing; ``profile.user`` is ``user``."""
    if profile is not None:
        profile.user = user
    RepProfile._meta.get_field("user").remote_field.set_cached_value(user, profile)


def _pg() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def lead_upsert(
    *,
    values: dict[str, object],
    now: dt.datetime,
    owner: AbstractBaseUser | None = None,
    tags: list[str] | None = None,
    company: str = "",
    cadence: object | None = None,
    created_at: dt.datetime | None = None,
    may_update: Callable[[Lead], None] | None = None,
) -> UpsertResult:
    """Create a lead, or update the one with the same email (blank values keep old ones).

    One transaction: the lead, its owner, its tags and its enrolment land together.
    A new lead with a suppressed email is refused (LeadRefused on ``email``); a new lead
    without an owner is routed by the routing rules (owner, and cadence if none given).
    ``may_update`` is called with the lead found, before anything is written; it raises
    to refuse (the API's access check, done here to spare it a lookup of its own).
    """
    from cadences.services import EnrolmentRefused, enrolment_start
    from leads.routing import route_lead
    from leads.suppression import suppression_check

    values = {k: v for k, v in values.items() if k in LEAD_FIELDS}
    with transaction.atomic():
        lead = lead_find_by_email(str(values.get("email") or ""))
        created = lead is None
        if not created and may_update is not None:
            may_update(lead)
        if created:
            suppression_check(str(values.get("email") or ""))
            if owner is None:
                source = str(values.get("source") or "")
                owner, routed = route_lead(source=source, tags=tags or [], now=now)
                cadence = cadence or routed
            lead = _lead_new(values, owner=owner, now=now, created_at=created_at)
        else:
            _lead_merge(lead, values, owner=owner)
        if company:
            lead.account = account_for(company, now=now)
        _lead_validate_and_save(lead)
        if tags:
            lead.tags.add(*tags_for(tags))
        result = UpsertResult(lead=lead, created=created)
        if cadence is not None:
            try:
                result.enrolment = enrolment_start(
                    lead=lead, cadence=cadence, now=now, lead_is_new=created
                )
            except EnrolmentRefused as exc:
                result.refusal = str(exc)
    return result


def _lead_new(
    values: dict[str, object],
    *,
    owner: AbstractBaseUser | None,
    now: dt.datetime,
    created_at: dt.datetime | None,
) -> Lead:
    lead = Lead(**{k: v for k, v in values.items() if v not in (None, "")})
    lead.email = str(lead.email or "").strip()
    lead.owner = owner or next_owner(now=now)
    lead.created_at = created_at or now
    return lead


def _lead_merge(lead: Lead, values: dict[str, object], *, owner: AbstractBaseUser | None) -> None:
    for field, value in values.items():
        if value not in (None, "") and field != "email":
            setattr(lead, field, value)
    if owner is not None:
        lead.owner = owner


SINGLE_LINE_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "timezone",
    "source",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
)
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
_EMAIL_OR_PHONE = next(c for c in Lead._meta.constraints if c.name == "lead_has_email_or_phone")


def _lead_validate_and_save(lead: Lead) -> None:
    errors: dict[str, str] = {}
    try:
        # Constraints are checked here in Python, not by Django's validate_constraints,
        # which asks the database once per constraint (four round trips a lead): the
        # email's uniqueness was looked up by the caller in this transaction, and the
        # unique index still refuses a racing duplicate (IntegrityError).
        lead.full_clean(
            exclude=["owner", "account", "tags"], validate_unique=False, validate_constraints=False
        )
    except ValidationError as exc:
        errors = {field: " ".join(messages) for field, messages in exc.message_dict.items()}
    if not str(lead.email or "") and not str(lead.phone or ""):
        errors.setdefault(NON_FIELD_ERRORS, _EMAIL_OR_PHONE.get_violation_error_message())
    for field in SINGLE_LINE_FIELDS:
        # A name with a line break could split an email header it is written into.
        if CONTROL_CHARACTERS.search(str(getattr(lead, field) or "")):
            errors.setdefault(field, "must be one line, without control characters")
    if errors:
        raise LeadRefused(errors)
    lead.save()


def lead_update(
    *,
    lead: Lead,
    values: dict[str, object],
    now: dt.datetime,
    status: str | None = None,
    status_at: dt.datetime | None = None,
    owner: AbstractBaseUser | None = None,
    tags: list[str] | None = None,
    company: str | None = None,
) -> Lead:
    """Change a lead's fields; a status of won/lost applies the exit rules (CONTRACT §5).

    Unlike import, a blank value here clears the field: this is an edit, not a merge.
    Changing the email to one another lead has raises LeadRefused naming ``email``.
    """
    from cadences.services import lead_status_set, stop_channel

    with transaction.atomic():
        lead = Lead.objects.select_for_update().get(id=lead.id)
        audited = audit.lead_snapshot(lead)  # the audit log keeps status and owner changes
        new_email = str(values.get("email", lead.email) or "").strip()
        if new_email.lower() != lead.email.lower() and lead_find_by_email(new_email):
            raise LeadRefused({"email": f"another lead already has {new_email}"})
        for field, value in values.items():
            if field in LEAD_FIELDS:
                setattr(lead, field, value if value is not None else "")
        if owner is not None:
            lead.owner = owner
        if company is not None:
            lead.account = account_for(company, now=now)
        _lead_validate_and_save(lead)
        if tags is not None:
            lead.tags.set(tags_for(tags))
        if lead.do_not_call:
            stop_channel(lead=lead, channel="call", reason="do not call", at=now)
        if lead.do_not_email:
            stop_channel(lead=lead, channel="email", reason="do not email", at=now)
        if status and status != lead.status:
            lead_status_set(lead=lead, status=status, at=status_at or now)
        audit.lead_changed(lead=lead, before=audited, at=now)
    return lead
