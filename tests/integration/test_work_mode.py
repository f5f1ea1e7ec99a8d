"""Work mode: one lead at a time, log the outcome, move on; emails from the queue."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cadences.models import Cadence, EnrolmentEvent, Step, Task
from leads.models import Touch
from tests.factories import (
    AccountFactory,
    AssetFactory,
    LeadFactory,
    SignalFactory,
    TouchFactory,
)
from tests.integration.engine_helpers import at
from tests.integration.work_helpers import NOW, inbound_cadence, queue_task

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def rep_client(client: Client, rep) -> Client:
    client.force_login(rep)
    return client


def work_url(task: Task, action: str = "") -> str:
    name = f"cadences-work-{action}" if action else "cadences-work"
    return reverse(name, args=[task.id])


def page(client: Client, task: Task) -> str:
    response = client.get(work_url(task))
    assert response.status_code == 200
    return response.content.decode()


# --- moving through the queue ----------------------------------------------------------


def test_work_starts_at_the_top_of_the_queue(rep_client, rep):
    queue_task(rep)
    top = queue_task(rep, position=1)
    response = rep_client.get(reverse("cadences-work-start"))
    assert response["Location"] == work_url(top)


def test_work_with_an_empty_queue_goes_back_to_today(rep_client):
    response = rep_client.get(reverse("cadences-work-start"))
    assert response["Location"] == reverse("cadences-today")


def test_a_rep_cannot_open_or_work_another_reps_task(rep_client, teammate):
    task = queue_task(teammate)
    assert rep_client.get(work_url(task)).status_code == 404
    response = rep_client.post(work_url(task, "log"), {"outcome": "connected"})
    assert response.status_code == 404
    assert rep_client.post(work_url(task, "skip"), {"skip-reason": "x"}).status_code == 404
    task.refresh_from_db()
    assert task.status == "pending"


def test_a_manager_can_open_any_reps_task(client, manager, teammate):
    task = queue_task(teammate)
    client.force_login(manager)
    assert client.get(work_url(task)).status_code == 200


# --- the lead screen ---------------------------------------------------------------------


def test_screen_shows_contact_links_local_time_and_calling_hours(rep_client, rep):
    task = queue_task(rep, first_name="Ann", phone="+1 555 0100", email="ann@globex.example")
    html = page(rep_client, task)
    assert 'href="tel:+1%20555%200100"' in html
    assert 'href="mailto:ann@globex.example"' in html
    assert "Tue 09:00" in html  # 15:00 UTC in Chicago
    assert "inside calling hours" in html
    assert "Inbound demo request · step 3 of 8" in html


def test_outside_calling_hours_is_said(rep_client, rep):
    task = queue_task(rep, timezone="Asia/Tokyo")  # midnight there
    assert "outside calling hours" in page(rep_client, task)


def test_screen_shows_script_questions_and_the_suggested_asset(rep_client, rep):
    cadence = inbound_cadence()
    Step.objects.filter(cadence=cadence, position=3).update(
        script="Ask about their rollout.", questions=["Who else decides?"]
    )
    AssetFactory(title="Globex case study", for_awareness=True, for_consideration=False)
    task = queue_task(rep)
    html = page(rep_client, task)
    assert "Ask about their rollout." in html
    assert "Who else decides?" in html
    assert "Globex case study" in html


def test_timeline_holds_touches_signals_and_events_newest_first(rep_client, rep):
    task = queue_task(rep)
    TouchFactory(lead=task.lead, rep=rep, notes="first call", occurred_at=NOW - dt.timedelta(3))
    SignalFactory(lead=task.lead, kind="pricing_page_visit", occurred_at=NOW - dt.timedelta(1))
    EnrolmentEvent.objects.create(
        enrolment=task.enrolment, kind="enrolled", message="Enrolled", occurred_at=NOW
    )
    html = page(rep_client, task).split('id="timeline-card"')[1]
    assert html.index("Enrolled") < html.index("Pricing page visit") < html.index("first call")


def test_timeline_reads_a_fixed_number_of_queries_whatever_the_history(rep_client, rep):
    task = queue_task(rep)
    rep_client.get(work_url(task))

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            rep_client.get(work_url(task))
        return len(queries)

    short = count()
    for days in range(1, 31):
        TouchFactory(lead=task.lead, rep=rep, occurred_at=NOW - dt.timedelta(days=days))
        SignalFactory(lead=task.lead, occurred_at=NOW - dt.timedelta(days=days))
    colleague = LeadFactory(owner=rep, account=task.lead.account)
    TouchFactory(lead=colleague, rep=rep)
    assert count() == short


def test_colleagues_at_the_account_show_their_last_touch(rep_client, rep):
    task = queue_task(rep)
    boss = LeadFactory(owner=rep, account=task.lead.account, first_name="Bea", last_name="Boss")
    TouchFactory(lead=boss, rep=rep, channel="email", outcome="sent", occurred_at=NOW)
    html = page(rep_client, task).split('id="colleagues-card"')[1]
    assert "Bea Boss" in html and "email" in html


def test_a_breakup_step_says_it_is_the_last_touch_before_nurture(rep_client, rep):
    cadence = Cadence.objects.create(name="Short", is_active=True)
    Step.objects.create(cadence=cadence, position=1, channel="call", breakup=True)
    task = queue_task(rep, position=1, cadence=cadence)
    assert "Last touch before nurture" in page(rep_client, task)


def test_a_promised_callback_is_shown(rep_client, rep):
    task = queue_task(rep)
    Task.objects.create(
        lead=task.lead,
        rep=rep,
        kind="callback",
        channel="call",
        due_at=at("2027-03-04T14:30:00Z"),
    )
    assert "Promised callback Thu 4 Mar 08:30" in page(rep_client, task)


# --- logging outcomes ---------------------------------------------------------------------


def test_logging_an_outcome_completes_the_task_and_moves_to_the_next_item(rep_client, rep):
    first, second = queue_task(rep, position=1), queue_task(rep)
    response = rep_client.post(
        work_url(first, "log"), {"outcome": "connected", "notes": "Keen on a demo"}
    )
    assert response.status_code == 302
    assert response["Location"] == work_url(second)
    first.refresh_from_db()
    assert first.status == "done"
    touch = Touch.objects.get(lead=first.lead)
    assert (touch.outcome, touch.notes, touch.rep, touch.task) == (
        "connected",
        "Keen on a demo",
        rep,
        first,
    )


def test_the_last_item_returns_to_today(rep_client, rep):
    task = queue_task(rep)
    response = rep_client.post(work_url(task, "log"), {"outcome": "no_answer"})
    assert response["Location"] == reverse("cadences-today")


def test_a_second_submit_logs_one_touch(rep_client, rep):
    task = queue_task(rep)
    rep_client.post(work_url(task, "log"), {"outcome": "no_answer"})
    response = rep_client.post(work_url(task, "log"), {"outcome": "no_answer"}, follow=True)
    assert "already worked" in response.content.decode()
    assert Touch.objects.filter(lead=task.lead).count() == 1


def test_voicemail_with_a_callback_makes_a_callback_task_due_exactly_then(rep_client, rep):
    task = queue_task(rep)
    rep_client.post(work_url(task, "log"), {"outcome": "voicemail", "callback": "next_day"})
    callback = Task.objects.get(lead=task.lead, kind="callback")
    # Wednesday 3 March, 08:30 in Chicago.
    assert callback.due_at == at("2027-03-03T14:30:00Z")
    assert (callback.status, callback.rep) == ("pending", rep)


def test_voicemail_in_two_business_days_skips_the_weekend(client, rep):
    with time_machine.travel(at("2027-03-05T15:00:00Z"), tick=False):  # a Friday
        client.force_login(rep)
        task = queue_task(rep, due_at=at("2027-03-05T14:00:00Z"))
        client.post(work_url(task, "log"), {"outcome": "voicemail", "callback": "two_days"})
    callback = Task.objects.get(lead=task.lead, kind="callback")
    assert callback.due_at == at("2027-03-09T14:30:00Z")  # Tuesday 08:30 in Chicago


def test_voicemail_at_a_picked_time_reads_it_in_the_leads_zone(rep_client, rep):
    task = queue_task(rep)
    rep_client.post(
        work_url(task, "log"),
        {"outcome": "voicemail", "callback": "custom", "callback_at": "2027-03-04T10:15"},
    )
    callback = Task.objects.get(lead=task.lead, kind="callback")
    assert callback.due_at == at("2027-03-04T16:15:00Z")


def test_voicemail_script_names_the_callback_time(rep_client, rep):
    task = queue_task(rep, first_name="Ann")
    html = page(rep_client, task)
    assert "I missed you today, but will try again" in html
    assert "tomorrow at 8:30" in html


def test_a_callback_in_the_past_is_refused_and_changes_nothing(rep_client, rep):
    task = queue_task(rep)
    response = rep_client.post(
        work_url(task, "log"),
        {"outcome": "voicemail", "callback": "custom", "callback_at": "2027-03-01T10:00"},
    )
    assert response.status_code == 200
    assert "The callback time must be in the future." in response.content.decode()
    task.refresh_from_db()
    assert task.status == "pending"
    assert not Touch.objects.filter(lead=task.lead).exists()


def test_a_note_over_10000_characters_is_refused_and_changes_nothing(rep_client, rep):
    task = queue_task(rep)
    response = rep_client.post(
        work_url(task, "log"), {"outcome": "connected", "notes": "x" * 100_000}
    )
    assert "Notes are limited to 10,000 characters" in response.content.decode()
    task.refresh_from_db()
    assert task.status == "pending"
    assert not Touch.objects.exists()


def test_an_unknown_outcome_is_refused(rep_client, rep):
    task = queue_task(rep)
    response = rep_client.post(work_url(task, "log"), {"outcome": "sent"})
    assert response.status_code == 200
    assert "is not one of the available choices" in response.content.decode()
    assert not Touch.objects.exists()


def test_html_in_notes_is_shown_escaped(rep_client, rep):
    task = queue_task(rep)
    rep_client.post(work_url(task, "log"), {"outcome": "connected", "notes": "<b>bold</b>"})
    html = page(rep_client, task)
    assert "<b>bold</b>" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


def test_a_mail_step_is_marked_done(rep_client, rep):
    task = queue_task(rep, position=4)
    rep_client.post(work_url(task, "log"), {"outcome": "done"})
    task.refresh_from_db()
    assert task.status == "done"
    assert Touch.objects.get(lead=task.lead).outcome == "sent"


def test_forms_need_a_csrf_token(rep):
    task = queue_task(rep)
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    assert client.post(work_url(task, "log"), {"outcome": "connected"}).status_code == 403


# --- snooze and skip ------------------------------------------------------------------------


def test_snooze_moves_the_task_with_a_reason_on_the_timeline(rep_client, rep):
    task, other = queue_task(rep), queue_task(rep)
    response = rep_client.post(
        work_url(task, "snooze"), {"snooze-until": "3h", "snooze-reason": "in a meeting"}
    )
    assert response["Location"] == work_url(other)
    task.refresh_from_db()
    assert task.due_at == NOW + dt.timedelta(hours=3)
    assert task.status == "pending"
    event = EnrolmentEvent.objects.get(enrolment=task.enrolment, kind="snoozed")
    assert "in a meeting" in event.message
    assert "in a meeting" in page(rep_client, task)


def test_snooze_needs_a_reason_and_a_future_time(rep_client, rep):
    task = queue_task(rep)
    due = task.due_at
    response = rep_client.post(work_url(task, "snooze"), {"snooze-until": "1h"})
    assert "This field is required." in response.content.decode()
    response = rep_client.post(
        work_url(task, "snooze"),
        {"snooze-until": "custom", "snooze-until_at": "2027-03-01T09:00", "snooze-reason": "x"},
    )
    assert "Snooze until a time in the future." in response.content.decode()
    task.refresh_from_db()
    assert task.due_at == due


def test_skip_finishes_the_step_with_its_reason(rep_client, rep):
    task = queue_task(rep)
    rep_client.post(work_url(task, "skip"), {"skip-reason": "met at the trade show"})
    task.refresh_from_db()
    assert (task.status, task.status_reason) == ("skipped", "met at the trade show")
    assert EnrolmentEvent.objects.filter(
        enrolment=task.enrolment, message__contains="met at the trade show"
    ).exists()


# --- emails from the queue ---------------------------------------------------------------


@pytest.fixture
def email_task(rep):
    rep.first_name, rep.last_name, rep.email = "Alice", "Doe", "alice@followup.example"
    rep.save()
    Step.objects.filter(cadence=inbound_cadence(), position=5).update(
        subject="Ideas for {{ lead.company }}",
        body="Hi {{ lead.first_name }},\n\nHere is {{ asset.title }}: {{ asset.url }}\n",
    )
    AssetFactory(title="The rollout guide", url="https://example.com/guide")
    account = AccountFactory(name="Globex")
    return queue_task(rep, position=5, first_name="Ann", account=account)


def test_the_composer_is_prefilled_from_the_step_for_this_lead(rep_client, email_task):
    html = page(rep_client, email_task)
    assert 'value="Ideas for Globex"' in html
    assert "Hi Ann," in html
    assert "The rollout guide: https://example.com/guide" in html
    assert "Alice Doe &lt;alice@followup.example&gt;" in html


def test_a_template_error_shows_the_error_and_an_empty_composer(rep_client, rep):
    Step.objects.filter(cadence=inbound_cadence(), position=5).update(
        subject="Hi {{ lead.nickname }}", body="x"
    )
    task = queue_task(rep, position=5)
    html = page(rep_client, task)
    assert "does not render" in html and "nickname" in html
    assert 'name="subject" value=""' in html or 'name="subject" maxlength="300"' in html


def test_the_composer_sends_as_the_rep_and_completes_the_task(rep_client, email_task, smtp_sink):
    response = rep_client.post(
        work_url(email_task, "email"),
        {
            "subject": "Ideas for Globex",
            "body": "Hi Ann, here: https://example.com/guide",
            "action": "send",
        },
    )
    assert response.status_code == 302
    [message] = smtp_sink.messages
    assert message["From"] == "Alice Doe <alice@followup.example>"
    assert email_task.lead.email in message["To"]
    assert message["Subject"] == "Ideas for Globex"
    assert message["List-Unsubscribe"].strip().startswith("<http")
    email_task.refresh_from_db()
    assert email_task.status == "done"
    touch = Touch.objects.get(lead=email_task.lead)
    assert (touch.channel, touch.outcome, touch.subject) == ("email", "sent", "Ideas for Globex")
    assert touch.asset.title == "The rollout guide"  # the link went out: not suggested again


def test_sent_elsewhere_logs_the_touch_and_sends_nothing(rep_client, email_task, smtp_sink):
    rep_client.post(
        work_url(email_task, "email"),
        {"subject": "From Outlook", "body": "Hi", "action": "elsewhere"},
    )
    assert smtp_sink.messages == []
    email_task.refresh_from_db()
    assert email_task.status == "done"
    assert Touch.objects.get(lead=email_task.lead).subject == "From Outlook"


def test_do_not_email_refuses_with_a_message_and_changes_nothing(rep_client, email_task, smtp_sink):
    email_task.lead.do_not_email = True
    email_task.lead.save()
    assert "asked not to be emailed" in page(rep_client, email_task)
    response = rep_client.post(
        work_url(email_task, "email"), {"subject": "Hi", "body": "Hi", "action": "send"}
    )
    assert response.status_code == 200
    assert "asked not to be emailed" in response.content.decode()
    assert smtp_sink.messages == []
    email_task.refresh_from_db()
    assert email_task.status == "pending"
    assert not Touch.objects.exists()


def test_an_unsubscribed_lead_is_refused_too(rep_client, email_task, smtp_sink):
    email_task.lead.unsubscribed_at = NOW
    email_task.lead.save()
    response = rep_client.post(
        work_url(email_task, "email"), {"subject": "Hi", "body": "Hi", "action": "elsewhere"}
    )
    assert "they unsubscribed" in response.content.decode()
    assert not Touch.objects.exists()


def test_a_subject_with_a_line_break_is_refused(rep_client, email_task, smtp_sink):
    response = rep_client.post(
        work_url(email_task, "email"),
        {"subject": "Hi\r\nBcc: everyone@example.com", "body": "Hi", "action": "send"},
    )
    assert "The subject must be a single line." in response.content.decode()
    assert smtp_sink.messages == []


def test_a_body_over_50_kb_is_refused(rep_client, email_task, smtp_sink):
    response = rep_client.post(
        work_url(email_task, "email"),
        {"subject": "Hi", "body": "x" * (50 * 1024 + 1), "action": "send"},
    )
    assert "The email body is limited to 50 KB." in response.content.decode()
    assert smtp_sink.messages == []
    assert not Touch.objects.exists()


def test_a_mail_server_refusal_changes_nothing(rep_client, email_task, smtp_sink):
    smtp_sink.refuse_with = (554, "no thanks")
    response = rep_client.post(
        work_url(email_task, "email"), {"subject": "Hi", "body": "Hi", "action": "send"}
    )
    assert "did not take the email" in response.content.decode()
    email_task.refresh_from_db()
    assert email_task.status == "pending"
    assert not Touch.objects.exists()


def test_a_second_send_of_the_same_manual_email_is_refused_while_the_first_is_in_flight(
    rep, smtp_sink
):
    """The task's one outbox row is the claim: a double click cannot send twice."""
    import datetime as dt

    from cadences.models import OutboundEmail
    from cadences.services import enrolment_start
    from cadences.work import TaskClosed, _claim_send, email_send_manual
    from tests.factories import LeadFactory
    from tests.integration.engine_helpers import at, make_cadence

    lead = LeadFactory(owner=rep, timezone="UTC")
    cadence = make_cadence("Manual", [{"channel": "email", "subject": "s", "body": "b"}])
    task = enrolment_start(lead=lead, cadence=cadence, now=at("2027-03-01T10:00Z")).tasks.get()
    now = at("2027-03-01T10:05Z")
    _claim_send(task=task, rep=rep, subject="s", body="b", now=now)  # the first click
    with pytest.raises(TaskClosed, match="already being sent"):
        email_send_manual(task=task, rep=rep, subject="s", body="b", now=now)
    assert smtp_sink.messages == []
    OutboundEmail.objects.all().delete()
    email_send_manual(task=task, rep=rep, subject="s", body="b", now=now + dt.timedelta(minutes=1))
    row = OutboundEmail.objects.get()
    assert (row.status, row.recorded, row.touch_id is not None) == ("sent", True, True)
    assert len(smtp_sink.messages) == 1
