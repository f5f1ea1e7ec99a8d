"""The suppression list: emails and domains that no import, form or API call may add back.

A lead who unsubscribed or bounced is suppressed for good, so a later trade-show list
or a web form cannot quietly put them back into a cadence. Addresses and domains are
stored lower case and compared lower case.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from followup.prepared import HotQuery
from leads.models import Suppression
from leads.services import LeadRefused

SUPPRESSED = "suppressed"


def _domain(email: str) -> str:
    return email.rpartition("@")[2].strip().lower()


def suppressed_among(emails: Iterable[str]) -> set[str]:
    """The lower-cased emails of ``emails`` that are suppressed, in one query."""
    wanted = {e.strip().lower() for e in emails if e and e.strip()}
    if not wanted:
        return set()
    domains = {_domain(e) for e in wanted}
    hits = Suppression.objects.filter(Q(email__in=wanted) | Q(domain__in=domains)).values_list(
        "email", "domain"
    )
    emails_hit = {email for email, _ in hits if email}
    domains_hit = {domain for _, domain in hits if domain}
    return {e for e in wanted if e in emails_hit or _domain(e) in domains_hit}


def is_suppressed(email: str) -> bool:
    """Whether the email or its domain is suppressed: one query (every new lead asks)."""
    email = (email or "").strip().lower()
    # No domain ("ann@"): NULL matches no row (email rows have a blank domain).
    return bool(email) and bool(_SUPPRESSION_OF.rows(email, _domain(email) or None))


def _suppression_of_query(email: str, domain: str) -> QuerySet:
    hits = Suppression.objects.filter(Q(email=email) | Q(domain=domain)).order_by()
    return hits.values_list("pk")[:1]


_SUPPRESSION_OF = HotQuery(_suppression_of_query, (str, str))


def suppression_check(email: str) -> None:
    """Refuse a suppressed email the way the API and forms refuse bad input (LeadRefused)."""
    if is_suppressed(email):
        raise LeadRefused({"email": "is on the suppression list (unsubscribed or bounced)"})


def suppress_email(email: str, reason: str) -> Suppression | None:
    """Add an email to the list; idempotent (a second call keeps the first reason)."""
    email = (email or "").strip().lower()
    if not email:
        return None
    existing = Suppression.objects.filter(email=email).first()
    if existing:
        return existing
    try:
        with transaction.atomic():
            return Suppression.objects.create(email=email, reason=reason[:200])
    except IntegrityError:  # a concurrent unsubscribe and bounce for the same address
        return Suppression.objects.get(email=email)
