"""Automated email: due auto-email tasks become outbox rows, then are sent exactly once.

Life of a row: ``queued`` → ``sending`` (claimed, just before the SMTP call) →
``sent`` (just after). A temporary SMTP error → ``retry`` with backoff; a permanent
one → ``failed``. A row left in ``sending`` past its lease (the worker died mid-send)
becomes ``unknown``: it may or may not have left, so it is shown to the rep and never
resent blindly. No email is sent twice; none is lost silently.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import random
import re
import smtplib
import socket
import threading
from collections import defaultdict
from email.header import Header
from email.utils import formatdate, make_msgid, parseaddr

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage, get_connection
from django.core.mail.message import sanitize_address
from django.db import connection as db_connection
from django.db import connections as db_connections
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.urls import get_script_prefix, get_urlconf, reverse

from cadences import copy
from cadences.models import Enrolment, OutboundEmail, Task
from cadences.services import task_finish
from followup.mail import SMTPBackend, may_have_gone
from leads.models import Asset, Lead, Touch

log = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "followup.unsubscribe"


def unsubscribe_token(lead: Lead) -> str:
    return signing.dumps({"lead": lead.id}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_url(lead: Lead) -> str:
    urlconf = get_urlconf() or settings.ROOT_URLCONF
    head, tail = _unsubscribe_around(settings.SITE_URL, get_script_prefix(), urlconf)
    return head + unsubscribe_token(lead) + tail


_TOKEN_SLOT = "0TOKEN0"  # reversed in place of a token: its characters need no quoting


@functools.lru_cache(maxsize=16)
def _unsubscribe_around(site_url: str, prefix: str, urlconf: str | None) -> tuple[str, str]:
    """What goes before and after the token: ``reverse`` once, not once per email (a
    signed token is URL-safe base64 and colons, which ``reverse`` leaves as they are)."""
    url = site_url + reverse("leads-unsubscribe", args=[_TOKEN_SLOT], urlconf=urlconf)
    head, _, tail = url.rpartition(_TOKEN_SLOT)
    return head, tail


def lead_from_unsubscribe_token(token: str) -> Lead | None:
    try:
        payload = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    return Lead.objects.filter(id=payload.get("lead")).first()


# --- from due task to outbox row ------------------------------------------------------


def due_auto_tasks(now: dt.datetime, limit: int) -> list[Task]:
    """The first ``limit`` due auto-email tasks without an outbox row, with what renders them.

    Two queries: the ids first, ordered as the partial index ``task_pending_auto_due``
    is, so the plan walks it and stops at ``limit``; then those rows with their
    relations. As one query with the seven joins it was planned as a scan of every
    pending task (a second a batch at a million leads). ``NOT EXISTS``, not the reverse
    relation's ``isnull`` (a left join the planner estimated at one row, so it sorted
    every pending task instead of walking the index: a second a batch again).
    """
    rendered = OutboundEmail.objects.filter(task_id=OuterRef("id"))
    ids = list(
        Task.objects.filter(status=Task.Status.PENDING, mode="auto", due_at__lte=now)
        .filter(~Exists(rendered))
        .order_by("due_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    if not ids:
        return []
    return list(
        Task.objects.filter(id__in=ids)
        .select_related(
            "lead__account",
            "lead__owner__rep_profile",
            "rep__rep_profile",
            "step",
            "variant",
            "enrolment",
        )
        .order_by("due_at", "id")
    )


def outbox_fill(*, now: dt.datetime, batch: int = 500) -> int:
    """Render each due auto email into an outbox row. Safe to run twice at once."""
    created = 0
    while True:
        tasks = due_auto_tasks(now, batch)
        if not tasks:
            return created
        assets = AssetPicker([task.lead for task in tasks])
        rows = [row for task in tasks if (row := _outbox_row(task, now, assets)) is not None]
        # ignore_conflicts: the task's unique outbox row may come from a racing tick.
        OutboundEmail.objects.bulk_create(rows, ignore_conflicts=True)
        created += len(rows)
        if len(tasks) < batch:
            return created


def _outbox_row(task: Task, now: dt.datetime, assets: AssetPicker) -> OutboundEmail | None:
    lead = task.lead
    if lead.email_stopped or not lead.email:
        task_finish(task=task, status=Task.Status.SKIPPED, at=now, reason=_why_no_email(lead))
        return None
    if task.enrolment and task.enrolment.status != Enrolment.Status.ACTIVE:
        task_finish(task=task, status=Task.Status.SKIPPED, at=now, reason="enrolment not active")
        return None
    source = task.variant or task.step
    asset = assets.suggest(lead, task.step.asset_stage or lead.stage)
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


FOOTER = "Not interested? Unsubscribe in one click: "


def _footer(lead: Lead) -> str:
    return FOOTER + unsubscribe_url(lead)


def _footer_url(row: OutboundEmail) -> str:
    """The unsubscribe link of the row's footer (the body's last line, ours), so the
    header carries the same link without signing a new one; computed when absent."""
    _, found, url = row.body_text.rpartition(FOOTER)
    if found and url.startswith(settings.SITE_URL) and not any(c.isspace() for c in url):
        return url
    return unsubscribe_url(row.lead)


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


class AssetPicker:
    """``suggested_asset`` for a batch of leads: two queries for the batch, not one a lead."""

    def __init__(self, leads: list[Lead]) -> None:
        self.active = list(Asset.objects.filter(is_active=True).order_by("id"))
        self.received: dict[int, set[int]] = defaultdict(set)
        if not self.active:
            return
        pairs = Touch.objects.filter(
            lead_id__in={lead.id for lead in leads}, asset__isnull=False
        ).values_list("lead_id", "asset_id")
        for lead_id, asset_id in pairs:
            self.received[lead_id].add(asset_id)

    def suggest(self, lead: Lead, stage: str) -> Asset | None:
        if not stage:
            return None
        had = self.received.get(lead.id, ())
        fits = (a for a in self.active if getattr(a, f"for_{stage}") and a.id not in had)
        return next(fits, None)


# --- claiming and sending ---------------------------------------------------------------

READY = (OutboundEmail.Status.QUEUED, OutboundEmail.Status.RETRY)
BLOCK = 50  # rows a sender holds at a time: one commit reserves fifty messages
HOLD_SECONDS = 60  # how long a hold keeps other senders off rows not yet claimed
SENDERS = 3  # sender threads for a burst; FOLLOWUP["EMAIL_SENDERS"] overrides


def release_expired_leases(*, now: dt.datetime) -> int:
    """A row still ``sending`` past its lease: its worker died mid-send. Mark it unknown."""
    return OutboundEmail.objects.filter(
        status=OutboundEmail.Status.SENDING, lease_until__lt=now
    ).update(
        status=OutboundEmail.Status.UNKNOWN,
        last_error="The worker stopped while sending; check the mailbox before resending.",
    )


def _ready(now: dt.datetime):
    """Rows due to go that no sender holds (a hold past its time holds nothing)."""
    return OutboundEmail.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now),
        status__in=READY,
        next_attempt_at__lte=now,
    ).order_by("next_attempt_at", "id")


def _lease(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(seconds=settings.FOLLOWUP["SEND_LEASE_SECONDS"])


def claim(row: OutboundEmail, *, now: dt.datetime) -> bool:
    """Mark this row ``sending`` for this worker, just before its SMTP call.

    The compare-and-set on ``status`` is what guarantees one sender per row on any
    database: of two workers holding the same row, exactly one update matches.
    """
    lease = _lease(now)
    won = OutboundEmail.objects.filter(id=row.id, status__in=READY).update(
        status=OutboundEmail.Status.SENDING, lease_until=lease, attempts=F("attempts") + 1
    )
    if won:
        row.status, row.lease_until, row.attempts = "sending", lease, row.attempts + 1
    return bool(won)


def _sent_and_claim(sent: OutboundEmail, row: OutboundEmail, *, now: dt.datetime) -> bool:
    """Mark ``sent`` as sent and claim ``row`` (compare-and-set) in one statement.

    One commit where there were two: ``sent``'s SMTP call is over and ``row``'s has
    not begun, so a crash still leaves at most the one message on the wire uncertain.
    Plain SQL because it runs once per email: building it through the ORM's
    expressions cost more than the statement itself.
    """
    lease = _lease(now)
    adapt = db_connection.ops.adapt_datetimefield_value
    first, again = sent.id, row.id
    params = [first, first, adapt(now), first, adapt(lease), first, first, first, again]
    with db_connection.cursor() as cursor:
        cursor.execute(_SENT_AND_CLAIM.format(table=OutboundEmail._meta.db_table), params)
        changed = cursor.rowcount
    won = changed == 2  # ``sent`` always matches; the claim only while still ready
    if won:
        row.status, row.lease_until, row.attempts = "sending", lease, row.attempts + 1
    return won


_SENT_AND_CLAIM = """
UPDATE {table} SET
  status = CASE WHEN id = %s THEN 'sent' ELSE 'sending' END,
  sent_at = CASE WHEN id = %s THEN %s ELSE sent_at END,
  lease_until = CASE WHEN id = %s THEN NULL ELSE %s END,
  last_error = CASE WHEN id = %s THEN '' ELSE last_error END,
  attempts = CASE WHEN id = %s THEN attempts ELSE attempts + 1 END
WHERE id = %s OR (id = %s AND status IN ('queued', 'retry'))
"""


def _mark_sent(row: OutboundEmail, *, now: dt.datetime) -> None:
    OutboundEmail.objects.filter(id=row.id).update(
        status=OutboundEmail.Status.SENT, sent_at=now, lease_until=None, last_error=""
    )


def claim_one(*, now: dt.datetime) -> OutboundEmail | None:
    """Claim the next ready row, or None when nothing is ready."""
    if db_connection.vendor == "postgresql":
        return _claim_next_locked(now)
    batch = list(_ready(now).select_related("lead")[:20])
    # Concurrent workers may read the same batch: the claim decides, and each walks
    # it in its own random order so they rarely collide.
    random.shuffle(batch)
    return next((row for row in batch if claim(row, now=now)), None)


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


def hold_block(*, now: dt.datetime, size: int = BLOCK) -> list[OutboundEmail]:
    """Reserve up to ``size`` ready rows for this sender: one short transaction.

    The rows stay ``queued`` (or ``retry``): the hold (``lease_until`` on a ready row,
    taken under SKIP LOCKED on PostgreSQL) only keeps other senders off them. A sender
    that dies holding them sent none of them, and after ``HOLD_SECONDS`` any sender
    takes them. Each row is still claimed on its own, just before its SMTP call.
    """
    hold = now + dt.timedelta(seconds=min(HOLD_SECONDS, settings.FOLLOWUP["SEND_LEASE_SECONDS"]))
    with transaction.atomic():
        rows = list(
            _ready(now)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("lead")[:size]
        )
        if rows:
            OutboundEmail.objects.filter(id__in=[row.id for row in rows]).update(lease_until=hold)
    return rows


def send_claimed(row: OutboundEmail, *, now: dt.datetime, smtp: object | None = None) -> bool:
    """SMTP for one claimed row; ``sent`` just after. True when the server took it."""
    went = _smtp_send(row, now=now, smtp=smtp)
    if went:
        _mark_sent(row, now=now)
    return went


def _smtp_send(row: OutboundEmail, *, now: dt.datetime, smtp: object | None) -> bool:
    """The SMTP call of a claimed row; a failure is recorded on the row (retry or failed)."""
    own = smtp is None  # our own connection for this one message, to know what it saw
    if own:
        smtp = get_connection(fail_silently=False)
    try:
        # Opened here, not by send(): a backend that opens its own connection closes
        # it after each message, a new TCP session and EHLO per email.
        smtp.open()
        _send_message(row, smtp)
    except Exception as exc:  # every SMTP/socket failure is recorded on the row below
        # A reply code after the message is the peer's answer (taken or refused); only
        # a silence or a hang-up after it leaves the message's fate unknown.
        if may_have_gone(smtp) and not isinstance(exc, smtplib.SMTPResponseException):
            _record_unconfirmed(row, exc)
        else:
            _record_failure(row, exc, now=now)
        _reset(smtp)  # a failed session may be half-open; the next send starts clean
        return False
    if own:
        _reset(smtp)
    return True


def _record_unconfirmed(row: OutboundEmail, exc: Exception) -> None:
    """The peer had the whole message when the session failed: it may have gone out.
    Resending could send it twice, so the rep checks (``unknown``), as after a crash."""
    error = f"{type(exc).__name__}: {exc}"[:900]
    OutboundEmail.objects.filter(id=row.id, status=OutboundEmail.Status.SENDING).update(
        status=OutboundEmail.Status.UNKNOWN,
        lease_until=None,
        last_error=f"The mail server took the message but did not confirm it ({error}); "
        "check the mailbox before resending.",
    )
    log.warning("email %s unconfirmed after its data was sent: %s", row.id, error)


def send_block(rows: list[OutboundEmail], *, now: dt.datetime, smtp: object | None) -> int:
    """Claim and send held rows one at a time; how many were claimed (sent or not).

    Each row is ``sending`` just before its SMTP call; the statement that claims the
    next row also marks the previous one ``sent``: one commit per message.
    """
    handled, unmarked = 0, None  # ``unmarked``: went out, not yet marked ``sent``
    try:
        for row in rows:
            won = _sent_and_claim(unmarked, row, now=now) if unmarked else claim(row, now=now)
            unmarked = None  # marked by the statement above, whether the claim won or not
            if not won:
                continue  # another sender took it after our hold ran out
            handled += 1
            unmarked = row if _smtp_send(row, now=now, smtp=smtp) else None
    finally:
        if unmarked is not None:
            _mark_sent(unmarked, now=now)
    return handled


def deliver_one_due_email(*, now: dt.datetime, smtp: object | None = None) -> bool:
    """Claim and send one due email. True when one was handled (sent or not)."""
    row = claim_one(now=now)
    if row is None:
        return False
    send_claimed(row, now=now, smtp=smtp)
    return True


def deliver_due_emails(
    *, now: dt.datetime, limit: int | None = None, batch: int = BLOCK, senders: int | None = None
) -> int:
    """Send ready emails until none is ready (or ``limit``); how many were handled.

    Per block of ``batch`` rows one commit holds them; per message one statement marks
    the previous one ``sent`` and claims it. A burst (a full first block) is shared by
    ``senders`` threads, each with its own database and SMTP connection, so their
    waits overlap and their commits share WAL flushes. The bookkeeping (the Touch, the
    cadence's next step) follows in ``record_sent_emails``.
    """
    size = batch if limit is None else min(batch, limit)
    first = hold_block(now=now, size=size)
    senders = senders or settings.FOLLOWUP.get("EMAIL_SENDERS", SENDERS)
    if senders > 1 and limit is None and len(first) == batch and _threads_see_our_rows():
        return _send_in_threads(first, now=now, batch=batch, senders=senders)
    return _send_until_done(first, size, now=now, limit=limit, batch=batch)


def _threads_see_our_rows() -> bool:
    # A thread has its own connection and sees only committed rows: not inside a
    # caller's transaction (tests, an admin action), and not on SQLite, whose writers
    # queue behind one lock anyway.
    return db_connection.vendor == "postgresql" and not db_connection.in_atomic_block


def _send_until_done(
    rows: list[OutboundEmail] | None,
    size: int,
    *,
    now: dt.datetime,
    limit: int | None,
    batch: int,
) -> int:
    """One sender: send held blocks over one SMTP connection until nothing is ready."""
    handled = 0
    smtp = get_connection(fail_silently=False)
    try:
        if rows is None:
            rows = hold_block(now=now, size=size)
        while rows:
            handled += send_block(rows, now=now, smtp=smtp)
            if len(rows) < size:
                break  # nothing more was ready: no need to ask again
            size = batch if limit is None else min(batch, limit - handled)
            rows = hold_block(now=now, size=size) if size > 0 else []
    finally:
        _reset(smtp)
    return handled


def _send_in_threads(
    first: list[OutboundEmail], *, now: dt.datetime, batch: int, senders: int
) -> int:
    counts: list[int] = []
    errors: list[BaseException] = []

    def helper() -> None:
        try:
            counts.append(_send_until_done(None, batch, now=now, limit=None, batch=batch))
        except BaseException as exc:  # raised in the caller's thread below
            errors.append(exc)
        finally:
            db_connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=helper, daemon=True) for _ in range(senders - 1)]
    for thread in threads:
        thread.start()
    try:
        counts.append(_send_until_done(first, batch, now=now, limit=None, batch=batch))
    finally:
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return sum(counts)


RECORD_BATCH = 100  # sent emails recorded per transaction


def record_sent_emails(*, limit: int = 1000) -> int:
    """Write the Touch of each sent email and move its cadence on. Safe to run twice.

    Split from sending so the SMTP loop stays fast; a crash between the two leaves a
    ``sent`` row not yet ``recorded``, which the next tick records: nothing is lost.
    Set-based per batch: one lock of the rows, one compare-and-set of ``recorded``,
    one insert of the touches, one update of their leads' counters.
    """
    done = 0
    while done < limit:
        size = min(RECORD_BATCH, limit - done)
        recorded, seen = _record_batch(size)
        done += recorded
        if seen < size:
            return done
    return done


def _record_batch(size: int) -> tuple[int, int]:
    """Record up to ``size`` sent rows; (rows recorded, rows looked at)."""
    with transaction.atomic():
        rows = list(
            OutboundEmail.objects.filter(status=OutboundEmail.Status.SENT, recorded=False)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("task__step", "task__rep", "task__enrolment", "lead")
            .order_by("sent_at", "id")[:size]
        )
        if not rows:
            return 0, 0
        # Compare-and-set for the whole batch. The rows are locked (PostgreSQL) or the
        # database is (SQLite's immediate transactions), so it matches every row ...
        ids = [row.id for row in rows]
        if OutboundEmail.objects.filter(id__in=ids, recorded=False).update(recorded=True) == len(
            ids
        ):
            _record_touches(rows)
            return len(rows), len(rows)
        transaction.set_rollback(True)
    # ... unless another recorder got some first: then one row at a time, each its own.
    return sum(_record_sent(row) for row in rows), len(rows)


def _record_touches(rows: list[OutboundEmail]) -> None:
    from leads.touches import touches_record_sent_emails

    touches = touches_record_sent_emails(outbounds=rows)
    for row, touch in zip(rows, touches, strict=True):
        row.touch = touch
    OutboundEmail.objects.bulk_update(rows, ["touch"])
    for row, touch in zip(rows, touches, strict=True):
        # The step counts as done even if the enrolment ended meanwhile: the email went.
        task_finish(task=row.task, status=Task.Status.SENT, at=row.sent_at, touch=touch)


@transaction.atomic
def _record_sent(row: OutboundEmail) -> bool:
    # Compare-and-set: of two ticks recording the same row, one writes its Touch.
    if not OutboundEmail.objects.filter(id=row.id, recorded=False).update(recorded=True):
        return False
    _record_touches([row])
    return True


def _reset(smtp: object | None) -> None:
    if smtp is None:
        return
    try:
        smtp.close()
    except Exception:  # the connection is already broken; closing is best effort
        log.debug("closing a failed SMTP connection", exc_info=True)


def _headers(row: OutboundEmail) -> dict[str, str]:
    url = _footer_url(row)
    return {
        "Message-ID": row.message_id,
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "X-Followup-Task": str(row.task_id),
    }


def _message(row: OutboundEmail, smtp: object | None) -> EmailMessage:
    return EmailMessage(
        subject=row.subject,
        body=row.body_text,
        from_email=row.from_email,
        to=[row.to_email],
        headers=_headers(row),
        connection=smtp,
    )


def _send_message(row: OutboundEmail, smtp: object) -> None:
    """Send the row's message over ``smtp``; SMTP errors are raised.

    Over our SMTP backend the message is written straight to wire bytes: Django's
    ``EmailMessage`` (its MIME objects, header classes and generator) cost more Python
    than the rest of a send. The bytes are the same message: the same headers, a UTF-8
    ``text/plain`` body sent 8bit. What that simple form cannot carry (a body line over
    998 bytes, a header with a line break, an address that needs quoting or encoding)
    goes through Django as before, which encodes it or refuses it.
    """
    wire = _wire_message(row) if isinstance(smtp, SMTPBackend) else None
    if wire is None:
        _message(row, smtp).send(fail_silently=False)
        return
    sender, recipient, data = wire
    smtp.send_bytes(sender, [recipient], data)


# An address written as is: ASCII, no display name, nothing that needs quoting.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")
_PLAIN_VALUE = re.compile(r"[\x20-\x7e]*")  # printable ASCII: no encoding, no line break
MAX_LINE = 998  # RFC 5322's limit on a line, CRLF excluded


def _wire_message(row: OutboundEmail) -> tuple[str, str, bytes] | None:
    """(envelope sender, recipient, message bytes), or None when Django must build it."""
    sender = _sender_address(row.from_email)
    if sender is None or not _PLAIN_ADDRESS.fullmatch(row.to_email):
        return None
    body = row.body_text.replace("\r\n", "\n").replace("\r", "\n").encode()
    if any(len(line) > MAX_LINE for line in body.split(b"\n")):
        return None
    subject = _header_value("Subject", row.subject)
    if subject is None:
        return None
    head = {
        "Content-Type": 'text/plain; charset="utf-8"',
        "MIME-Version": "1.0",
        "Content-Transfer-Encoding": "8bit" if not body.isascii() else "7bit",
        "Subject": subject,
        "From": sender[0],
        "To": row.to_email,
        "Date": formatdate(localtime=settings.EMAIL_USE_LOCALTIME),
    }
    for name, value in _headers(row).items():
        if not _PLAIN_VALUE.fullmatch(value):
            return None
        head[name] = value
    lines = [f"{name}: {value}" for name, value in head.items()]
    if any(len(line) > MAX_LINE for line in lines):
        return None  # a header too long for one line: Django folds it
    data = "\r\n".join(lines).encode() + b"\r\n\r\n" + body.replace(b"\n", b"\r\n")
    return sender[1], row.to_email, data


def _header_value(name: str, value: str) -> str | None:
    """The header as Django writes it: plain when short ASCII, else RFC 2047 words."""
    if "\n" in value or "\r" in value:
        return None  # Django refuses it (BadHeaderError): let it
    if not _PLAIN_VALUE.fullmatch(value):
        return Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    if len(name) + 2 + len(value) <= 78:
        return value
    return Header(value, header_name=name).encode(linesep="\r\n")  # folded, not encoded


@functools.lru_cache(maxsize=4096)
def _sender_address(from_email: str) -> tuple[str, str] | None:
    """(the From header, the envelope address) of a rep's From: a few hundred reps, so
    Django's address parser runs once per rep, not once per message."""
    try:
        header = sanitize_address(from_email, "utf-8")
    except ValueError:
        return None
    envelope = parseaddr(header)[1]
    if "\n" in header or "\r" in header or not _PLAIN_ADDRESS.fullmatch(envelope):
        return None
    return header, envelope


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
