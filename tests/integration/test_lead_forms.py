"""Adding and editing leads, and logging touches by hand: good input saves, bad changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from cadences.models import Enrolment, Task
from leads.models import Lead, Touch
from tests.factories import AccountFactory, LeadFactory
from tests.integration.engine_helpers import make_cadence

NOW = dt.datetime(2027, 3, 3, 15, 0, tzinfo=dt.UTC)  # Wed 10:00 in New York (alice's zone)
SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def new_lead(**fields) -> dict[str, object]:
    return {"first_name": "Ann", "last_name": "Lee", "email": "ann@acme.example",
            "stage": "awareness", **fields}  # fmt: skip


def text(response) -> str:
    return response.content.decode()


# --- add -------------------------------------------------------------------------------


def test_rep_adds_a_lead_they_then_own(rep):
    response = logged_in(rep).post(
        reverse("leads-create"),
        new_lead(company="Acme", tags="expo, vip", timezone="Europe/Berlin"),
    )
    lead = Lead.objects.get(email="ann@acme.example")
    assert response.status_code == 302
    assert response["Location"] == reverse("leads-detail", args=[lead.pk])
    assert lead.owner == rep
    assert lead.account.name == "Acme"
    assert sorted(t.name for t in lead.tags.all()) == ["expo", "vip"]
    assert lead.timezone == "Europe/Berlin"
    assert lead.created_at == NOW


def test_adding_a_lead_can_enrol_it_in_an_active_cadence(rep):
    cadence = make_cadence()
    logged_in(rep).post(reverse("leads-create"), new_lead(cadence=cadence.pk))
    enrolment = Enrolment.objects.get(lead__email="ann@acme.example")
    assert enrolment.cadence == cadence
    assert Task.objects.filter(enrolment=enrolment, status="pending").exists()


def test_an_inactive_cadence_cannot_be_chosen(rep):
    cadence = make_cadence()
    cadence.is_active = False
    cadence.save()
    response = logged_in(rep).post(reverse("leads-create"), new_lead(cadence=cadence.pk))
    assert "Select a valid choice" in text(response)
    assert not Lead.objects.exists()


def test_adding_an_email_i_already_have_takes_me_to_that_lead(rep):
    mine = LeadFactory(owner=rep, email="ann@acme.example", first_name="Original")
    response = logged_in(rep).post(
        reverse("leads-create"), new_lead(email="ANN@acme.example"), follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("leads-detail", args=[mine.pk])
    assert "A lead with this email already exists" in text(response)
    assert Lead.objects.count() == 1
    mine.refresh_from_db()
    assert mine.first_name == "Original"


def test_adding_another_reps_email_says_so_without_details(rep, teammate):
    theirs = LeadFactory(owner=teammate, email="ann@acme.example", first_name="Secretive")
    response = logged_in(rep).post(reverse("leads-create"), new_lead())
    page = text(response)
    assert response.status_code == 200
    assert "A lead with this email already exists; another rep owns it." in page
    assert "Secretive" not in page and "bob" not in page
    assert reverse("leads-detail", args=[theirs.pk]) not in page
    assert Lead.objects.count() == 1


def test_manager_adds_a_lead_for_a_chosen_rep(manager, teammate):
    logged_in(manager).post(reverse("leads-create"), new_lead(owner=teammate.pk))
    assert Lead.objects.get().owner == teammate


def test_a_rep_cannot_give_a_new_lead_to_someone_else(rep, teammate):
    logged_in(rep).post(reverse("leads-create"), new_lead(owner=teammate.pk))
    assert Lead.objects.get().owner == rep


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email": "not-an-email"}, "Enter a valid email address."),
        ({"email": "", "phone": ""}, "A lead needs an email or a phone number."),
        ({"timezone": "Mars/Olympus"}, "is not an IANA time zone"),
        ({"first_name": "A" * 101}, "at most 100 characters"),
        ({"notes": "x" * 100_000}, "at most 10000 characters"),
        ({"stage": "bogus"}, "Select a valid choice"),
    ],
)
def test_bad_input_on_add_shows_why_and_creates_nothing(rep, fields, message):
    response = logged_in(rep).post(reverse("leads-create"), new_lead(**fields))
    assert response.status_code == 200
    assert message in text(response)
    assert "Nothing was saved" in text(response)
    assert not Lead.objects.exists()


def test_script_in_names_is_shown_escaped_everywhere(rep):
    client = logged_in(rep)
    client.post(
        reverse("leads-create"),
        new_lead(first_name=SCRIPT, last_name=SCRIPT, company=SCRIPT, notes=SCRIPT, title=SCRIPT),
    )
    lead = Lead.objects.get()
    assert lead.first_name == SCRIPT  # kept as typed; escaping is the page's job
    for url in (
        reverse("leads-list"),
        reverse("leads-detail", args=[lead.pk]),
        reverse("leads-edit", args=[lead.pk]),
    ):
        page = text(client.get(url))
        assert SCRIPT not in page, url
        assert ESCAPED in page or "&lt;script&gt;" in page, url


def test_a_colleagues_script_name_is_escaped_on_the_lead_page(rep):
    acme = AccountFactory(name=SCRIPT)
    lead = LeadFactory(owner=rep, account=acme)
    LeadFactory(owner=rep, account=acme, first_name=SCRIPT)
    page = text(logged_in(rep).get(reverse("leads-detail", args=[lead.pk])))
    assert SCRIPT not in page


# --- edit ------------------------------------------------------------------------------


def test_edit_form_is_filled_with_the_lead(rep):
    lead = LeadFactory(owner=rep, first_name="Ann", account=AccountFactory(name="Acme"))
    page = text(logged_in(rep).get(reverse("leads-edit", args=[lead.pk])))
    assert 'value="Ann"' in page and 'value="Acme"' in page


def test_rep_edits_a_lead_and_blank_clears(rep):
    lead = LeadFactory(owner=rep, title="CEO", email="ann@acme.example")
    response = logged_in(rep).post(
        reverse("leads-edit", args=[lead.pk]),
        new_lead(first_name="Anna", title="", company="New Co", tags="hot"),
    )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.first_name, lead.title, lead.account.name) == ("Anna", "", "New Co")
    assert [t.name for t in lead.tags.all()] == ["hot"]


def test_editing_to_another_leads_email_is_refused(rep, teammate):
    LeadFactory(owner=teammate, email="taken@example.com")
    lead = LeadFactory(owner=rep, email="ann@acme.example", first_name="Ann")
    response = logged_in(rep).post(
        reverse("leads-edit", args=[lead.pk]), new_lead(email="taken@example.com", first_name="X")
    )
    assert "another lead already has taken@example.com" in text(response)
    lead.refresh_from_db()
    assert (lead.email, lead.first_name) == ("ann@acme.example", "Ann")


def test_bad_input_on_edit_changes_nothing(rep):
    lead = LeadFactory(owner=rep, email="ann@acme.example", first_name="Ann")
    response = logged_in(rep).post(
        reverse("leads-edit", args=[lead.pk]),
        new_lead(email="broken@", first_name="Changed", notes="y" * 100_000),
    )
    page = text(response)
    assert "Enter a valid email address." in page
    assert "at most 10000 characters" in page
    lead.refresh_from_db()
    assert (lead.email, lead.first_name, lead.notes) == ("ann@acme.example", "Ann", "")


def test_manager_reassigns_a_lead_and_a_rep_cannot(rep, teammate, manager):
    lead = LeadFactory(owner=rep, email="ann@acme.example")
    logged_in(rep).post(reverse("leads-edit", args=[lead.pk]), new_lead(owner=teammate.pk))
    lead.refresh_from_db()
    assert lead.owner == rep
    logged_in(manager).post(reverse("leads-edit", args=[lead.pk]), new_lead(owner=teammate.pk))
    lead.refresh_from_db()
    assert lead.owner == teammate


# --- logging a touch by hand -----------------------------------------------------------


def touch(**fields) -> dict[str, object]:
    return {"channel": "call", "outcome": "connected", "occurred_at": "2027-03-03T09:30",
            "notes": "", **fields}  # fmt: skip


def test_rep_logs_a_call_in_their_own_time_zone(rep):
    lead = LeadFactory(owner=rep)
    response = logged_in(rep).post(
        reverse("leads-touch", args=[lead.pk]), touch(notes="Talked pricing")
    )
    assert response.status_code == 302
    logged = Touch.objects.get(lead=lead)
    # 09:30 New York (EST) is 14:30 UTC.
    assert logged.occurred_at == dt.datetime(2027, 3, 3, 14, 30, tzinfo=dt.UTC)
    assert (logged.rep, logged.outcome, logged.notes) == (rep, "connected", "Talked pricing")
    lead.refresh_from_db()
    assert lead.touch_count == 1


def test_voicemail_with_a_callback_makes_a_callback_task_due_exactly_then(rep):
    lead = LeadFactory(owner=rep)
    logged_in(rep).post(
        reverse("leads-touch", args=[lead.pk]),
        touch(outcome="voicemail", callback_at="2027-03-04T08:30"),
    )
    callback = Task.objects.get(lead=lead, kind="callback")
    assert callback.due_at == dt.datetime(2027, 3, 4, 13, 30, tzinfo=dt.UTC)
    assert callback.rep == rep


def test_the_touch_form_defaults_to_now_in_the_reps_time(rep):
    lead = LeadFactory(owner=rep)
    page = text(logged_in(rep).get(reverse("leads-detail", args=[lead.pk])))
    assert 'value="2027-03-03T10:00"' in page
    assert "Your time (America/New_York)" in page


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"callback_at": "2027-03-02T08:30", "outcome": "voicemail"}, "must be in the future"),
        ({"occurred_at": "2027-03-05T09:30"}, "A touch cannot happen in the future."),
        ({"occurred_at": "yesterday"}, "Enter a valid date/time."),
        ({"notes": "z" * 100_000}, "at most 10000 characters"),
        ({"channel": "fax"}, "Select a valid choice"),
        ({"callback_at": "2027-03-04T08:30", "outcome": "sent", "channel": "email"}, "callback"),
        ({"callback_at": "2027-03-04T08:30", "outcome": "meeting_booked"}, "callback goes with"),
    ],
)
def test_bad_touch_input_shows_why_and_logs_nothing(rep, fields, message):
    lead = LeadFactory(owner=rep)
    response = logged_in(rep).post(reverse("leads-touch", args=[lead.pk]), touch(**fields))
    page = text(response)
    assert response.status_code == 200
    assert message in page
    assert "The touch was not logged" in page
    assert not Touch.objects.exists()
    assert not Task.objects.filter(kind="callback").exists()
    lead.refresh_from_db()
    assert lead.touch_count == 0
