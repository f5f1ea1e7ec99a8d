"""The rep's iCalendar feed: a secret URL, the next 30 days of follow-ups, revocable."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from icalendar import Calendar

from cadences.services import enrolment_start
from leads.calendar import rep_profile_for
from leads.models import RepProfile
from tests.factories import AccountFactory, LeadFactory, TaskFactory
from tests.integration.engine_helpers import make_cadence

NOW = dt.datetime(2027, 3, 3, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def feed_url(user) -> str:
    return reverse("leads-calendar", args=[rep_profile_for(user).calendar_token])


def events_of(response) -> list:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    return list(Calendar.from_ical(response.content).walk("VEVENT"))


def test_feed_lists_a_callback_with_summary_time_duration_and_link(rep):
    ann = LeadFactory(
        owner=rep, first_name="Ann", last_name="Lee", account=AccountFactory(name="Acme")
    )
    callback = TaskFactory(lead=ann, kind="callback", due_at=NOW + dt.timedelta(hours=18))
    [event] = events_of(Client().get(feed_url(rep)))
    assert str(event["SUMMARY"]) == "Call Ann Lee (Acme) · callback"
    assert str(event["UID"]) == f"task-{callback.pk}@followup"
    assert event.decoded("DTSTART") == NOW + dt.timedelta(hours=18)
    assert event.decoded("DTSTART").utcoffset() == dt.timedelta(0)
    assert event.decoded("DURATION") == dt.timedelta(minutes=15)
    description = str(event["DESCRIPTION"])
    assert "Why: callback" in description
    assert f"http://testserver/leads/{ann.pk}/" in description


def test_feed_holds_the_next_30_days_of_my_pending_manual_tasks_only(rep, teammate):
    lead = LeadFactory(owner=rep, first_name="Ann", last_name="Lee")
    inside = TaskFactory(lead=lead, due_at=NOW + dt.timedelta(days=29))
    earlier_today = TaskFactory(lead=lead, due_at=NOW - dt.timedelta(hours=3))
    TaskFactory(lead=lead, due_at=NOW + dt.timedelta(days=31))  # too far
    TaskFactory(lead=lead, due_at=NOW - dt.timedelta(days=2))  # yesterday's: not a plan
    TaskFactory(lead=lead, due_at=NOW + dt.timedelta(days=1), status="done")
    TaskFactory(lead=lead, due_at=NOW + dt.timedelta(days=1), channel="email", mode="auto")
    TaskFactory(lead=LeadFactory(owner=teammate), due_at=NOW + dt.timedelta(days=1))
    uids = {str(e["UID"]) for e in events_of(Client().get(feed_url(rep)))}
    assert uids == {f"task-{inside.pk}@followup", f"task-{earlier_today.pk}@followup"}


def test_cadence_steps_are_named_with_their_cadence_and_uids_stay_stable(rep):
    cadence = make_cadence(name="Inbound demo request")
    lead = LeadFactory(owner=rep, first_name="Ann", last_name="Lee")
    enrolment_start(lead=lead, cadence=cadence, now=NOW)
    first = events_of(Client().get(feed_url(rep)))
    again = events_of(Client().get(feed_url(rep)))
    assert [str(e["SUMMARY"]) for e in first] == ["Call Ann Lee · Inbound demo request step 1"]
    assert [str(e["UID"]) for e in first] == [str(e["UID"]) for e in again]


def test_feed_needs_no_login_but_an_unknown_token_is_404(rep):
    assert Client().get(feed_url(rep)).status_code == 200
    bad = reverse("leads-calendar", args=["not-a-real-token"])
    assert Client().get(bad).status_code == 404


def test_a_blank_token_never_opens_a_feed(rep):
    RepProfile.objects.filter(user=rep).update(calendar_token="")
    assert Client().get("/leads/calendar/.ics").status_code == 404


def test_regenerating_the_token_makes_the_old_url_404(rep):
    old = feed_url(rep)
    client = Client()
    client.force_login(rep)
    response = client.post(reverse("leads-calendar-regenerate"), follow=True)
    assert "the old one no longer works" in response.content.decode()
    new = feed_url(rep)
    assert new != old
    assert Client().get(old).status_code == 404
    assert Client().get(new).status_code == 200


def test_an_inactive_reps_feed_is_404(rep):
    url = feed_url(rep)
    rep.is_active = False
    rep.save()
    assert Client().get(url).status_code == 404


def test_a_user_without_a_profile_gets_one_with_a_token(manager):
    assert not RepProfile.objects.filter(user=manager).exists()
    profile = rep_profile_for(manager)
    assert len(profile.calendar_token) >= 40
    assert Client().get(feed_url(manager)).status_code == 200
