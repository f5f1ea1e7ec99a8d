"""Web form capture: a plain form posted from any site makes (or matches) a lead."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from cadences.models import Enrolment, Task
from leads.models import CaptureForm, Lead, RoutingRule, Signal
from leads.suppression import suppress_email
from tests.factories import LeadFactory
from tests.integration.engine_helpers import make_cadence

FORM_POST = {
    "email": "ann@example.org",
    "first_name": "Ann",
    "last_name": "Lee",
    "phone": "+1 555 0100",
    "company": "Acme",
    "message": "Please call me about pricing",
    "website": "",
}


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def form(db) -> CaptureForm:
    return CaptureForm.objects.create(name="Demo request", source="website demo")


@pytest.fixture
def visitor() -> Client:
    # enforce_csrf_checks: the form is posted from other sites, without our token.
    return Client(enforce_csrf_checks=True, REMOTE_ADDR="203.0.113.7")


def url(form: CaptureForm) -> str:
    return reverse("leads-capture", args=[form.public_key])


def test_a_post_creates_a_lead_routed_and_enrolled_with_its_first_call(rep, form, visitor):
    demo = make_cadence("Inbound demo", steps=[{"channel": "call", "wait_days": 0}])
    rule = RoutingRule.objects.create(name="Demo requests", source="website demo", cadence=demo)
    rule.pool.set([rep])

    response = visitor.post(url(form), FORM_POST)

    assert response.status_code == 200
    assert "Thank you" in response.text
    lead = Lead.objects.get()
    assert (lead.email, lead.name, lead.account.name) == ("ann@example.org", "Ann Lee", "Acme")
    assert (lead.owner, lead.source) == (rep, "website demo")
    assert lead.notes == "Please call me about pricing"
    assert Enrolment.objects.get(lead=lead).cadence == demo
    assert Task.objects.filter(lead=lead, rep=rep, channel="call", status="pending").exists()


def test_without_a_rule_the_forms_own_cadence_is_used(rep, form, visitor):
    form.cadence = make_cadence("Form default", steps=[{"channel": "call", "wait_days": 0}])
    form.save()

    visitor.post(url(form), FORM_POST)

    assert Enrolment.objects.get().cadence == form.cadence
    assert Lead.objects.get().owner == rep


def test_a_known_email_is_matched_and_becomes_a_hot_signal_not_a_duplicate(rep, form, visitor):
    lead = LeadFactory(email="Ann@Example.org", owner=rep, first_name="Ann")

    response = visitor.post(url(form), {**FORM_POST, "email": "ann@EXAMPLE.org"})

    assert response.status_code == 200
    assert Lead.objects.count() == 1
    signal = Signal.objects.get(lead=lead)
    assert signal.kind == "form_submitted"
    assert signal.data["message"] == "Please call me about pricing"
    assert Task.objects.filter(lead=lead, kind="hot", rep=rep).exists()


def test_a_filled_honeypot_answers_thanks_and_stores_nothing(rep, form, visitor):
    response = visitor.post(url(form), {**FORM_POST, "website": "http://spam.example"})

    assert response.status_code == 200
    assert "Thank you" in response.text
    assert not Lead.objects.exists()


def test_the_eleventh_post_in_a_minute_from_one_ip_is_refused_with_429(rep, form, visitor):
    with time_machine.travel(dt.datetime(2027, 3, 2, 14, 0, 5, tzinfo=dt.UTC), tick=False):
        answers = [
            visitor.post(url(form), {**FORM_POST, "email": f"p{i}@example.org"}).status_code
            for i in range(11)
        ]
        refused = visitor.post(url(form), FORM_POST)
        other_ip = Client(REMOTE_ADDR="198.51.100.1").post(url(form), FORM_POST)

    assert answers == [200] * 10 + [429]
    assert refused.status_code == 429
    assert refused["Retry-After"] == "55"
    assert other_ip.status_code == 200
    with time_machine.travel(dt.datetime(2027, 3, 2, 14, 1, 1, tzinfo=dt.UTC), tick=False):
        assert visitor.post(url(form), FORM_POST).status_code == 200


def test_next_redirects_to_the_site_that_posted_the_form(rep, form, visitor):
    response = visitor.post(
        url(form),
        {**FORM_POST, "next": "https://www.example.org/thanks/"},
        HTTP_ORIGIN="https://www.example.org",
    )

    assert response.status_code == 302
    assert response["Location"] == "https://www.example.org/thanks/"


def test_next_to_another_site_is_ignored_for_the_plain_thank_you_page(rep, form, visitor):
    response = visitor.post(
        url(form),
        {**FORM_POST, "next": "https://evil.example/phish"},
        HTTP_ORIGIN="https://www.example.org",
    )

    assert response.status_code == 200
    assert "Thank you" in response.text


def test_a_bad_email_is_refused_with_400_saying_why(rep, form, visitor):
    response = visitor.post(url(form), {**FORM_POST, "email": "ann@"})

    assert response.status_code == 400
    assert "is not a valid address" in response.text
    assert not Lead.objects.exists()


def test_a_suppressed_email_is_thanked_and_not_added_back(rep, form, visitor):
    suppress_email("ann@example.org", "unsubscribed")

    response = visitor.post(url(form), FORM_POST)

    assert response.status_code == 200
    assert not Lead.objects.exists()


def test_an_unknown_or_inactive_form_is_404(rep, form, visitor):
    form.is_active = False
    form.save()

    assert visitor.post(url(form), FORM_POST).status_code == 404
    assert visitor.post("/capture/no-such-key/", FORM_POST).status_code == 404


def test_the_form_page_shows_the_embeddable_snippet(form, visitor):
    response = visitor.get(url(form))

    assert response.status_code == 200
    assert f'action="http://127.0.0.1:8000/capture/{form.public_key}/"' in response.text
    assert 'name="website"' in response.text


def test_admin_shows_each_forms_snippet_to_paste(client, manager, form):
    client.force_login(manager)

    response = client.get(reverse("admin:leads_captureform_change", args=[form.pk]))

    assert response.status_code == 200
    assert f"/capture/{form.public_key}/" in response.text
    assert "&lt;form method=&quot;post&quot;" in response.text


def test_each_form_gets_its_own_random_key(db):
    one = CaptureForm.objects.create(name="One")
    two = CaptureForm.objects.create(name="Two")

    assert one.public_key != two.public_key
    assert len(one.public_key) >= 20
