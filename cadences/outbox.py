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


def claim_one(*, now: dt.datetime) -> OutboundEmail | None:
    """Claim the next ready row for this worker, or None when nothing is ready.

    The compare-and-set on ``status`` is what guarantees one sender per row on any
    database; on PostgreSQL ``SKIP LOCKED`` also keeps concurrent workers from
    all queueing on the same first row.
    """
    lease = now + dt.timedelta(seconds=settings.FOLLOWUP["SEND_LEASE_SECONDS"])
    for _ in range(20):
        candidate = _candidate_id(now)
        if candidate is None:
            return None
        row_id, status = candidate
        claimed = OutboundEmail.objects.filter(id=row_id, status=status).update(
            status=OutboundEmail.Status.SENDING, lease_until=lease, attempts=F("attempts") + 1
        )
        if claimed == 1:
            return OutboundEmail.objects.select_related("task__step", "lead").get(id=row_id)
    return None


def _candidate_id(now: dt.datetime) -> tuple[int, str] | None:
    if db_connection.vendor == "postgresql":
        with transaction.atomic():
            row = _ready(now).select_for_update(skip_locked=True).values_list("id", "status")
            return row.first()
    return _ready(now).values_list("id", "status").first()


def deliver_one_due_email(*, now: dt.datetime, smtp: object | None = None) -> bool:
    """Claim and send one due email. True when one was handled (sent or not)."""
    row = claim_one(now=now)
    if row is None:
        return False
    message = _message(row, smtp)
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # every SMTP/socket failure is recorded on the row below
        _record_failure(row, exc, now=now)
        _reset(smtp)  # a failed session may be half-open; the next send starts clean
        return True
    _record_sent(row, now=now)
    return True


def deliver_due_emails(*, now: dt.datetime, limit: int | None = None) -> int:
    """Send ready emails over one SMTP connection until none is ready (or ``limit``)."""
    handled = 0
    smtp = get_connection(fail_silently=False)
    try:
        while (limit is None or handled < limit) and deliver_one_due_email(now=now, smtp=smtp):
            handled += 1
    finally:
        try:
            smtp.close()
        except Exception:  # closing a broken connection must not hide the real outcome
            log.warning("closing the SMTP connection failed", exc_info=True)
    return handled


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


@transaction.atomic
def _record_sent(row: OutboundEmail, *, now: dt.datetime) -> None:
    from leads.touches import touch_record_sent_email

    OutboundEmail.objects.filter(id=row.id).update(
        status=OutboundEmail.Status.SENT, sent_at=now, lease_until=None, last_error=""
    )
    touch = touch_record_sent_email(outbound=row, at=now)
    OutboundEmail.objects.filter(id=row.id).update(touch=touch)
    task_finish(task=row.task, status=Task.Status.SENT, at=now, touch=touch)


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
