"""Routing: who owns a new lead and which cadence it starts, from rules managed in admin.

The first active rule (lowest priority number) whose source and tag match decides. A
rule names a fixed owner or a pool whose reps take turns; with no matching rule the
lead goes to the team-wide rotation (``leads.services.next_owner``) and no cadence.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import QuerySet

from cadences.models import Cadence
from followup.prepared import HotQuery, concrete_fields, row_instances
from followup.roles import active_reps
from leads.models import RoutingRule, TimeOff
from leads.services import next_owner


def rule_matches(rule: RoutingRule, *, source: str, tags: list[str]) -> bool:
    if rule.source and rule.source.strip().lower() != (source or "").strip().lower():
        return False
    wanted = rule.tag.strip().lower()
    return not wanted or wanted in {t.strip().lower() for t in tags}


def matching_rule(*, source: str, tags: list[str]) -> RoutingRule | None:
    """The first active rule by priority that matches. Every new lead asks, so the rules
    are read by a hot query; the matched rule's cadence and owner load when used."""
    for row in _ACTIVE_RULES.rows():
        (rule,) = row_instances(row, RoutingRule)
        if rule_matches(rule, source=source, tags=tags):
            return rule
    return None


def _active_rules_query() -> QuerySet:
    rules = RoutingRule.objects.filter(is_active=True).order_by("priority", "id")
    return rules.values_list(*concrete_fields(RoutingRule))


_ACTIVE_RULES = HotQuery(_active_rules_query, ())


def route_lead(
    *, source: str, tags: list[str], now: dt.datetime
) -> tuple[AbstractBaseUser | None, Cadence | None]:
    """The owner and the cadence for a new lead with this source and these tags.

    A rule whose pool has nobody available today (all on time off or inactive) keeps
    its cadence but hands the lead to the team-wide rotation: a lead is never left
    without an owner while anyone is working.
    """
    rule = matching_rule(source=source, tags=tags)
    if rule is None:
        return next_owner(now=now), None
    cadence = rule.cadence if rule.cadence and rule.cadence.is_active else None
    owner = _rule_owner(rule, now=now)
    return owner or next_owner(now=now), cadence


def _rule_owner(rule: RoutingRule, *, now: dt.datetime) -> AbstractBaseUser | None:
    if rule.owner_id and rule.owner.is_active:
        return rule.owner
    return pool_next(rule, now=now)


def pool_next(rule: RoutingRule, *, now: dt.datetime) -> AbstractBaseUser | None:
    """The pool's next available rep after the last one picked, in id order (round-robin).

    The rule row is locked (PostgreSQL) so two leads routed at once by two web
    processes do not both read the same ``last_assigned`` and go to the same rep.
    """
    with transaction.atomic():
        locked = RoutingRule.objects.filter(id=rule.id)
        if connection.vendor == "postgresql":
            locked = locked.select_for_update()
        last_id = locked.values_list("last_assigned_id", flat=True).first()
        available = _available_ids(rule, now=now)
        if not available:
            return None
        after = [i for i in available if last_id is None or i > last_id]
        chosen = (after or available)[0]
        RoutingRule.objects.filter(id=rule.id).update(last_assigned_id=chosen)
    rule.last_assigned_id = chosen
    return get_user_model().objects.get(id=chosen)


def _available_ids(rule: RoutingRule, *, now: dt.datetime) -> list[int]:
    today = now.date()
    away = TimeOff.objects.filter(starts_on__lte=today, ends_on__gte=today).values("rep_id")
    reps = active_reps().filter(routing_pools=rule).exclude(id__in=away)
    return sorted(set(reps.values_list("id", flat=True)))
