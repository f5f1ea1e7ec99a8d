"""A rep's follow-ups as an iCalendar feed, so they show in the calendar the rep already uses.

The feed's URL carries a secret token (``RepProfile.calendar_token``) instead of a
login, because calendar apps cannot log in; regenerating the token revokes the old URL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.contrib.auth.models import AbstractBaseUser
from icalendar import Calendar, Event

from cadences import scheduling
from cadences.models import Step, Task
from cadences.services import rep_timezone
from leads.models import Lead, RepProfile

FEED_DAYS = 30
EVENT_MINUTES = 15
UID_DOMAIN = "followup"

VERBS = {
    "call": "Call",
    "email": "Email",
    "mail": "Mail",
    "sms": "Text",
    "social": "Social touch:",
    "meeting": "Meet",
    "task": "Task:",
}


def rep_profile_for(user: AbstractBaseUser) -> RepProfile:
    """The rep's profile, made on first use, with a feed token ready."""
    profile, _ = RepProfile.objects.get_or_create(user=user)
    if not profile.calendar_token:
        calendar_token_regenerate(profile=profile)
    return profile


def calendar_token_regenerate(*, profile: RepProfile) -> str:
    """A new feed URL; the old one answers 404 from now on."""
    token = profile.new_calendar_token()
    profile.save(update_fields=["calendar_token"])
    return token


def rep_for_calendar_token(token: str) -> AbstractBaseUser | None:
    if not token:
        return None
    profile = (
        RepProfile.objects.select_related("user")
        .filter(calendar_token=token, user__is_active=True)
        .first()
    )
    return profile.user if profile else None


def feed_tasks(*, rep: AbstractBaseUser, now: dt.datetime) -> list[Task]:
    """The rep's pending manual tasks and callbacks from the start of today to 30 days on.

    Today's earlier tasks stay in: a call due at 9:00 and not made is still to do.
    """
    tz = rep_timezone(rep)
    day_start = scheduling.local_day_bounds(scheduling.local_date(now, tz), tz)[0]
    return list(
        Task.objects.filter(
            rep=rep,
            status=Task.Status.PENDING,
            mode=Step.Mode.MANUAL,
            due_at__gte=day_start,
            due_at__lt=now + dt.timedelta(days=FEED_DAYS),
        )
        .select_related("lead__account", "step", "enrolment__cadence")
        .order_by("due_at", "id")
    )


def _lead_label(lead: Lead) -> str:
    label = lead.name or lead.email or lead.phone
    return f"{label} ({lead.account.name})" if lead.account else label


def task_reason(task: Task) -> str:
    if task.kind == Task.Kind.CALLBACK:
        return "callback"
    if task.kind == Task.Kind.HOT:
        return "hot lead"
    if task.enrolment and task.step:
        return f"{task.enrolment.cadence.name} step {task.step.position}"
    return task.title or "task"


def task_summary(task: Task) -> str:
    """E.g. "Call Ann Lee (Acme) · callback"."""
    verb = VERBS.get(task.channel, task.channel.title())
    return f"{verb} {_lead_label(task.lead)} · {task_reason(task)}"


def _event(task: Task, *, now: dt.datetime, lead_url: Callable[[Lead], str]) -> Event:
    event = Event()
    event.add("uid", f"task-{task.id}@{UID_DOMAIN}")
    event.add("dtstamp", now.astimezone(dt.UTC))
    event.add("dtstart", task.due_at.astimezone(dt.UTC))
    event.add("duration", dt.timedelta(minutes=EVENT_MINUTES))
    event.add("summary", task_summary(task))
    lines = [f"Why: {task_reason(task)}"]
    if task.title and task.title != task_reason(task):
        lines.append(task.title)
    if task.lead.phone:
        lines.append(f"Phone: {task.lead.phone}")
    lines.append(lead_url(task.lead))
    event.add("description", "\n".join(lines))
    event.add("url", lead_url(task.lead))
    return event


def calendar_feed(
    *, rep: AbstractBaseUser, now: dt.datetime, lead_url: Callable[[Lead], str]
) -> bytes:
    """The iCalendar text of the rep's next 30 days; ``lead_url`` makes absolute links."""
    calendar = Calendar()
    calendar.add("prodid", "-//followup//rep follow-ups//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"Follow-ups of {rep.get_full_name() or rep.get_username()}")
    for task in feed_tasks(rep=rep, now=now):
        calendar.add_component(_event(task, now=now, lead_url=lead_url))
    return calendar.to_ical()
