"""The Today page: the rep's queue, its progress, automated emails, hot calls."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cadences.models import EnrolmentEvent, OutboundEmail, Task
from cadences.services import hot_call_create
from tests.factories import AccountFactory, LeadFactory, TaskFactory
from tests.integration.work_helpers import NOW, inbound_cadence, mixed_queue, queue_task

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def rep_client(client: Client, rep) -> Client:
    client.force_login(rep)
    return client


def today_html(client: Client, **params: str) -> str:
    response = client.get(reverse("cadences-today"), params)
    assert response.status_code == 200
    return response.content.decode()


def test_today_needs_a_login(client):
    response = client.get(reverse("cadences-today"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_each_item_shows_company_local_time_reason_step_and_touch_number(rep_client, rep):
    account = AccountFactory(name="Globex")
    task = queue_task(rep, first_name="Ann", last_name="Lee", account=account)
    task.lead.touch_count = 3
    task.lead.save()
    html = today_html(rep_client)
    assert "Ann Lee" in html
    assert "Globex" in html
    assert "Inbound demo request · step 3 of 8" in html
    assert "touch 4" in html
    assert "badge-reason-overdue" not in html  # due an hour ago today: "due", not overdue
    assert "badge-reason-due" in html
    assert "09:00 their time" in html  # 15:00 UTC is 09:00 in Chicago


def test_queue_reasons_are_badges_hot_first(rep_client, rep):
    queue_task(rep, position=1, first_name="Newbie")
    lead = LeadFactory(owner=rep, first_name="Hottie", timezone="America/Chicago")
    hot_call_create(lead=lead, at=NOW - dt.timedelta(minutes=5), why="pricing page visit")
    queue_task(rep, due_at=NOW - dt.timedelta(days=1), first_name="Latecomer")
    html = today_html(rep_client)
    calls = html.split('id="pane-calls"')[1].split('id="pane-emails"')[0]
    assert calls.index("Hottie") < calls.index("Newbie") < calls.index("Latecomer")
    for reason in ("hot", "new lead", "overdue"):
        assert f">{reason}</span>" in calls


def test_lead_names_with_html_are_shown_escaped(rep_client, rep):
    queue_task(rep, first_name="<script>alert(1)</script>", last_name="X")
    html = today_html(rep_client)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_today_runs_the_same_queries_for_3_and_60_items(client, rep, django_assert_num_queries):
    client.force_login(rep)
    mixed_queue(rep, calls=1, emails=1, other=1)
    client.get(reverse("cadences-today"))  # warm the session and any first-use caches
    # Queries (the session comes from the cache): user, the rep's profile (time zone),
    # the queue's tasks (queue_for_rep), every item's lead/account/owner/step count
    # (one query keyed by the queue's task ids), the automated emails still due today,
    # the emails whose send was interrupted, the user's groups (nav).
    with django_assert_num_queries(7), CaptureQueriesContext(connection) as few:
        assert client.get(reverse("cadences-today")).status_code == 200
    mixed_queue(rep, calls=29, emails=19, other=9)  # 60 in all
    with django_assert_num_queries(7), CaptureQueriesContext(connection) as many:
        html = client.get(reverse("cadences-today")).content.decode()
    assert html.count("data-queue-item") == 60
    assert len(many) == len(few)


def test_empty_today_says_what_is_next_tomorrow(rep_client, rep):
    tomorrow = NOW + dt.timedelta(days=1)
    for _ in range(4):
        queue_task(rep, due_at=tomorrow)
    html = today_html(rep_client)
    assert "Nothing due today. Next: 4 calls tomorrow." in html


def test_empty_today_with_nothing_tomorrow_says_so(rep_client):
    assert "Nothing scheduled for tomorrow yet." in today_html(rep_client)


def test_done_items_stay_greyed_with_status_and_count_in_progress(rep_client, rep):
    done, _ = queue_task(rep), queue_task(rep)
    Task.objects.filter(id=done.id).update(status="done", completed_at=NOW)
    html = today_html(rep_client)
    assert html.count("queue-item is-done") == 1
    assert ">done</span>" in html
    assert "1 / 2 done" in html


def test_calls_over_capacity_roll_over_and_are_counted(rep_client, rep):
    rep.rep_profile.call_capacity = 2
    rep.rep_profile.save()
    for _ in range(5):
        queue_task(rep)
    html = today_html(rep_client)
    assert html.count("data-queue-item") == 2
    assert "3 rolled over to tomorrow" in html


def test_another_day_shows_that_days_queue(rep_client, rep):
    queue_task(rep, due_at=NOW + dt.timedelta(days=2), first_name="Later")
    assert "Later" not in today_html(rep_client)
    assert "Later" in today_html(rep_client, date="2027-03-04")


def test_a_bad_date_falls_back_to_today_with_a_message(rep_client):
    assert "is not a date" in today_html(rep_client, date="tomorrow-ish")


def test_upcoming_automated_emails_are_listed_apart_and_cancellable(rep_client, rep):
    task = queue_task(rep, position=2, due_at=NOW + dt.timedelta(hours=2), first_name="Auto")
    html = today_html(rep_client)
    upcoming = html.split('id="upcoming-auto"')[1]
    assert "Auto" in upcoming
    assert "The guide, Auto" in upcoming  # the step's subject, rendered for the lead
    assert f'data-task="{task.id}"' not in html.split('id="upcoming-auto"')[0]

    response = rep_client.post(reverse("cadences-auto-cancel", args=[task.id]))
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.status, task.status_reason) == ("skipped", "cancelled by rep")
    assert EnrolmentEvent.objects.filter(
        enrolment=task.enrolment, message__contains="cancelled by rep"
    ).exists()


def test_cancelling_stops_an_email_waiting_in_the_outbox(rep_client, rep):
    task = queue_task(rep, position=2, first_name="Queued")
    row = OutboundEmail.objects.create(
        task=task,
        lead=task.lead,
        to_email=task.lead.email,
        from_email="a@example.com",
        subject="s",
        body_text="b",
        message_id="<m1@example.com>",
    )
    rep_client.post(reverse("cadences-auto-cancel", args=[task.id]))
    row.refresh_from_db()
    task.refresh_from_db()
    assert (row.status, task.status) == ("cancelled", "skipped")


def test_an_email_already_sending_is_not_cancelled(rep_client, rep):
    task = queue_task(rep, position=2)
    OutboundEmail.objects.create(
        task=task,
        lead=task.lead,
        to_email=task.lead.email,
        from_email="a@example.com",
        subject="s",
        body_text="b",
        message_id="<m2@example.com>",
        status="sending",
    )
    response = rep_client.post(reverse("cadences-auto-cancel", args=[task.id]), follow=True)
    assert "already gone or is being sent" in response.content.decode()
    task.refresh_from_db()
    assert task.status == "pending"


def test_a_rep_cannot_cancel_another_reps_email(rep_client, teammate):
    task = queue_task(teammate, position=2)
    assert rep_client.post(reverse("cadences-auto-cancel", args=[task.id])).status_code == 404
    task.refresh_from_db()
    assert task.status == "pending"


def test_cancel_needs_a_csrf_token(rep, teammate):
    task = queue_task(rep, position=2)
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    assert client.post(reverse("cadences-auto-cancel", args=[task.id])).status_code == 403


def test_a_manager_sees_a_reps_queue_and_a_rep_cannot(client, rep, teammate, manager):
    queue_task(teammate, first_name="Bobslead")
    client.force_login(manager)
    assert "Bobslead" in today_html(client, rep="bob")
    client.force_login(rep)
    assert client.get(reverse("cadences-today"), {"rep": "bob"}).status_code == 404


def test_hot_poll_lists_new_hot_calls_and_badge_counts_them(rep_client, rep):
    assert "Hot now" not in rep_client.get(reverse("cadences-hot")).content.decode()
    lead = LeadFactory(owner=rep, first_name="Fresh", timezone="America/Chicago")
    hot_call_create(lead=lead, at=NOW, why="pricing page visit")
    poll = rep_client.get(reverse("cadences-hot")).content.decode()
    assert "Hot now" in poll and "Fresh" in poll
    assert 'hx-swap-oob="innerHTML"' in poll
    badge = rep_client.get(reverse("cadences-hot-badge")).content.decode()
    assert "bi-fire" in badge and "1" in badge


def test_hot_poll_stops_when_the_session_has_ended(client):
    assert client.get(reverse("cadences-hot")).status_code == 286
    assert client.get(reverse("cadences-hot-badge")).status_code == 286


def test_today_polls_for_hot_calls(rep_client, rep):
    html = today_html(rep_client)
    assert f'hx-get="{reverse("cadences-hot")}"' in html
    assert 'hx-trigger="every 10s"' in html
    assert 'id="hot-badge"' in html  # the nav badge, from base.html


def test_start_working_opens_the_first_pending_item(rep_client, rep):
    first = queue_task(rep, position=1)
    queue_task(rep)
    html = today_html(rep_client)
    assert reverse("cadences-work", args=[first.id]) in html.split("Start working")[0]


def test_other_tasks_appear_in_the_other_tab(rep_client, rep):
    cadence = inbound_cadence()
    TaskFactory(lead=LeadFactory(owner=rep), rep=rep, channel="mail", due_at=NOW)
    html = today_html(rep_client)
    other = html.split('id="pane-other"')[1]
    assert "data-queue-item" in other
    assert cadence.name  # the fixture cadence exists; the task stands outside it
