"""Automated email: due auto-email tasks become outbox rows, then are sent exactly once.

Life of a row: ``queued`` → ``sending`` (claimed, just before the SMTP call) →
``sent`` (just after). A temporary SMTP error → ``retry`` with backoff; a permanent
one → ``failed``. A row left in ``sending`` past its lease (the worker died mid-send)
becomes ``unknown``: it may or may not have left, so it is shown to the rep and never
resent blindly. No email is sent twice; none is lost silently.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import smtplib
import socket
from email.utils import make_msgid

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage, get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F
from django.urls import reverse

from cadences import copy
from cadences.models import Enrolment, OutboundEmail, Task
from cadences.services import task_finish
from leads.models import Asset, Lead, Touch

log = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "followup.unsubscribe"


def unsubscribe_token(lead: Lead) -> str:
    return signing.dumps({"lead": lead.id}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_url(lead: Lead) -> str:
    return settings.SITE_URL + reverse("leads-unsubscribe", args=[unsubscribe_token(lead)])


def lead_from_unsubscribe_token(token: str) -> Lead | None:
    try:
        payload = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    return Lead.objects.filter(id=payload.get("lead")).first()


# --- from due task to outbox row ------------------------------------------------------


def due_auto_tasks(now: dt.datetime, limit: int):
    return (
        Task.objects.filter(
            status=Task.Status.PENDING,
            mode="auto",
            due_at__lte=now,
            outbound_email__isnull=True,
        )
        .select_related(
            "lead__account",
            "lead__owner__rep_profile",
            "rep__rep_profile",
            "step",
            "variant",
            "enrolment",
        )
        .order_by("due_at", "id")[:limit]
    )


def outbox_fill(*, now: dt.datetime, batch: int = 500) -> int:
    """Render each due auto email into an outbox row. Safe to run twice at once."""
    created = 0
    while True:
        tasks = list(due_auto_tasks(now, batch))
        if not tasks:
            return created
        rows = [row for row in (_outbox_row(task, now) for task in tasks) if row is not None]
        # ignore_conflicts: the task's unique outbox row may come from a racing tick.
        OutboundEmail.objects.bulk_create(rows, ignore_conflicts=True)
        created += len(rows)
        if len(tasks) < batch:
            return created


def _outbox_row(task: Task, now: dt.datetime) -> OutboundEmail | None:
    lead = task.lead
    if lead.email_stopped or not lead.email:
        task_finish(task=task, status=Task.Status.SKIPPED, at=now, reason=_why_no_email(lead))
        return None
    if task.enrolment and task.enrolment.status != Enrolment.Status.ACTIVE:
        task_finish(task=task, status=Task.Status.SKIPPED, at=now, reason="enrolment not active")
        return None
    source = task.variant or task.step
    asset = suggested_asset(lead, task.step.asset_stage or lead.stage)
    try:
        subject, body = copy.render_email(
            subject=source.subject, body=source.body, lead=lead, rep=task.rep, asset=asset
        )
    except copy.CopyError as exc:
        task_finish(task=task, status=Task.Status.FAILED, at=now, reason=f"template: {exc}")
        return None
    body += "\n\n--\n" + _footer(lead)
    return OutboundEmail(
        task=task,
        lead=lead,
        to_email=lead.email,
        from_email=_sender(task.rep),
        subject=subject,
        body_text=body,
        message_id=make_msgid(domain=_message_domain()),
        next_attempt_at=now,
        created_at=now,
    )


def _why_no_email(lead: Lead) -> str:
    if lead.bounced_at:
        return "email bounced"
    if lead.unsubscribed_at:
        return "unsubscribed"
    if lead.do_not_email:
        return "do not email"
    return "no email address"


def _footer(lead: Lead) -> str:
    return f"Not interested? Unsubscribe in one click: {unsubscribe_url(lead)}"


def _sender(rep: object) -> str:
    email = getattr(rep, "email", "")
    if not email:
        return settings.DEFAULT_FROM_EMAIL
    name = rep.get_full_name() if hasattr(rep, "get_full_name") else ""
    return f"{name} <{email}>" if name else email


def _message_domain() -> str:
    return settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "followup.localhost"


def suggested_asset(lead: Lead, stage: str) -> Asset | None:
    """The active asset for this buying stage that the lead has not received yet."""
    if not stage:
        return None
    received = Touch.objects.filter(lead=lead, asset__isnull=False).values("asset_id")
    return (
        Asset.objects.filter(is_active=True, **{f"for_{stage}": True})
        .exclude(id__in=received)
        .order_by("id")
        .first()
    )


# --- claiming and sending ---------------------------------------------------------------


def release_expired_leases(*, now: dt.datetime) -> int:
    """A row still ``sending`` past its lease: its worker died mid-send. Mark it unknown."""
    return OutboundEmail.objects.filter(
        status=OutboundEmail.Status.SENDING, lease_until__lt=now
    ).update(
        status=OutboundEmail.Status.UNKNOWN,
        last_error="The worker stopped while sending; check the mailbox before resending.",
    )


def _ready(now: dt.datetime):
    return OutboundEmail.objects.filter(
        status__in=[OutboundEmail.Status.QUEUED, OutboundEmail.Status.RETRY],
        next_attempt_at__lte=now,
    ).order_by("next_attempt_at", "id")


def _candidates(now: dt.datetime, limit: int) -> list[OutboundEmail]:
    """A batch of ready rows. Concurrent workers may read the same batch: the claim
    decides, and each worker walks it in its own random order so they rarely collide."""
    batch = list(_ready(now).select_related("lead")[:limit])
    random.shuffle(batch)
    return batch


def claim(row: OutboundEmail, *, now: dt.datetime) -> bool:
    """Mark this row ``sending`` for this worker, just before its SMTP call.

    The compare-and-set on ``status`` is what guarantees one sender per row on any
    database: of two workers holding the same row, exactly one update matches.
    """
    lease = now + dt.timedelta(seconds=settings.FOLLOWUP["SEND_LEASE_SECONDS"])
    won = OutboundEmail.objects.filter(
        id=row.id, status__in=[OutboundEmail.Status.QUEUED, OutboundEmail.Status.RETRY]
    ).update(status=OutboundEmail.Status.SENDING, lease_until=lease, attempts=F("attempts") + 1)
    if won:
        row.status, row.lease_until, row.attempts = "sending", lease, row.attempts + 1
    return bool(won)


def claim_one(*, now: dt.datetime) -> OutboundEmail | None:
    """Claim the next ready row, or None when nothing is ready."""
    if db_connection.vendor == "postgresql":
        return _claim_next_locked(now)
    for row in _candidates(now, 20):
        if claim(row, now=now):
            return row
    return None


def _claim_next_locked(now: dt.datetime) -> OutboundEmail | None:
    """PostgreSQL: lock the first ready row no other worker holds, and claim it.

    SKIP LOCKED spreads concurrent workers over different rows instead of letting
    them all race for the first one; the compare-and-set inside still decides.
    """
    with transaction.atomic():
        row = (
            _ready(now).select_for_update(skip_locked=True, of=("self",)).select_related("lead")
        ).first()
        return row if row is not None and claim(row, now=now) else None


def send_claimed(row: OutboundEmail, *, now: dt.datetime, smtp: object | None = None) -> bool:
    """SMTP for one claimed row; ``sent`` just after. True when the server took it."""
    try:
        _message(row, smtp).send(fail_silently=False)
    except Exception as exc:  # every SMTP/socket failure is recorded on the row below
        _record_failure(row, exc, now=now)
        _reset(smtp)  # a failed session may be half-open; the next send starts clean
        return False
    OutboundEmail.objects.filter(id=row.id).update(
        status=OutboundEmail.Status.SENT, sent_at=now, lease_until=None, last_error=""
    )
    return True


def deliver_one_due_email(*, now: dt.datetime, smtp: object | None = None) -> bool:
    """Claim and send one due email. True when one was handled (sent or not)."""
    row = claim_one(now=now)
    if row is None:
        return False
    send_claimed(row, now=now, smtp=smtp)
    return True


def deliver_due_emails(*, now: dt.datetime, limit: int | None = None, batch: int = 200) -> int:
    """Send ready emails over one SMTP connection until none is ready (or ``limit``).

    Each message costs two small updates around its SMTP call; the bookkeeping (the
    Touch, the cadence's next step) follows in ``record_sent_emails``.
    """
    handled = 0
    smtp = get_connection(fail_silently=False)
    try:
        if db_connection.vendor == "postgresql":
            while (limit is None or handled < limit) and (row := _claim_next_locked(now)):
                send_claimed(row, now=now, smtp=smtp)
                handled += 1
            return handled
        while limit is None or handled < limit:
            rows = _candidates(now, batch if limit is None else min(batch, limit - handled))
            claimed = 0
            for row in rows:
                if claim(row, now=now):
                    claimed += 1
                    send_claimed(row, now=now, smtp=smtp)
            handled += claimed
            if not rows:
                break
    finally:
        _reset(smtp)
    return handled


def record_sent_emails(*, limit: int = 1000) -> int:
    """Write the Touch of each sent email and move its cadence on. Safe to run twice.

    Split from sending so the SMTP loop stays fast; a crash between the two leaves a
    ``sent`` row not yet ``recorded``, which the next tick records: nothing is lost.
    """
    rows = (
        OutboundEmail.objects.filter(status=OutboundEmail.Status.SENT, recorded=False)
        .select_related("task__step", "task__rep", "task__enrolment", "lead")
        .order_by("sent_at", "id")
    )
    done = 0
    for row in rows[:limit]:
        done += _record_sent(row)
    return done


@transaction.atomic
def _record_sent(row: OutboundEmail) -> bool:
    from leads.touches import touch_record_sent_email

    # Compare-and-set: of two ticks recording the same row, one writes its Touch.
    if not OutboundEmail.objects.filter(id=row.id, recorded=False).update(recorded=True):
        return False
    touch = touch_record_sent_email(outbound=row, at=row.sent_at)
    OutboundEmail.objects.filter(id=row.id).update(touch=touch)
    # The step counts as done even if the enrolment ended meanwhile: the email went.
    task_finish(task=row.task, status=Task.Status.SENT, at=row.sent_at, touch=touch)
    return True


def _reset(smtp: object | None) -> None:
    if smtp is None:
        return
    try:
        smtp.close()
    except Exception:  # the connection is already broken; closing is best effort
        log.debug("closing a failed SMTP connection", exc_info=True)


def _message(row: OutboundEmail, smtp: object | None) -> EmailMessage:
    url = unsubscribe_url(row.lead)
    headers = {
        "Message-ID": row.message_id,
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "X-Followup-Task": str(row.task_id),
    }
    return EmailMessage(
        subject=row.subject,
        body=row.body_text,
        from_email=row.from_email,
        to=[row.to_email],
        headers=headers,
        connection=smtp,
    )


def _is_permanent(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return all(500 <= code < 600 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 500 <= exc.smtp_code < 600
    return False


def _record_failure(row: OutboundEmail, exc: Exception, *, now: dt.datetime) -> None:
    backoff = settings.FOLLOWUP["SMTP_RETRY_BACKOFF_SECONDS"]
    error = f"{type(exc).__name__}: {exc}"[:1000]
    temporary = isinstance(exc, (OSError, socket.timeout, smtplib.SMTPException))
    if _is_permanent(exc) or not temporary or row.attempts > len(backoff):
        with transaction.atomic():
            OutboundEmail.objects.filter(id=row.id).update(
                status=OutboundEmail.Status.FAILED, lease_until=None, last_error=error
            )
            task_finish(task=row.task, status=Task.Status.FAILED, at=now, reason=error[:300])
        log.warning("email %s failed for good: %s", row.id, error)
        return
    wait = backoff[min(row.attempts, len(backoff)) - 1]
    OutboundEmail.objects.filter(id=row.id).update(
        status=OutboundEmail.Status.RETRY,
        lease_until=None,
        last_error=error,
        next_attempt_at=now + dt.timedelta(seconds=wait),
    )
    log.info("email %s will be retried in %ss: %s", row.id, wait, error)


# --- the rep resolves what the worker could not know -------------------------------------


def emails_to_check(*, rep: object) -> list[OutboundEmail]:
    """The rep's emails whose send was interrupted: did they go out? One query."""
    return list(
        OutboundEmail.objects.filter(status=OutboundEmail.Status.UNKNOWN, task__rep=rep)
        .select_related("lead")
        .order_by("created_at", "id")[:50]
    )


def outbox_resolve_unknown(*, row: OutboundEmail, went_out: bool, now: dt.datetime) -> bool:
    """The rep checked the mailbox: record the email as sent, or queue it to go again.

    Only an ``unknown`` row changes (compare-and-set), so two clicks do one thing.
    """
    if went_out:
        won = OutboundEmail.objects.filter(id=row.id, status=OutboundEmail.Status.UNKNOWN).update(
            status=OutboundEmail.Status.SENT, sent_at=row.lease_until or now, lease_until=None
        )
        if won:
            record_sent_emails()
        return bool(won)
    return bool(
        OutboundEmail.objects.filter(id=row.id, status=OutboundEmail.Status.UNKNOWN).update(
            status=OutboundEmail.Status.QUEUED,
            next_attempt_at=now,
            lease_until=None,
            last_error="Queued again by the rep after checking the mailbox.",
        )
    )
