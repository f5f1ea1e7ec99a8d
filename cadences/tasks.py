"""django-q2 tasks: thin wrappers that take ids or nothing, call a service, and are
safe to run twice (every service they call claims its work with a compare-and-set)."""

from __future__ import annotations

from dataclasses import asdict

from django.utils import timezone

from cadences.services import enrolments_repair
from cadences.tick import tick as run_tick
from leads.services import rep_profiles_ensure


def tick() -> dict:
    return asdict(run_tick(now=timezone.now()))


def repair() -> int:
    """Hourly belt and braces: enrolments without a live task, reps without a profile
    (outside the routing rotation, e.g. put in the reps group from a shell)."""
    rep_profiles_ensure()
    return enrolments_repair(now=timezone.now()).scheduled


def trim_task_history(keep_days: int = 7) -> int:
    """django-q2 keeps every task result; the tick alone adds 1,440 a day."""
    from django_q.models import Task as QTask

    cutoff = timezone.now() - timezone.timedelta(days=keep_days)
    deleted, _ = QTask.objects.filter(stopped__lt=cutoff).delete()
    return deleted
