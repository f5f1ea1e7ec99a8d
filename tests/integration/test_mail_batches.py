"""Mail batches: today's handwritten notes as a CSV and labels; "mark posted" logs them."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

from cadences.mail_batches import mail_batch, mail_batch_post
from cadences.models import Task
from cadences.services import enrolment_start
from leads.models import Touch
from tests.factories import AccountFactory, LeadFactory, TaskFactory
from tests.integration.engine_helpers import make_cadence

# 10:00 in New York, where alice works (tests/conftest.py).
NOW = dt.datetime(2027, 3, 2, 15, tzinfo=dt.UTC)
ADDRESS = {
    "address_line1": "1 Main St",
    "city": "Springfield",
    "region": "IL",
    "postal_code": "62701",
    "country": "USA",
}


def _note(rep, *, due: dt.datetime = NOW, title: str = "Handwritten note", **lead_fields):
    lead = LeadFactory(owner=rep, **{**ADDRESS, **lead_fields})
    return TaskFactory(lead=lead, rep=rep, channel="mail", due_at=due, title=title)


def test_the_batch_holds_the_reps_mail_due_by_the_end_of_their_local_day(rep, teammate):
    today = _note(rep, due=NOW + dt.timedelta(hours=9))  # 19:00 New York
    overdue = _note(rep, due=NOW - dt.timedelta(days=3))
    _note(rep, due=NOW + dt.timedelta(hours=15))  # 01:00 tomorrow in New York
    _note(teammate)
    done = _note(rep)
    done.status = "done"
    done.save()
    TaskFactory(lead=LeadFactory(owner=rep, **ADDRESS), rep=rep, channel="call", due_at=NOW)

    batch = mail_batch(rep=rep, now=NOW)

    assert batch.day == dt.date(2027, 3, 2)
    assert batch.ready == [overdue, today]
    assert batch.needs_address == []


def test_a_lead_without_a_postal_address_is_set_apart(rep):
    ready = _note(rep)
    no_street = _note(rep, address_line1="")
    no_town = _note(rep, city="", postal_code="")

    batch = mail_batch(rep=rep, now=NOW)

    assert batch.ready == [ready]
    assert set(batch.needs_address) == {no_street, no_town}


def test_marking_posted_logs_a_sent_mail_touch_and_completes_each_task(rep):
    first, second = _note(rep), _note(rep)
    missing = _note(rep, address_line1="")

    posted = mail_batch_post(rep=rep, task_ids=[first.id, second.id, missing.id], now=NOW)

    assert set(posted) == {first, second}
    for task in (first, second):
        task.refresh_from_db()
        assert task.status == "done"
        assert task.touch.channel == "mail" and task.touch.outcome == "sent"
        assert task.touch.rep == rep and task.touch.occurred_at == NOW
    missing.refresh_from_db()
    assert missing.status == "pending"


def test_posting_twice_logs_each_note_once(rep):
    task = _note(rep)

    mail_batch_post(rep=rep, task_ids=[task.id], now=NOW)
    again = mail_batch_post(rep=rep, task_ids=[task.id], now=NOW)

    assert again == []
    assert Touch.objects.filter(lead=task.lead, channel="mail").count() == 1


def test_only_the_tasks_shown_are_posted(rep):
    shown, later_added = _note(rep), _note(rep)

    mail_batch_post(rep=rep, task_ids=[shown.id], now=NOW)

    later_added.refresh_from_db()
    assert later_added.status == "pending"


def test_posting_a_cadence_note_moves_the_cadence_to_its_next_step(rep):
    cadence = make_cadence(
        "Notes", steps=[{"channel": "mail", "wait_days": 0}, {"channel": "call", "wait_days": 1}]
    )
    lead = LeadFactory(owner=rep, **ADDRESS)
    enrolment_start(lead=lead, cadence=cadence, now=NOW - dt.timedelta(hours=2))
    note = Task.objects.get(lead=lead, channel="mail")

    mail_batch_post(rep=rep, task_ids=[note.id], now=NOW)

    assert Task.objects.filter(lead=lead, channel="call", status="pending").exists()


# --- the pages --------------------------------------------------------------------


@pytest.fixture
def frozen():
    """The pages read the clock: stop it at NOW (sessions then start at NOW too)."""
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def as_rep(frozen, client, rep):
    client.force_login(rep)
    return client


def test_the_page_lists_the_batch_and_those_needing_an_address(as_rep, rep):
    _note(rep, first_name="Ann", last_name="Lee")
    _note(rep, first_name="Bo", last_name="Nash", address_line1="")

    response = as_rep.get(reverse("cadences-mail-batch"))

    assert response.status_code == 200
    assert "Ann Lee" in response.text
    assert "Needs an address" in response.text and "Bo Nash" in response.text
    assert "Mark 1 posted" in response.text


def test_the_page_runs_a_fixed_number_of_queries(as_rep, rep, django_assert_max_num_queries):
    for _ in range(3):
        _note(rep, account=AccountFactory())
    as_rep.get(reverse("cadences-mail-batch"))
    for _ in range(20):
        _note(rep, account=AccountFactory())
    # Session, user, the rep's groups and profile, the tasks with lead, account, step.
    with django_assert_max_num_queries(8):
        as_rep.get(reverse("cadences-mail-batch"))


def test_the_csv_has_names_and_postal_addresses(as_rep, rep):
    _note(rep, first_name="Ann", last_name="Lee", account=AccountFactory(name="Acme"))
    _note(rep, address_line1="")

    response = as_rep.get(reverse("cadences-mail-batch-csv"))

    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [
        [
            "name",
            "company",
            "address_line1",
            "address_line2",
            "city",
            "region",
            "postal_code",
            "country",
            "note",
        ],
        [
            "Ann Lee",
            "Acme",
            "1 Main St",
            "",
            "Springfield",
            "IL",
            "62701",
            "USA",
            "Handwritten note",
        ],
    ]
    assert response["Content-Disposition"] == 'attachment; filename="mail-batch-2027-03-02.csv"'


def test_the_labels_page_prints_three_columns_of_addresses(as_rep, rep):
    _note(rep, first_name="Ann", last_name="Lee")

    response = as_rep.get(reverse("cadences-mail-batch-labels"))

    # The sheet's CSS is a static file: the Content-Security-Policy refuses <style>.
    assert "css/mail-labels.css" in response.text
    css = (settings.BASE_DIR / "static" / "css" / "mail-labels.css").read_text()
    assert "grid-template-columns: repeat(3, 1fr)" in css
    assert "@media print" in css
    assert "Ann Lee" in response.text and "62701 Springfield" in response.text


def test_mark_posted_from_the_page_completes_the_shown_tasks(as_rep, rep):
    task = _note(rep)

    response = as_rep.post(reverse("cadences-mail-batch-posted"), {"task": [task.id]})

    assert response.status_code == 302
    task.refresh_from_db()
    assert task.status == "done"


def test_a_rep_cannot_open_or_post_another_reps_batch(as_rep, teammate):
    task = _note(teammate)

    assert as_rep.get(reverse("cadences-mail-batch") + "?rep=bob").status_code == 404
    response = as_rep.post(reverse("cadences-mail-batch-posted"), {"task": [task.id], "rep": "bob"})
    assert response.status_code == 404
    task.refresh_from_db()
    assert task.status == "pending"


def test_a_manager_opens_a_reps_batch(frozen, client, manager, rep):
    _note(rep, first_name="Ann", last_name="Lee")
    client.force_login(manager)

    response = client.get(reverse("cadences-mail-batch") + "?rep=alice")

    assert "Ann Lee" in response.text
