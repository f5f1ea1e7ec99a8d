"""Sending in blocks: one hold for many rows, one commit per message, one SMTP session.

Still exactly once: every row is claimed on its own (compare-and-set) just before its
SMTP call; the hold only keeps other senders off the rows it reserves.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from cadences import outbox
from cadences.models import OutboundEmail, Task
from cadences.services import enrolment_start
from leads.models import Touch
from tests.factories import LeadFactory
from tests.integration.engine_helpers import at, make_cadence

NOW = at("2027-03-01T10:00:00Z")
STEPS = [
    {
        "channel": "email",
        "mode": "auto",
        "subject": "Guide for {{ lead.first_name }}",
        "body": "Hello {{ lead.first_name }} at {{ lead.company }}",
        "window": ["00:00", "23:59"],
    },
    {"channel": "call", "wait_days": 1},
]


def due_emails(rep, count: int) -> list[OutboundEmail]:
    cadence = make_cadence("Blocks", STEPS, business_days_only=False, min_gap_hours=0)
    for _ in range(count):
        enrolment_start(lead=LeadFactory(owner=rep, timezone="UTC"), cadence=cadence, now=NOW)
    outbox.outbox_fill(now=NOW)
    return list(OutboundEmail.objects.order_by("id"))


def statuses() -> Counter:
    return Counter(OutboundEmail.objects.values_list("status", flat=True))


def recipients(sink) -> Counter:
    return Counter(rcpt for _, rcpts in sink.envelopes for rcpt in rcpts)


def test_a_hold_reserves_ready_rows_without_claiming_them(rep):
    due_emails(rep, 5)
    held = outbox.hold_block(now=NOW, size=3)
    assert len(held) == 3
    assert statuses() == {"queued": 5}  # held rows are not in flight: nothing uncertain
    others = outbox.hold_block(now=NOW, size=10)  # a second sender gets the rest
    assert {row.id for row in others}.isdisjoint(row.id for row in held)
    assert len(others) == 2
    assert outbox.hold_block(now=NOW, size=10) == []


def test_rows_held_by_a_sender_that_died_go_out_once_after_the_hold(rep, smtp_sink):
    due_emails(rep, 4)
    outbox.hold_block(now=NOW, size=4)  # the sender dies before claiming any
    assert outbox.deliver_due_emails(now=NOW) == 0  # held: another sender leaves them
    later = NOW + dt.timedelta(seconds=outbox.HOLD_SECONDS + 1)
    assert outbox.deliver_due_emails(now=later) == 4
    assert outbox.deliver_due_emails(now=later) == 0
    assert statuses() == {"sent": 4}
    assert len(smtp_sink.messages) == 4 and max(recipients(smtp_sink).values()) == 1


def test_a_held_row_another_sender_claimed_is_skipped_and_the_previous_still_marked_sent(
    rep, smtp_sink
):
    rows = due_emails(rep, 3)
    held = outbox.hold_block(now=NOW, size=3)
    assert outbox.claim(rows[1], now=NOW)  # another sender, after our hold ran out
    assert outbox.send_block(held, now=NOW, smtp=None) == 2
    by_id = dict(OutboundEmail.objects.values_list("id", "status"))
    assert by_id == {rows[0].id: "sent", rows[1].id: "sending", rows[2].id: "sent"}
    assert len(smtp_sink.messages) == 2


def test_each_message_is_sending_during_its_own_smtp_call_and_sent_right_after(
    rep, smtp_sink, monkeypatch
):
    rows = due_emails(rep, 3)
    seen: list[dict] = []
    send = outbox._smtp_send

    def watch(row, **kwargs):
        seen.append(dict(OutboundEmail.objects.values_list("id", "status")))
        return send(row, **kwargs)

    monkeypatch.setattr(outbox, "_smtp_send", watch)
    assert outbox.deliver_due_emails(now=NOW) == 3
    ids = [row.id for row in rows]
    # While message k is on the wire: the ones before it are sent, the ones after queued.
    for k, snapshot in enumerate(seen):
        expected = ["sent"] * k + ["sending"] + ["queued"] * (len(ids) - k - 1)
        assert [snapshot[i] for i in ids] == expected
    assert statuses() == {"sent": 3}


def test_one_smtp_session_carries_every_message_of_a_tick(rep, smtp_sink):
    due_emails(rep, 6)
    sessions: list[int] = []
    handle = smtp_sink.handle_DATA

    async def count_sessions(server, session, envelope):
        sessions.append(id(session))
        return await handle(server, session, envelope)

    smtp_sink.handle_DATA = count_sessions
    assert outbox.deliver_due_emails(now=NOW, batch=4) == 6
    assert len(sessions) == 6 and len(set(sessions)) == 1


def test_a_refused_message_in_a_block_retries_alone_and_the_rest_go(rep, smtp_sink):
    rows = due_emails(rep, 3)
    refused = rows[1].to_email
    handle = smtp_sink.handle_DATA

    async def refuse_one(server, session, envelope):
        if refused in envelope.rcpt_tos:
            return "451 try again later"
        return await handle(server, session, envelope)

    smtp_sink.handle_DATA = refuse_one
    assert outbox.deliver_due_emails(now=NOW) == 3
    by_id = dict(OutboundEmail.objects.values_list("id", "status"))
    assert by_id == {rows[0].id: "sent", rows[1].id: "retry", rows[2].id: "sent"}
    assert len(smtp_sink.messages) == 2


def test_sending_costs_about_one_query_per_email(rep, smtp_sink, django_assert_max_num_queries):
    count = 20
    due_emails(rep, count)
    # Per block of 50: a hold (select and update, in a savepoint here); per message one
    # statement that marks the previous one sent and claims it; the last one marked sent.
    with django_assert_max_num_queries(count + 6):
        assert outbox.deliver_due_emails(now=NOW) == count
    assert statuses() == {"sent": count}


def test_recording_sent_emails_writes_each_touch_once(rep, smtp_sink):
    due_emails(rep, 5)
    outbox.deliver_due_emails(now=NOW)
    assert outbox.record_sent_emails() == 5
    assert outbox.record_sent_emails() == 0
    assert Touch.objects.filter(automated=True).count() == 5
    assert Task.objects.filter(status="sent").count() == 5
    assert Task.objects.filter(step__position=2, status="pending").count() == 5
