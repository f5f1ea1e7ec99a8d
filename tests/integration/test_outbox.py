"""Automated email through the outbox: sent once, never twice, never lost silently."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from cadences import outbox
from cadences.models import Enrolment, OutboundEmail, Task
from cadences.services import enrolment_start
from leads.models import Lead, Touch
from tests.factories import LeadFactory
from tests.integration.engine_helpers import at, make_cadence, run_tick

AUTO_FIRST = [
    {
        "channel": "email",
        "mode": "auto",
        "subject": "Hi {{ lead.first_name }}",
        "body": "A guide for {{ lead.company }}: {{ asset.title }}",
    },
    {"channel": "call", "wait_days": 1},
]
MONDAY_10 = "2027-03-01T10:00:00Z"


@pytest.fixture
def lead(rep):
    rep.email = "alice@followup.example"
    rep.first_name, rep.last_name = "Alice", "Moreau"
    rep.save()
    return LeadFactory(owner=rep, timezone="UTC", first_name="Ann")


def enrol(lead: Lead, steps=None) -> Enrolment:
    return enrolment_start(
        lead=lead, cadence=make_cadence("Auto", steps or AUTO_FIRST), now=at(MONDAY_10)
    )


def test_due_auto_email_is_sent_once_with_unsubscribe_headers(lead, smtp_sink):
    enrol(lead)
    run_tick(MONDAY_10)
    run_tick(MONDAY_10)  # a second tick at the same moment sends nothing more
    assert len(smtp_sink.messages) == 1
    message = smtp_sink.messages[0]
    row = OutboundEmail.objects.get()
    assert message["Message-ID"] == row.message_id
    assert message["From"] == "Alice Moreau <alice@followup.example>"
    unsubscribe = "".join(message["List-Unsubscribe"].split())  # unfold the header
    assert unsubscribe.startswith("<http://127.0.0.1:8000/leads/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Unsubscribe in one click" in message.get_payload()
    touch = Touch.objects.get(lead=lead)
    assert (touch.channel, touch.outcome, touch.automated) == ("email", "sent", True)
    task = Task.objects.get(step__position=1)
    assert (task.status, task.touch_id) == ("sent", touch.id)
    assert Task.objects.get(step__position=2).status == "pending"  # the cadence moved on


def test_a_template_with_an_unknown_variable_fails_the_task_and_sends_nothing(lead, smtp_sink):
    enrol(
        lead,
        [
            {"channel": "email", "mode": "auto", "subject": "Hi {{ lead.nickname }}", "body": "x"},
            {"channel": "call", "wait_days": 1},
        ],
    )
    run_tick(MONDAY_10)
    failed = Task.objects.get(step__position=1)
    assert failed.status == "failed"
    assert "unknown variable 'lead.nickname'" in failed.status_reason
    assert smtp_sink.messages == []
    assert Task.objects.get(step__position=2).status == "pending"


def test_a_refusing_smtp_server_is_retried_with_backoff_until_it_recovers(lead, smtp_sink):
    enrol(lead)
    smtp_sink.refuse_with = (451, "try again later")
    run_tick(MONDAY_10)
    row = OutboundEmail.objects.get()
    assert (row.status, row.attempts) == ("retry", 1)
    assert row.next_attempt_at == at(MONDAY_10) + dt.timedelta(seconds=60)
    run_tick("2027-03-01T10:00:30Z")  # before the backoff: no attempt
    assert OutboundEmail.objects.get().attempts == 1
    smtp_sink.refuse_with = None
    run_tick("2027-03-01T10:01:00Z")
    run_tick("2027-03-01T10:05:00Z")
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(smtp_sink.messages) == 1


def test_a_permanent_rejection_fails_the_task_with_the_reason(lead, smtp_sink):
    enrol(lead)
    smtp_sink.refuse_with = (550, "no such user")
    run_tick(MONDAY_10)
    row = OutboundEmail.objects.get()
    assert row.status == "failed"
    assert "550" in row.last_error
    task = Task.objects.get(step__position=1)
    assert task.status == "failed" and "no such user" in task.status_reason


def test_an_unreachable_smtp_server_is_a_temporary_failure(lead, settings, db):
    settings.EMAIL_BACKEND = "followup.mail.SMTPBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    enrol(lead)
    run_tick(MONDAY_10)
    row = OutboundEmail.objects.get()
    assert row.status == "retry"
    assert "Connection refused" in row.last_error or "Errno" in row.last_error


def test_a_message_the_peer_took_without_answering_is_unknown_never_resent(
    lead, smtp_sink, settings
):
    settings.EMAIL_TIMEOUT = 1
    smtp_sink.stall_in, smtp_sink.stall_seconds = "DATA", 3  # takes it, answers too late
    enrol(lead)
    run_tick(MONDAY_10)
    row = OutboundEmail.objects.get()
    assert row.status == "unknown"
    assert "did not confirm" in row.last_error
    smtp_sink.stall_seconds = 0  # the peer recovers: still not resent blindly
    run_tick("2027-03-01T11:00:00Z")
    assert [m["Message-ID"] for m in smtp_sink.messages] == [row.message_id]
    assert OutboundEmail.objects.get().status == "unknown"
    assert Task.objects.get(step__position=1).status == "pending"  # the rep decides


def test_a_peer_silent_before_the_message_is_retried_not_unknown(lead, smtp_sink, settings):
    settings.EMAIL_TIMEOUT = 1
    smtp_sink.stall_in, smtp_sink.stall_seconds = "EHLO", 3  # never got the message
    enrol(lead)
    run_tick(MONDAY_10)
    assert OutboundEmail.objects.get().status == "retry"
    assert smtp_sink.messages == []


def test_a_send_abandoned_mid_flight_becomes_unknown_and_is_never_resent(lead, smtp_sink):
    enrol(lead)
    outbox.outbox_fill(now=at(MONDAY_10))
    claimed = outbox.claim_one(now=at(MONDAY_10))  # the worker dies right after this
    assert claimed is not None and claimed.status == "sending"
    run_tick("2027-03-01T10:04:00Z")  # within the 5-minute lease: left alone
    assert OutboundEmail.objects.get().status == "sending"
    run_tick("2027-03-01T10:06:00Z")
    row = OutboundEmail.objects.get()
    assert row.status == "unknown"
    run_tick("2027-03-01T11:00:00Z")
    assert smtp_sink.messages == []
    assert Task.objects.get(step__position=1).status == "pending"  # shown to the rep


def test_an_unsubscribed_lead_gets_no_automated_email(lead, smtp_sink):
    enrol(lead)
    lead.unsubscribed_at = at("2027-02-01T00:00:00Z")
    lead.save()
    run_tick(MONDAY_10)
    assert smtp_sink.messages == []
    task = Task.objects.get(step__position=1)
    assert (task.status, task.status_reason) == ("skipped", "unsubscribed")


def test_the_unsubscribe_link_works_without_login_and_is_idempotent(client, lead, smtp_sink):
    enrol(lead, [{"channel": "email", "mode": "auto", "wait_days": 2, "subject": "s", "body": "b"}])
    url = reverse("leads-unsubscribe", args=[outbox.unsubscribe_token(lead)])
    assert b"Stop these emails?" in client.get(url).content
    lead.refresh_from_db()
    assert lead.unsubscribed_at is None  # a GET (a link scanner) changes nothing
    first = client.post(url)  # RFC 8058 one-click: no CSRF token, no session
    assert b"You are unsubscribed" in first.content
    lead.refresh_from_db()
    stamped = lead.unsubscribed_at
    assert stamped is not None
    assert client.post(url).status_code == 200
    lead.refresh_from_db()
    assert lead.unsubscribed_at == stamped
    assert lead.signals.filter(kind="unsubscribed").count() == 1
    assert Task.objects.get(step__position=1).status == "cancelled"
    assert Enrolment.objects.get().exit_reason == "unsubscribed"


def test_a_forged_unsubscribe_token_is_refused(client, lead):
    response = client.post(reverse("leads-unsubscribe", args=[f"{lead.id}:forged"]))
    assert response.status_code == 404
    lead.refresh_from_db()
    assert lead.unsubscribed_at is None


def test_sending_one_email_takes_a_fixed_number_of_queries(
    lead, smtp_sink, django_assert_max_num_queries
):
    enrol(lead)
    outbox.outbox_fill(now=at(MONDAY_10))
    # claim: select candidate, compare-and-set, load row; sent: mark sent, lead lock,
    # touch insert, lead counters, min-gap retime, task compare-and-set, enrolment lock,
    # events, next step scheduling (steps, time off, task insert)
    with django_assert_max_num_queries(30):
        assert outbox.deliver_one_due_email(now=at(MONDAY_10))
    assert len(smtp_sink.messages) == 1


def interrupted(lead) -> OutboundEmail:
    enrol(lead)
    outbox.outbox_fill(now=at(MONDAY_10))
    outbox.claim_one(now=at(MONDAY_10))
    outbox.release_expired_leases(now=at("2027-03-01T11:00:00Z"))
    return OutboundEmail.objects.get(status="unknown")


def test_the_rep_sees_an_interrupted_email_and_says_it_went_out(client, lead, smtp_sink):
    row = interrupted(lead)
    client.force_login(lead.owner)
    assert b"Emails to check" in client.get(reverse("cadences-today")).content
    url = reverse("cadences-outbox-resolve", args=[row.id])
    client.post(url, {"went_out": "yes"})
    row.refresh_from_db()
    assert (row.status, row.recorded) == ("sent", True)
    assert Task.objects.get(step__position=1).status == "sent"
    assert smtp_sink.messages == []  # nothing was sent again
    assert client.post(url, {"went_out": "no"}).status_code == 404  # already resolved


def test_the_rep_can_queue_an_interrupted_email_to_go_again(client, lead, smtp_sink):
    row = interrupted(lead)
    client.force_login(lead.owner)
    client.post(reverse("cadences-outbox-resolve", args=[row.id]), {"went_out": "no"})
    run_tick("2027-03-01T11:01:00Z")
    assert len(smtp_sink.messages) == 1
    assert OutboundEmail.objects.get().status == "sent"


def test_another_rep_cannot_resolve_my_interrupted_email(client, lead, outsider):
    row = interrupted(lead)
    client.force_login(outsider)
    response = client.post(reverse("cadences-outbox-resolve", args=[row.id]), {"went_out": "no"})
    assert response.status_code == 404
    assert OutboundEmail.objects.get().status == "unknown"


def test_a_touch_logged_from_a_stale_copy_of_the_lead_keeps_the_workers_count(lead, smtp_sink):
    """Found by the load run: a rep's page read the lead, then the worker recorded an
    automated email for it, then the rep logged a call from the stale copy."""
    from leads.touches import touch_log

    enrol(lead)
    stale = Lead.objects.get(pk=lead.pk)  # what the rep's request read
    run_tick(MONDAY_10)  # the worker sends and records the automated email
    touch_log(
        lead=stale,
        rep=lead.owner,
        channel="call",
        outcome="no_answer",
        occurred_at=at("2027-03-01T10:05:00Z"),
        now=at("2027-03-01T10:05:00Z"),
    )
    lead.refresh_from_db()
    assert lead.touch_count == 2 == lead.touches.filter(direction="outbound").count()
