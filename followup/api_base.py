"""What every HTTP API operation shares: the token check, the error shapes, access rules.

CONTRACT.md section 6: ``Authorization: Bearer TOKEN``; errors are JSON
``{"error": "...", "fields": {...}}`` (400) or ``{"error": "..."}`` (401, 403, 404, 413,
429). The checks that need no body (size, token, rate) run in the auth callable, which
django-ninja calls before it reads the body, so an oversized or unauthenticated request
costs no parsing.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from typing import Annotated

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Schema
from ninja.security import HttpBearer
from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

from followup.prepared import HotQuery, concrete_fields, row_instances
from followup.roles import is_manager
from leads import ratelimit
from leads.models import ApiToken, Lead, RepProfile
from leads.services import hash_api_key, rep_profile_cache

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # JSON bodies; a lead or a touch is a few hundred bytes
LAST_USED_EVERY = dt.timedelta(minutes=1)  # at most one write per token and minute
MAX_ID = 2**63 - 1  # ids beyond a bigint are refused as input, not sent to the database
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)


class ApiError(Exception):
    """An answer other than success; the API's exception handler renders it."""

    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields
        self.retry_after: int | None = None


def bad_input(fields: dict[str, str]) -> ApiError:
    return ApiError(400, "invalid input: " + ", ".join(fields), fields)


# --- schemas shared by every operation -----------------------------------------------


class ErrorOut(Schema):
    error: str


class FieldErrorOut(Schema):
    error: str
    fields: dict[str, str]


ERRORS: dict[int, type[Schema]] = {
    400: FieldErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    413: ErrorOut,
    429: ErrorOut,
}


def _no_nul(value: str) -> str:
    # PostgreSQL refuses NUL in text; say so instead of failing with a 500.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _in_range(value: dt.datetime) -> dt.datetime:
    if not EARLIEST <= value < LATEST:
        raise ValueError("must be between 1970 and 2200")
    return value


def _date_in_range(value: dt.date) -> dt.date:
    if not EARLIEST.date() <= value < LATEST.date():
        raise ValueError("must be between 1970 and 2200")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
CompanyName = Annotated[str, StringConstraints(max_length=200), AfterValidator(_no_nul)]
# An instant with its offset: a naive time would be read in whose zone? Refused (400).
Instant = Annotated[AwareDatetime, AfterValidator(_in_range)]
Day = Annotated[dt.date, AfterValidator(_date_in_range)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


# --- authentication -----------------------------------------------------------------


class BearerToken(HttpBearer):
    """``Authorization: Bearer <key>`` against ``ApiToken.key_hash``; revoked keys fail."""

    def __init__(self, *, managers_only: str = "") -> None:
        super().__init__()
        self.managers_only = managers_only  # what is for managers only, for the 403

    def __call__(self, request: HttpRequest) -> ApiToken | None:
        _refuse_oversized(request)
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        api_token = token_for_key(token)
        if api_token is None:
            return None
        _enforce_rate(api_token)
        _note_use(api_token)
        if self.managers_only:
            require_manager(api_token.user, self.managers_only)
        request.user = api_token.user
        return api_token


def _refuse_oversized(request: HttpRequest) -> None:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ApiError(400, "Content-Length is not a number", {"body": "bad length"}) from None
    if length > MAX_BODY_BYTES:
        raise ApiError(413, f"the body is larger than {MAX_BODY_BYTES} bytes")


def token_for_key(key: str) -> ApiToken | None:
    """The active token with this key, its user and profile in the same query.

    Every API request asks this, so the query is a ``HotQuery`` (compiled once, prepared
    on PostgreSQL) of the three rows' columns, and the instances are made from its row
    as ``select_related`` would make them.
    """
    if not key or len(key) > 200:
        return None
    found = _TOKEN_ROW.rows(hash_api_key(key))
    return _token_from_row(found[0]) if found else None


_TOKEN_FIELDS = concrete_fields(ApiToken)
_USER_FIELDS = concrete_fields(get_user_model())
_PROFILE_FIELDS = concrete_fields(RepProfile)


def _token_row_query(key_hash: str) -> QuerySet:
    columns = [
        *_TOKEN_FIELDS,
        *(f"user__{name}" for name in _USER_FIELDS),
        *(f"user__rep_profile__{name}" for name in _PROFILE_FIELDS),
    ]
    tokens = ApiToken.objects.filter(key_hash=key_hash, revoked_at=None, user__is_active=True)
    return tokens.values_list(*columns).order_by("pk")[:1]


_TOKEN_ROW = HotQuery(_token_row_query, (str,))


def _token_from_row(row: tuple) -> ApiToken:
    end = len(_TOKEN_FIELDS) + len(_USER_FIELDS)
    token, user = row_instances(row[:end], ApiToken, get_user_model())
    token.user = user
    profile = None
    if row[end] is not None:  # the profile's id: none when the user has none
        (profile,) = row_instances(row[end:], RepProfile)
    rep_profile_cache(user, profile)
    return token


def _enforce_rate(api_token: ApiToken) -> None:
    limit = ratelimit.rate_per_minute()
    wait = ratelimit.rate_limit_hit(key=api_token.key_hash[:32], limit=limit, now=time.time())
    if wait is not None:
        error = ApiError(429, f"more than {limit} requests a minute; retry later")
        error.retry_after = math.ceil(wait)
        raise error


def _note_use(api_token: ApiToken) -> None:
    now = timezone.now()
    if api_token.last_used_at and now - api_token.last_used_at < LAST_USED_EVERY:
        return
    ApiToken.objects.filter(id=api_token.id).update(last_used_at=now)
    api_token.last_used_at = now


# --- who may see what ---------------------------------------------------------------


def caller(request: HttpRequest) -> AbstractBaseUser:
    return request.auth.user


def may_see(user: AbstractBaseUser, lead: Lead) -> bool:
    """A rep sees the leads they own; a manager sees all."""
    return lead.owner_id == user.id or is_manager(user)


def require_may_see(user: AbstractBaseUser, lead: Lead) -> None:
    if not may_see(user, lead):
        raise ApiError(403, f"lead {lead.id} belongs to another rep")


def require_manager(user: AbstractBaseUser, what: str) -> None:
    if not is_manager(user):
        raise ApiError(403, f"{what} is for managers only")


def user_named(username: str, field: str) -> AbstractBaseUser:
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise bad_input({field: f"no active user named {username!r}"})
    return user
