"""Hostile input: HTML is inert everywhere, headers cannot be injected, sizes are bounded.

The XSS test plants ``<script>`` and ``"><img onerror>`` in every text a lead, an account,
a touch, a signal, a cadence and its steps, an asset and an import can hold, through the
API and a CSV import as an integration or a rep would, then opens every page of the app
(each GET pattern of the URL resolver, as in ``test_access_matrix``) and every admin
changelist and change page, as the owner and as a manager, and checks that the payload
never comes back as markup.
"""

from __future__ import annotations

import datetime as dt
import json
from email import message_from_bytes

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cadences.copy import CopyError, check_renders, render_text
from cadences.models import Task
from cadences.outbox import outbox_fill, unsubscribe_token
from cadences.reports import REPORTS
from leads import calendar
from leads.models import Asset, CaptureForm, Lead, LeadImport, Signal, Touch
from tests.factories import CadenceFactory, StepFactory
from tests.integration.api_helpers import client_for, post
from tests.integration.test_access_matrix import MATRIX, Pattern, all_patterns

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
MARKUP = ("<script>alert(1)", "<img src=x onerror=alert(1)>")  # what must never come back
BOTH = f"{SCRIPT} {IMG}"

pytestmark = pytest.mark.django_db


# --- planting ------------------------------------------------------------------------------


@pytest.fixture
def planted(rep, manager, tmp_path) -> dict[str, object]:
    cadence = CadenceFactory(name=f"Nurture {SCRIPT}", description=IMG, is_active=True)
    StepFactory(
        cadence=cadence,
        position=1,
        channel="call",
        title=SCRIPT,
        script=IMG,
        questions=[SCRIPT, IMG],
    )
    StepFactory(cadence=cadence, position=2, channel="email", subject=SCRIPT, body=IMG, wait_days=1)
    Asset.objects.create(
        title=SCRIPT, summary=IMG, url="https://example.com/case", for_awareness=True
    )
    api = client_for(rep)
    answer = post(
        api,
        "/api/leads/",
        {
            "email": "hostile@example.com",
            "first_name": SCRIPT,
            "last_name": IMG,
            "title": BOTH,
            "source": SCRIPT,
            "company": f"Acme {IMG}",
            "tags": [SCRIPT, IMG],
            "cadence": cadence.name,
        },
    )
    assert answer.status_code == 201, answer.content
    lead = Lead.objects.get(pk=answer.json()["id"])
    touched = post(
        api,
        "/api/touches/",
        {"lead_id": lead.pk, "channel": "call", "outcome": "no_answer", "notes": BOTH},
    )
    assert touched.status_code == 201, touched.content
    signalled = post(
        api,
        "/api/signals/",
        {"lead_id": lead.pk, "kind": "pricing_page_visit", "data": {"page": BOTH}},
    )
    assert signalled.status_code == 202, signalled.content
    csv = tmp_path / "hostile.csv"
    csv.write_text(
        "email,first_name,last_name,company,title,source,tags\n"
        f'imported@example.com,"{IMG.replace(chr(34), chr(34) * 2)}",{SCRIPT},'
        f"{SCRIPT},{SCRIPT},{SCRIPT},{SCRIPT}\n"
    )
    call_command("import_leads", str(csv), "--owner", "alice")
    assert Lead.objects.filter(email="imported@example.com", first_name=IMG).exists()
    job = LeadImport.objects.create(
        created_by=rep,
        filename=f"{SCRIPT}.csv",
        upload=b"",
        header=[SCRIPT, IMG],
        errors=[[2, BOTH]],
        notes=[BOTH],
        status=LeadImport.Status.DONE,
    )
    form = CaptureForm.objects.create(name=SCRIPT, source=IMG)
    task = Task.objects.filter(lead=lead, status="pending", mode="manual").first()
    assert task is not None, "the API enrolment made the first step's task"
    return {"lead": lead, "task": task, "job": job, "form": form, "cadence": cadence}


def test_the_payloads_were_stored_as_typed(planted):
    lead = planted["lead"]

    assert (lead.first_name, lead.last_name, lead.title) == (SCRIPT, IMG, BOTH)
    assert lead.account.name == f"Acme {IMG}"
    assert Touch.objects.get(lead=lead).notes == BOTH
    assert Signal.objects.get(lead=lead).data == {"page": BOTH}


# --- every page, as the owner and as a manager --------------------------------------------


def page_args(pattern: Pattern, planted: dict[str, object], rep) -> dict[str, object] | None:
    """The path filled with the planted objects; None for a page that takes none of them."""
    values: dict[str, object] = {}
    for key in pattern.keys:
        if key == "pk":
            values[key] = planted["job" if "import" in pattern.route else "lead"].pk
        elif key == "task_id":
            values[key] = planted["task"].pk
        elif key == "enrolment_pk":
            values[key] = planted["lead"].enrolments.first().pk
        elif key == "token":
            lead, route = planted["lead"], pattern.route
            values[key] = (
                unsubscribe_token(lead)
                if "unsubscribe" in route
                else calendar.rep_profile_for(rep).calendar_token
            )
        elif key == "public_key":
            values[key] = planted["form"].public_key
        elif key == "name":
            values[key] = "touches-to-close"
        else:
            return None
    return values


def app_pages(planted: dict[str, object], rep) -> list[str]:
    urls = []
    for pattern in all_patterns():
        entry = MATRIX.get(pattern.key)
        if pattern.is_admin or entry is None or entry.method != "get":
            continue
        if pattern.name.startswith("api:"):
            continue  # JSON, checked below
        args = page_args(pattern, planted, rep)
        if args is not None:
            urls.append(reverse(pattern.name, kwargs=args))
    urls += [reverse("cadences-report", args=[name]) for name in REPORTS]
    return urls


def admin_pages() -> list[str]:
    from django.contrib import admin

    urls = []
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        for row in model_admin.get_queryset(_manager_request()).order_by("-pk")[:3]:
            urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk]))
    return urls


def _manager_request():
    from django.contrib.auth import get_user_model
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = get_user_model().objects.get(username="maria")
    return request


def inert(client: Client, url: str) -> list[str]:
    response = client.get(url)
    problems = []
    if response.status_code >= 500 and response.status_code != 503:  # 503: /readyz, no tick
        problems.append(f"{url}: server error {response.status_code}")
    content_type = response.get("Content-Type", "")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode("utf-8", "replace")
    if "html" in content_type or text.lstrip().startswith("<"):
        problems += [f"{url}: raw {markup!r}" for markup in MARKUP if markup in text]
    return problems


def test_no_page_returns_the_payload_as_markup_to_the_owner_or_a_manager(
    planted, rep, manager, capsys
):
    owner, boss = Client(), Client()
    owner.force_login(rep)
    boss.force_login(manager)
    pages = app_pages(planted, rep)

    problems = []
    for url in pages:
        problems += inert(owner, url) + inert(boss, url)
    admin = admin_pages()
    for url in admin:
        problems += inert(boss, url)

    with capsys.disabled():
        print(f"\nXSS: {len(pages)} app pages x 2 people and {len(admin)} admin pages, inert")
    assert problems == []
    assert len(pages) >= 20 and len(admin) >= 40


def test_the_api_answers_json_so_the_payload_is_data_not_markup(planted, rep):
    response = client_for(rep).get(f"/api/leads/{planted['lead'].pk}/")

    assert response["Content-Type"].startswith("application/json")
    assert response.json()["first_name"] == SCRIPT
    assert response["X-Content-Type-Options"] == "nosniff"


# --- email headers --------------------------------------------------------------------------

INJECTED = "Ann\r\nBcc: victim@example.com"


def test_a_subject_with_a_line_break_is_refused_by_the_composer(client, rep, planted):
    lead = planted["lead"]
    email_task = Task.objects.create(
        lead=lead, rep=rep, channel="email", kind="callback", due_at=timezone.now()
    )
    client.force_login(rep)

    response = client.post(
        reverse("cadences-work-email", args=[email_task.pk]),
        {"subject": "Hello\r\nBcc: victim@example.com", "body": "Hi", "action": "send"},
    )

    assert response.status_code == 200  # the form again, with the error
    assert mail.outbox == []
    assert Touch.objects.filter(lead=lead, channel="email").count() == 0


def test_cadence_copy_cannot_break_the_subject_line_of_an_automated_email(rep):
    cadence = CadenceFactory(name="Header test", is_active=True)
    StepFactory(
        cadence=cadence,
        position=1,
        channel="email",
        mode="auto",
        subject="Hi {{ lead.first_name }}\r\nBcc: victim@example.com",
        body="Hello",
    )
    lead = Lead.objects.create(owner=rep, email="ann@example.com", first_name=INJECTED)
    from cadences.services import enrolment_start

    enrolment_start(lead=lead, cadence=cadence, now=timezone.now() - dt.timedelta(days=1))

    outbox_fill(now=timezone.now() + dt.timedelta(days=3))

    row = lead.outbound_emails.get()
    assert "\r" not in row.subject and "\n" not in row.subject
    assert row.subject == "Hi Ann Bcc: victim@example.com Bcc: victim@example.com"


def test_a_lead_name_with_a_line_break_cannot_add_a_header_to_a_manual_email(
    client, rep, smtp_sink
):
    lead = Lead.objects.create(owner=rep, email="ann@example.com", first_name=INJECTED)
    task = Task.objects.create(
        lead=lead, rep=rep, channel="email", kind="callback", due_at=timezone.now()
    )
    client.force_login(rep)

    client.post(
        reverse("cadences-work-email", args=[task.pk]),
        {"subject": "Hello", "body": "Hi", "action": "send"},
    )

    # Sent with the name folded into one header, or refused: never a second recipient.
    for _sender, recipients in smtp_sink.envelopes:
        assert recipients == ["ann@example.com"]
    for message in smtp_sink.messages:
        assert message.get_all("Bcc") is None


@pytest.mark.parametrize(
    "field", ["first_name", "last_name", "title", "source", "phone", "company", "email"]
)
def test_over_long_lead_fields_are_refused_by_the_api_naming_the_field(rep, field):
    values = {"email": "long@example.com", field: "x" * 1000}
    if field == "email":
        values["email"] = "x" * 1000 + "@example.com"

    response = post(client_for(rep), "/api/leads/", values)

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not Lead.objects.exists()


def test_an_over_long_touch_note_is_stored_whole_or_refused_never_a_server_error(rep):
    lead = Lead.objects.create(owner=rep, email="ann@example.com")

    response = post(
        client_for(rep),
        "/api/touches/",
        {"lead_id": lead.pk, "channel": "call", "outcome": "no_answer", "notes": "n" * 500_000},
    )

    assert response.status_code in (201, 400)


def test_a_body_over_the_api_limit_is_refused_before_it_is_read(rep):
    response = client_for(rep).post(
        "/api/leads/", data=json.dumps({"notes": "x" * 2_000_000}), content_type="application/json"
    )

    assert response.status_code == 413


def test_a_browser_form_post_over_the_upload_limit_is_refused(client, rep, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    client.force_login(rep)
    lead = Lead.objects.create(owner=rep, email="ann@example.com")

    response = client.post(
        reverse("leads-touch", args=[lead.pk]), {"notes": "n" * 4096, "channel": "call"}
    )

    assert response.status_code == 400
    assert not Touch.objects.exists()


def test_control_characters_are_refused_in_lead_names_through_the_api(rep):
    response = post(
        client_for(rep), "/api/leads/", {"email": "ann@example.com", "first_name": "Ann\x00"}
    )

    assert response.status_code == 400
    assert "first_name" in response.json()["fields"]


# --- the cadence copy sandbox ---------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{% debug %}",
        "{% load static %}{% static 'x' %}",
        "{% include 'base.html' %}",
        "{% extends 'base.html' %}",
        "{% url 'leads-list' %}",
        "{% csrf_token %}",
        "{% ssi '/etc/passwd' %}",
    ],
)
def test_cadence_copy_refuses_tags_that_reach_files_settings_or_the_database(source):
    assert check_renders(source) is not None
    with pytest.raises(CopyError):
        render_text(source, {"lead": {}, "rep": {}, "asset": {}})


@pytest.mark.parametrize(
    "source",
    ["{{ settings.SECRET_KEY }}", "{{ settings }}", "{{ lead.owner.password }}", "{{ request }}"],
)
def test_cadence_copy_sees_only_the_plain_lead_rep_and_asset_values(source):
    with pytest.raises(CopyError, match="unknown variable"):
        render_text(source, {"lead": {"first_name": "Ann"}, "rep": {}, "asset": {}})


def test_cadence_copy_renders_the_plain_values_it_is_given():
    text = render_text("Hi {{ lead.first_name|upper }}", {"lead": {"first_name": "Ann"}})

    assert text == "Hi ANN"


def test_an_email_message_refuses_a_header_with_a_line_break():
    # Django's last line of defence, which every send in the app goes through.
    from django.core.mail import BadHeaderError, EmailMessage

    message = EmailMessage(subject="Hi\nBcc: victim@example.com", body="x", to=["a@example.com"])
    with pytest.raises(BadHeaderError):
        message.message()
    assert message_from_bytes(b"Subject: ok\n\nx")["Subject"] == "ok"
