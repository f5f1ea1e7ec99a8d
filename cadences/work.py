"""What a rep does from the queue: log an outcome, send a composed email, cancel an
automated one, and the callback times a voicemail can promise.

Each write checks that its task is still pending inside the transaction that changes
it, so a double click or two tabs log one touch, not two.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.utils import formataddr, make_msgid
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction

from cadences import scheduling
from cadences.models import OutboundEmail, Task
from cadences.outbox import unsubscribe_url
from cadences.services import task_skip
from leads.models import Lead, Touch
from leads.touches import touch_log

CALLBACK_TIME = dt.time(8, 30)
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class TaskClosed(Exception):
    """The task is no longer pending (done in another tab, skipped, cancelled)."""


class EmailRefused(Exception):
    """The email cannot go to this lead; ``str()`` says why in a rep's words."""


# --- callback times a voicemail can promise --------------------------------------------


@dataclass(frozen=True)
class CallbackChoice:
    key: str
    label: str
    at: dt.datetime | None  # UTC; None for "no callback" and "pick a time"
    phrase: str  # how the voicemail names it: "tomorrow at 8:30"


def callback_choices(
    *, tz: str, now: dt.datetime, holiday_country: str = ""
) -> list[CallbackChoice]:
    """Next business day and two business days on, each at 08:30 lead-local."""
    calendar = scheduling.Calendar(holiday_country=holiday_country or None)
    today = scheduling.local_date(now, tz)
    choices = []
    for key, days in (("next_day", 1), ("two_days", 2)):
        day = calendar.add_business_days(today, days)
        at = dt.datetime.combine(day, CALLBACK_TIME, tzinfo=ZoneInfo(tz)).astimezone(dt.UTC)
        phrase = spoken_time(at, tz=tz, now=now)
        choices.append(CallbackChoice(key, phrase[0].upper() + phrase[1:], at, phrase))
    return choices


def spoken_time(at: dt.datetime, *, tz: str, now: dt.datetime) -> str:
    """A callback time as a voicemail says it: "tomorrow at 8:30", "on Monday at 14:00"."""
    local = at.astimezone(ZoneInfo(tz))
    today = scheduling.local_date(now, tz)
    clock = f"{local.hour}:{local.minute:02d}"
    if local.date() == today:
        return f"today at {clock}"
    if local.date() == today + dt.timedelta(days=1):
        return f"tomorrow at {clock}"
    if local.date() < today + dt.timedelta(days=7):
        return f"on {WEEKDAY_NAMES[local.weekday()]} at {clock}"
    return f"on {WEEKDAY_NAMES[local.weekday()]} {local.day} {local:%B} at {clock}"


# --- logging an outcome ----------------------------------------------------------------


@transaction.atomic
def task_outcome_log(
    *,
    task: Task,
    rep: AbstractBaseUser,
    outcome: str,
    now: dt.datetime,
    notes: str = "",
    callback_at: dt.datetime | None = None,
    subject: str = "",
    asset: object | None = None,
) -> Touch:
    """Log the touch that works this task; it completes the task and advances the cadence.

    Raises ``TaskClosed`` when the task was finished meanwhile (a double submit) and
    ``leads.touches.TouchRefused`` for a bad callback time; either way nothing changes.
    """
    _lock_pending(task)
    return touch_log(
        lead=task.lead,
        rep=rep,
        channel=task.channel,
        outcome=outcome,
        occurred_at=now,
        now=now,
        notes=notes,
        task=task,
        callback_at=callback_at,
        subject=subject,
        asset=asset,
    )


def _lock_pending(task: Task) -> None:
    # select_for_update serialises two submits on PostgreSQL; SQLite's IMMEDIATE
    # transactions already do. The second one then sees the task done.
    locked = Task.objects.select_for_update().filter(id=task.id, status=Task.Status.PENDING)
    if not locked.exists():
        raise TaskClosed("This task was already worked.")


# --- emails from the queue ---------------------------------------------------------------


def sender_address(rep: AbstractBaseUser) -> str:
    """The rep as the sender ("Alice Doe <alice@…>"), else the site's address."""
    if not rep.email:
        return settings.DEFAULT_FROM_EMAIL
    return formataddr((rep.get_full_name(), rep.email))


def email_refusal(lead: Lead) -> str | None:
    """Why no email may go to this lead, or None when one may."""
    if lead.bounced_at:
        return f"{lead} cannot be emailed: their address bounced."
    if lead.unsubscribed_at:
        return f"{lead} cannot be emailed: they unsubscribed."
    if lead.do_not_email:
        return f"{lead} asked not to be emailed (do not email)."
    if not lead.email:
        return f"{lead} has no email address."
    return None


def email_send_manual(
    *,
    task: Task,
    rep: AbstractBaseUser,
    subject: str,
    body: str,
    now: dt.datetime,
    deliver: bool = True,
    asset: object | None = None,
) -> Touch:
    """Send the rep's email (or record one sent elsewhere) and complete the task.

    The send happens before the touch is written and outside any transaction, so a
    slow mail server never holds the database; an SMTP failure changes nothing.
    """
    refusal = email_refusal(task.lead)
    if refusal:
        raise EmailRefused(refusal)
    if not Task.objects.filter(id=task.id, status=Task.Status.PENDING).exists():
        raise TaskClosed("This email task was already worked.")
    if not deliver:
        return _log_sent(
            task=task,
            rep=rep,
            subject=subject,
            now=now,
            asset=asset,
            notes=f"Sent outside followup.\n\n{body}",
        )
    row = _claim_send(task=task, rep=rep, subject=subject, body=body, now=now)
    _deliver(row=row, task=task, rep=rep)
    with transaction.atomic():
        touch = _log_sent(task=task, rep=rep, subject=subject, now=now, asset=asset, notes=body)
        OutboundEmail.objects.filter(id=row.id).update(
            status=OutboundEmail.Status.SENT,
            sent_at=now,
            lease_until=None,
            recorded=True,
            touch=touch,
        )
    return touch


def _log_sent(**kwargs: object) -> Touch:
    return task_outcome_log(outcome="sent", **kwargs)


def _claim_send(
    *, task: Task, rep: AbstractBaseUser, subject: str, body: str, now: dt.datetime
) -> OutboundEmail:
    """The task's one outbox row, marked ``sending``: a double click cannot send twice.

    The unique task on the outbox is the guard; a crash mid-send leaves the row to
    become ``unknown`` for the rep to check, as with automated emails.
    """
    lease = now + dt.timedelta(seconds=settings.FOLLOWUP["SEND_LEASE_SECONDS"])
    try:
        with transaction.atomic():
            return OutboundEmail.objects.create(
                task=task,
                lead=task.lead,
                to_email=task.lead.email,
                from_email=sender_address(rep),
                subject=subject,
                body_text=body,
                message_id=make_msgid(domain=_message_domain()),
                status=OutboundEmail.Status.SENDING,
                attempts=1,
                lease_until=lease,
                created_at=now,
                next_attempt_at=now,
            )
    except IntegrityError:
        raise TaskClosed("This email is already being sent.") from None


def _deliver(*, row: OutboundEmail, task: Task, rep: AbstractBaseUser) -> None:
    lead = task.lead
    message = EmailMessage(
        subject=row.subject,
        body=row.body_text,
        from_email=row.from_email,
        to=[formataddr((lead.name, lead.email))],
        reply_to=[rep.email] if rep.email else None,
        headers={
            "Message-ID": row.message_id,
            "List-Unsubscribe": f"<{unsubscribe_url(lead)}>",
            "X-Followup-Task": str(task.id),
        },
    )
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # SMTP and socket errors: nothing went, so the claim goes too
        row.delete()
        raise EmailRefused(f"The mail server did not take the email: {exc}") from exc


def _message_domain() -> str:
    return settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "followup.localhost"


# --- cancelling an automated email -------------------------------------------------------


@transaction.atomic
def auto_email_cancel(*, task: Task, at: dt.datetime, reason: str = "cancelled by rep") -> bool:
    """Stop an automated email before it goes; False when it is already on its way.

    The compare-and-set on the outbox row's status is what stops the worker: it
    only claims ``queued``/``retry`` rows, so once this update wins, the row is out of
    its reach; when the worker won first (``sending``/``sent``) nothing is changed.
    """
    row = OutboundEmail.objects.filter(task_id=task.id).first()
    if row is not None:
        stopped = OutboundEmail.objects.filter(
            id=row.id, status__in=[OutboundEmail.Status.QUEUED, OutboundEmail.Status.RETRY]
        ).update(status=OutboundEmail.Status.CANCELLED, last_error=reason)
        if not stopped:
            return False
    if not task_skip(task=task, reason=reason, at=at):
        transaction.set_rollback(True)
        return False
    return True
