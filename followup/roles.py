"""Who is a rep and who is a manager: Django groups, as CONTRACT.md section 2 says."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

REPS = "reps"
MANAGERS = "managers"


def _group_names(user: AbstractBaseUser | AnonymousUser) -> set[str]:
    cached = getattr(user, "_followup_groups", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True)) if user.is_authenticated else set()
        user._followup_groups = cached
    return cached


def is_manager(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or MANAGERS in _group_names(user)))


def is_rep(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.is_active and REPS in _group_names(user))


def active_reps() -> QuerySet:
    return get_user_model().objects.filter(is_active=True, groups__name=REPS).order_by("id")
