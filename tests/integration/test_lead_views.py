"""The leads list and the lead page: who sees what, what they show, what they cost."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cadences.models import Enrolment, EnrolmentEvent, OutboundEmail, Task
from cadences.services import enrolment_start
from leads.models import Lead, Tag, Touch
from tests.factories import (
    AccountFactory,
    LeadFactory,
    SignalFactory,
    TaskFactory,
    TouchFactory,
)
from tests.integration.engine_helpers import make_cadence

NOW = dt.datetime(2027, 3, 3, 15, 0, tzinfo=dt.UTC)  # a Wednesday, 10:00 in New York


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def query_count(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def names_on(response) -> str:
    return response.content.decode()


# --- the list --------------------------------------------------------------------------


def test_rep_sees_only_their_own_leads_in_the_list(rep, teammate):
    LeadFactory(owner=rep, first_name="Ann", last_name="Lee")
    LeadFactory(owner=teammate, first_name="Bea", last_name="Other")
    page = names_on(logged_in(rep).get(reverse("leads-list")))
    assert "Ann Lee" in page
    assert "Bea Other" not in page


def test_manager_sees_every_lead_with_its_owner(rep, teammate, manager):
    LeadFactory(owner=rep, first_name="Ann", last_name="Lee")
    LeadFactory(owner=teammate, first_name="Bea", last_name="Other")
    page = names_on(logged_in(manager).get(reverse("leads-list")))
    assert "Ann Lee" in page and "Bea Other" in page
    assert '<th class="d-none d-md-table-cell">Owner</th>' in page


def test_search_matches_name_email_and_company(rep):
    acme = AccountFactory(name="Acme Rockets")
    LeadFactory(owner=rep, first_name="Ann", last_name="Lee", email="ann@x.example")
    LeadFactory(owner=rep, first_name="Carl", last_name="Diaz", email="carl@findme.example")
    LeadFactory(owner=rep, first_name="Dora", last_name="Ng", account=acme)
    client = logged_in(rep)

    def found(q: str) -> list[str]:
        page = client.get(reverse("leads-list"), {"q": q}).context["page"]
        return sorted(lead.first_name for lead in page)

    assert found("ann lee") == ["Ann"]
    assert found("findme") == ["Carl"]
    assert found("rockets") == ["Dora"]
    assert found("nobody") == []


def test_filters_by_status_stage_tag_cadence_and_overdue(rep):
    cadence = make_cadence()
    won = LeadFactory(owner=rep, status="won")
    decision = LeadFactory(owner=rep, stage="decision")
    tagged = LeadFactory(owner=rep)
    tag = Tag.objects.create(name="trade-show")
    tagged.tags.add(tag)
    enrolled = LeadFactory(owner=rep)
    enrolment_start(lead=enrolled, cadence=cadence, now=NOW + dt.timedelta(days=1))
    overdue = LeadFactory(owner=rep)
    TaskFactory(lead=overdue, due_at=NOW - dt.timedelta(hours=2))
    client = logged_in(rep)

    def found(**params) -> set[int]:
        return {lead.pk for lead in client.get(reverse("leads-list"), params).context["page"]}

    assert found(status="won") == {won.pk}
    assert found(stage="decision") == {decision.pk}
    assert found(tag=tag.pk) == {tagged.pk}
    assert found(cadence=cadence.pk) == {enrolled.pk}
    assert found(overdue="on") == {overdue.pk}


def test_manager_filters_by_owner_and_a_rep_cannot(rep, teammate, manager):
    mine = LeadFactory(owner=rep)
    theirs = LeadFactory(owner=teammate)
    page = logged_in(manager).get(reverse("leads-list"), {"owner": teammate.pk}).context["page"]
    assert [lead.pk for lead in page] == [theirs.pk]
    page = logged_in(rep).get(reverse("leads-list"), {"owner": teammate.pk}).context["page"]
    assert [lead.pk for lead in page] == [mine.pk]


def test_list_sorts_by_name_and_by_last_touched(rep):
    LeadFactory(owner=rep, first_name="Zed", last_name="Young", last_touched_at=NOW)
    LeadFactory(owner=rep, first_name="Amy", last_name="Adams", last_touched_at=None)
    LeadFactory(
        owner=rep, first_name="Mia", last_name="Moss", last_touched_at=NOW - dt.timedelta(days=3)
    )
    client = logged_in(rep)

    def order(sort: str) -> list[str]:
        page = client.get(reverse("leads-list"), {"sort": sort}).context["page"]
        return [lead.first_name for lead in page]

    assert order("name") == ["Amy", "Mia", "Zed"]
    assert order("-name") == ["Zed", "Mia", "Amy"]
    assert order("-touched") == ["Zed", "Mia", "Amy"]


def test_list_shows_fifty_leads_a_page(rep):
    LeadFactory.create_batch(60, owner=rep)
    client = logged_in(rep)
    first = client.get(reverse("leads-list")).context["page"]
    second = client.get(reverse("leads-list"), {"page": 2}).context["page"]
    assert len(first) == 50 and len(second) == 10
    assert "Page 1 of 2" in names_on(client.get(reverse("leads-list")))


def test_list_shows_the_next_task_due_and_touch_count(rep):
    lead = LeadFactory(owner=rep, touch_count=4)
    TaskFactory(lead=lead, due_at=NOW + dt.timedelta(days=2))
    TaskFactory(lead=lead, due_at=NOW + dt.timedelta(days=1))
    page = logged_in(rep).get(reverse("leads-list")).context["page"]
    assert page[0].next_due_at == NOW + dt.timedelta(days=1)
    assert page[0].touch_count == 4


def _busy_leads(rep, count: int) -> None:
    cadence = make_cadence(name=f"Cadence for {count}")
    for n in range(count):
        lead = LeadFactory(owner=rep, account=AccountFactory())
        lead.tags.add(Tag.objects.get_or_create(name=f"tag{n % 3}")[0])
        enrolment_start(lead=lead, cadence=cadence, now=NOW)


def test_list_runs_the_same_queries_for_3_or_60_leads(rep, django_assert_max_num_queries):
    client = logged_in(rep)
    _busy_leads(rep, 3)
    few = query_count(client, reverse("leads-list"))
    _busy_leads(rep, 57)
    many = query_count(client, reverse("leads-list"))
    assert few == many
    # session, user, groups, the viewer's profile (time zone), count, rows (with
    # account, owner, next due), tags, and the filter choices: cadences, tags.
    with django_assert_max_num_queries(9):
        client.get(reverse("leads-list"))


def test_manager_list_runs_the_same_queries_for_3_or_60_leads(rep, manager):
    client = logged_in(manager)
    _busy_leads(rep, 3)
    few = query_count(client, reverse("leads-list") + "?sort=-touched&overdue=on&q=a")
    _busy_leads(rep, 57)
    many = query_count(client, reverse("leads-list") + "?sort=-touched&overdue=on&q=a")
    assert few == many


# --- the lead page ---------------------------------------------------------------------


def test_lead_page_shows_contact_links_local_time_and_account(rep, teammate):
    acme = AccountFactory(name="Acme")
    lead = LeadFactory(
        owner=rep,
        first_name="Ann",
        last_name="Lee",
        email="ann@acme.example",
        phone="+1 555 0100",
        timezone="Europe/Berlin",
        account=acme,
    )
    LeadFactory(owner=rep, first_name="Cy", last_name="Same", account=acme, title="CFO")
    LeadFactory(owner=teammate, first_name="Hidden", last_name="Person", account=acme)
    page = names_on(logged_in(rep).get(reverse("leads-detail", args=[lead.pk])))
    assert 'href="tel:+1%20555%200100"' in page
    assert 'href="mailto:ann@acme.example"' in page
    assert "Wed 16:00" in page and "Europe/Berlin" in page  # 15:00 UTC is 16:00 in Berlin
    assert "Cy Same" in page and "CFO" in page
    assert "Hidden Person" not in page
    assert "1 more person is worked by other reps" in page


def test_lead_page_timeline_has_every_kind_newest_first(rep):
    cadence = make_cadence()
    lead = LeadFactory(owner=rep)
    enrolment = enrolment_start(lead=lead, cadence=cadence, now=NOW - dt.timedelta(days=5))
    TouchFactory(lead=lead, occurred_at=NOW - dt.timedelta(days=3), notes="Left a message")
    SignalFactory(lead=lead, kind="pricing_page_visit", occurred_at=NOW - dt.timedelta(days=2))
    task = TaskFactory(lead=lead, channel="email", mode="auto", status="sent")
    OutboundEmail.objects.create(
        task=task,
        lead=lead,
        to_email=lead.email,
        from_email="alice@example.com",
        subject="The guide you asked about",
        body_text="Hi",
        message_id="<m1@followup>",
        status="unknown",
        created_at=NOW - dt.timedelta(days=1),
    )
    response = logged_in(rep).get(reverse("leads-detail", args=[lead.pk]))
    kinds = [entry.kind for entry in response.context["page"].timeline]
    assert kinds[:3] == ["email", "signal", "touch"]
    assert "event" in kinds
    page = names_on(response)
    assert "may not have been sent — check before resending" in page
    assert "Left a message" in page
    assert f"Enrolled in {enrolment.cadence.name}" in page


def test_lead_page_explains_why_the_next_task_is_due_then(rep):
    lead = LeadFactory(owner=rep, timezone="America/New_York")
    # Due Monday 9:00 New York (EST), moved there from Saturday 14:00 by the weekend rule.
    TaskFactory(
        lead=lead,
        due_at=dt.datetime(2027, 3, 8, 14, 0, tzinfo=dt.UTC),
        unmoved_due_at=dt.datetime(2027, 3, 6, 19, 0, tzinfo=dt.UTC),
        due_reasons=["weekend", "min_gap"],
    )
    page = names_on(logged_in(rep).get(reverse("leads-detail", args=[lead.pk])))
    assert "Mon 8 Mar 09:00 (lead-local) — moved from Sat 6 Mar 14:00 by weekend, min_gap" in page
    assert "it fell on a weekend" in page
    assert "too soon after the lead&#x27;s previous touch" in page


def test_lead_page_says_a_callback_is_kept_to_the_minute(rep):
    lead = LeadFactory(owner=rep)
    TaskFactory(lead=lead, kind="callback", due_at=NOW + dt.timedelta(hours=20))
    page = names_on(logged_in(rep).get(reverse("leads-detail", args=[lead.pk])))
    assert "a promised callback, kept to the minute" in page


def _history(lead, count: int) -> None:
    for n in range(count):
        TouchFactory(lead=lead, occurred_at=NOW - dt.timedelta(hours=n + 1))
        SignalFactory(lead=lead, occurred_at=NOW - dt.timedelta(hours=n + 1))


def test_lead_page_runs_the_same_queries_for_2_or_40_touches(rep, django_assert_num_queries):
    cadence = make_cadence()
    acme = AccountFactory()
    lead = LeadFactory(owner=rep, account=acme)
    LeadFactory(owner=rep, account=acme)
    enrolment_start(lead=lead, cadence=cadence, now=NOW)
    lead.tags.add(Tag.objects.create(name="vip"))
    client = logged_in(rep)
    url = reverse("leads-detail", args=[lead.pk])
    _history(lead, 2)
    few = query_count(client, url)
    _history(lead, 38)
    LeadFactory.create_batch(5, owner=rep, account=acme)
    many = query_count(client, url)
    assert few == many
    # user, groups, lead (+account, owner and its profile), tags, colleagues, touches,
    # signals, outbox, events, enrolments, pending tasks, active cadences for the enrol
    # form (the session comes from the cache). The owner's profile gives the viewing
    # rep's time zone.
    with django_assert_num_queries(12):
        client.get(url)


# --- permissions -----------------------------------------------------------------------


def _lead_urls(lead, enrolment) -> list[tuple[str, str]]:
    return [
        ("get", reverse("leads-detail", args=[lead.pk])),
        ("get", reverse("leads-edit", args=[lead.pk])),
        ("post", reverse("leads-edit", args=[lead.pk])),
        ("post", reverse("leads-touch", args=[lead.pk])),
        ("post", reverse("leads-status", args=[lead.pk])),
        ("post", reverse("leads-enrol", args=[lead.pk])),
        ("post", reverse("leads-enrolment-pause", args=[lead.pk, enrolment.pk])),
        ("post", reverse("leads-enrolment-resume", args=[lead.pk, enrolment.pk])),
        ("post", reverse("leads-enrolment-remove", args=[lead.pk, enrolment.pk])),
    ]


def test_another_reps_lead_is_404_on_every_url_and_nothing_changes(rep, outsider):
    cadence = make_cadence()
    lead = LeadFactory(owner=rep, first_name="Ann")
    enrolment = enrolment_start(lead=lead, cadence=cadence, now=NOW)
    client = logged_in(outsider)
    posted = {
        "first_name": "Hacked",
        "email": "x@example.com",
        "stage": "awareness",
        "status": "lost",
        "channel": "call",
        "outcome": "connected",
        "occurred_at": "2027-03-03T09:00",
        "cadence": cadence.pk,
        "reason": "mine now",
    }
    for method, url in _lead_urls(lead, enrolment):
        response = getattr(client, method)(url, posted)
        assert response.status_code == 404, url
    lead.refresh_from_db()
    enrolment.refresh_from_db()
    assert (lead.first_name, lead.status) == ("Ann", "new")
    assert enrolment.status == "active"
    assert not Touch.objects.filter(lead=lead).exists()


def test_manager_opens_and_changes_any_reps_lead(rep, manager):
    lead = LeadFactory(owner=rep, first_name="Ann")
    client = logged_in(manager)
    assert client.get(reverse("leads-detail", args=[lead.pk])).status_code == 200
    response = client.post(reverse("leads-status", args=[lead.pk]), {"status": "meeting"})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.status == "meeting"


def test_lead_pages_need_a_login(rep):
    lead = LeadFactory(owner=rep)
    for url in (reverse("leads-list"), reverse("leads-detail", args=[lead.pk])):
        response = Client().get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_an_enrolment_of_another_lead_is_404_under_my_lead(rep, teammate):
    cadence = make_cadence()
    mine = LeadFactory(owner=rep)
    theirs = LeadFactory(owner=teammate)
    enrolment = enrolment_start(lead=theirs, cadence=cadence, now=NOW)
    url = reverse("leads-enrolment-remove", args=[mine.pk, enrolment.pk])
    assert logged_in(rep).post(url, {"reason": "x"}).status_code == 404
    enrolment.refresh_from_db()
    assert enrolment.status == "active"


def test_every_lead_form_carries_a_csrf_token_and_is_refused_without(rep):
    lead = LeadFactory(owner=rep)
    enrolment_start(lead=lead, cadence=make_cadence(), now=NOW)
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    page = names_on(client.get(reverse("leads-detail", args=[lead.pk])))
    forms = page.count("<form")
    assert forms >= 5
    assert page.count('name="csrfmiddlewaretoken"') >= forms
    response = client.post(reverse("leads-status", args=[lead.pk]), {"status": "lost"})
    assert response.status_code == 403
    lead.refresh_from_db()
    assert lead.status == "new"


# --- enrolments and status -------------------------------------------------------------


def test_rep_enrols_a_lead_and_the_reason_goes_on_the_timeline(rep):
    cadence = make_cadence()
    lead = LeadFactory(owner=rep)
    response = logged_in(rep).post(
        reverse("leads-enrol", args=[lead.pk]), {"cadence": cadence.pk, "reason": "met at expo"}
    )
    assert response.status_code == 302
    enrolment = Enrolment.objects.get(lead=lead)
    assert enrolment.status == "active"
    assert Task.objects.filter(enrolment=enrolment, status="pending").count() == 1
    assert EnrolmentEvent.objects.filter(
        enrolment=enrolment, message="Enrolled by alice: met at expo"
    ).exists()


def test_enrolling_a_won_lead_shows_why_it_was_refused(rep):
    cadence = make_cadence()
    lead = LeadFactory(owner=rep, status="won")
    response = logged_in(rep).post(reverse("leads-enrol", args=[lead.pk]), {"cadence": cadence.pk})
    assert response.status_code == 200
    assert "Not enrolled: the lead is won." in names_on(response)
    assert not Enrolment.objects.filter(lead=lead).exists()


def test_pause_resume_and_remove_an_enrolment_with_reasons(rep):
    lead = LeadFactory(owner=rep)
    enrolment = enrolment_start(lead=lead, cadence=make_cadence(), now=NOW)
    client = logged_in(rep)
    args = [lead.pk, enrolment.pk]

    client.post(reverse("leads-enrolment-pause", args=args), {"reason": "on holiday"})
    enrolment.refresh_from_db()
    assert enrolment.status == "paused"
    assert not Task.objects.filter(enrolment=enrolment, status="pending").exists()

    client.post(reverse("leads-enrolment-resume", args=args), {"reason": "back"})
    enrolment.refresh_from_db()
    assert enrolment.status == "active"
    assert Task.objects.filter(enrolment=enrolment, status="pending").count() == 1

    client.post(reverse("leads-enrolment-remove", args=args), {"reason": "wrong person"})
    enrolment.refresh_from_db()
    assert enrolment.status == "exited"
    assert enrolment.exit_reason == "removed by rep (by alice: wrong person)"
    messages = [e.message for e in EnrolmentEvent.objects.filter(enrolment=enrolment)]
    assert "Paused: by alice: on holiday" in messages
    assert "Resumed by alice: back" in messages


def test_an_overlong_reason_changes_nothing(rep):
    lead = LeadFactory(owner=rep)
    enrolment = enrolment_start(lead=lead, cadence=make_cadence(), now=NOW)
    response = logged_in(rep).post(
        reverse("leads-enrolment-pause", args=[lead.pk, enrolment.pk]),
        {"reason": "x" * 5000},
        follow=True,
    )
    assert "Nothing changed" in names_on(response)
    enrolment.refresh_from_db()
    assert enrolment.status == "active"


def test_marking_a_lead_won_ends_its_enrolments(rep):
    lead = LeadFactory(owner=rep)
    enrolment = enrolment_start(lead=lead, cadence=make_cadence(), now=NOW)
    response = logged_in(rep).post(
        reverse("leads-status", args=[lead.pk]), {"status": "won"}, follow=True
    )
    assert "Status set to won" in names_on(response)
    enrolment.refresh_from_db()
    lead.refresh_from_db()
    assert lead.status == "won"
    assert enrolment.status == "exited"


def test_an_unknown_status_changes_nothing(rep):
    lead = LeadFactory(owner=rep)
    response = logged_in(rep).post(reverse("leads-status", args=[lead.pk]), {"status": "bogus"})
    assert response.status_code == 200
    assert "Select a valid choice" in names_on(response)
    assert Lead.objects.get(pk=lead.pk).status == "new"
