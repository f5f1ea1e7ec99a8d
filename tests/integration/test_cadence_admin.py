"""Cadence templates in admin: steps, timeline preview, value check, actions, A/B variants."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest
from django.urls import reverse
from django.utils import timezone

from cadences.admin_preview import cadence_timeline, sample_start, timeline_summary
from cadences.cadence_format import cadence_export, dumps_cadence
from cadences.models import Cadence, Enrolment, Step, StepVariant, Task
from cadences.scheduling import Calendar
from cadences.services import enrolment_start, enrolment_start_many
from tests.factories import CadenceFactory, LeadFactory, StepFactory, TouchFactory
from tests.integration.test_admin import admin_url, form_data

NEW_YORK = "America/New_York"
BODY = "What would a 20% shorter onboarding be worth to your team? Here is how Acme did it."


@pytest.fixture
def as_manager(client, manager):
    client.force_login(manager)
    return client


def _change(client, cadence: Cadence, edit) -> object:
    """Open the cadence page, apply `edit(data, prefix)` to what it would post, post it."""
    page = client.get(admin_url(Cadence, "change", cadence.pk))
    data = form_data(page)
    prefix = page.context["inline_admin_formsets"][0].formset.prefix
    edit(data, prefix)
    return client.post(admin_url(Cadence, "change", cadence.pk), data)


def _step_errors(response, index: int = 0) -> dict:
    return response.context["inline_admin_formsets"][0].formset.forms[index].errors


def _month_cadence(**fields) -> Cadence:
    """8 touches over 31 calendar days: 3 calls, 4 emails, 1 letter."""
    cadence = CadenceFactory(name="Month", business_days_only=False, **fields)
    plan = [
        ("call", 0),
        ("email", 2),
        ("email", 3),
        ("call", 4),
        ("mail", 5),
        ("email", 6),
        ("call", 5),
        ("email", 5),
    ]
    for position, (channel, wait_days) in enumerate(plan, start=1):
        StepFactory(
            cadence=cadence,
            position=position,
            channel=channel,
            wait_days=wait_days,
            title=f"Step {position}",
            body=BODY,
        )
    return cadence


# --- step inline: order, channel fields, validation naming the field --------------------


def test_the_cadence_page_loads_the_step_script_and_htmx(as_manager):
    cadence = _month_cadence()

    page = as_manager.get(admin_url(Cadence, "change", cadence.pk))

    assert "js/admin-steps.js" in page.text
    assert "js/htmx-2.0.11.min.js" in page.text
    assert 'class="module cadence-steps"' in page.text


def test_an_automatic_email_without_a_body_is_refused_naming_the_body(as_manager):
    cadence = CadenceFactory()
    StepFactory(cadence=cadence, position=1, channel="email", subject="The guide")

    def edit(data, prefix):
        data[f"{prefix}-0-mode"] = "auto"

    response = _change(as_manager, cadence, edit)

    errors = _step_errors(response)
    assert errors["body"] == ["An automatic email needs a subject and a body."]
    assert "subject" not in errors
    assert Step.objects.get(cadence=cadence).mode == "manual"


def test_a_window_that_ends_before_it_starts_is_refused_naming_its_end(as_manager):
    cadence = CadenceFactory()
    StepFactory(cadence=cadence, position=1)

    def edit(data, prefix):
        data[f"{prefix}-0-window_start"] = "15:00"
        data[f"{prefix}-0-window_end"] = "09:00"

    response = _change(as_manager, cadence, edit)

    assert "window_end" in _step_errors(response)


def test_copy_that_does_not_render_with_a_sample_lead_is_refused_naming_the_field(as_manager):
    cadence = CadenceFactory()
    StepFactory(cadence=cadence, position=1, channel="email")

    def edit(data, prefix):
        data[f"{prefix}-0-subject"] = "Hi {{ lead.nickname }}"
        data[f"{prefix}-0-body"] = "Hi {% if %}"

    response = _change(as_manager, cadence, edit)

    errors = _step_errors(response)
    assert "unknown variable 'lead.nickname'" in errors["subject"][0]
    assert errors["body"][0].startswith("Does not render with a sample lead")


def test_a_call_step_keeps_no_subject_body_or_automatic_mode(as_manager):
    cadence = CadenceFactory()
    StepFactory(cadence=cadence, position=1, channel="email", subject="Hi", body="Hello")

    def edit(data, prefix):
        data[f"{prefix}-0-channel"] = "call"
        data[f"{prefix}-0-script"] = "Ask what changed since the demo."

    response = _change(as_manager, cadence, edit)

    assert response.status_code == 302
    step = Step.objects.get(cadence=cadence)
    assert (step.channel, step.mode, step.subject, step.body) == ("call", "manual", "", "")
    assert step.script == "Ask what changed since the demo."


def test_saving_the_steps_re_times_pending_tasks_of_running_enrolments(as_manager, rep):
    cadence = CadenceFactory(business_days_only=False)
    StepFactory(cadence=cadence, position=1, wait_days=3)
    enrolment = enrolment_start(lead=LeadFactory(owner=rep), cadence=cadence, now=timezone.now())
    task = enrolment.tasks.get()
    before = task.due_at

    def edit(data, prefix):
        data[f"{prefix}-0-wait_days"] = 6

    response = _change(as_manager, cadence, edit)

    assert response.status_code == 302
    task.refresh_from_db()
    assert task.due_at.date() == before.date() + dt.timedelta(days=3)


def test_removing_a_step_that_tasks_point_at_marks_it_removed_instead(as_manager, rep):
    cadence = CadenceFactory()
    first = StepFactory(cadence=cadence, position=1)
    unused = StepFactory(cadence=cadence, position=2)
    enrolment = enrolment_start(lead=LeadFactory(owner=rep), cadence=cadence, now=timezone.now())
    task = enrolment.tasks.get(step=first)

    def edit(data, prefix):
        data[f"{prefix}-0-DELETE"] = "on"
        data[f"{prefix}-1-DELETE"] = "on"

    response = _change(as_manager, cadence, edit)

    assert response.status_code == 302
    first.refresh_from_db()
    task.refresh_from_db()
    assert first.removed_at is not None
    assert not Step.objects.filter(pk=unused.pk).exists()
    assert (task.status, task.status_reason) == ("skipped", "step removed")


def test_deleting_a_step_with_touches_from_the_step_page_keeps_it_as_removed(as_manager):
    step = StepFactory(position=1)
    TouchFactory(step=step)

    response = as_manager.post(admin_url(Step, "delete", step.pk), {"post": "yes"})

    assert response.status_code == 302
    step.refresh_from_db()
    assert step.removed_at is not None


def test_a_holiday_country_the_calendar_does_not_know_is_refused(as_manager):
    cadence = CadenceFactory()

    def edit(data, prefix):
        data["holiday_country"] = "XX"

    response = _change(as_manager, cadence, edit)

    assert "holiday_country" in response.context["adminform"].form.errors


# --- timeline preview -----------------------------------------------------------------------


def test_the_summary_counts_touches_days_and_channels(db):
    cadence = _month_cadence()
    start, _ = sample_start(start="2027-03-01T10:00", tz=NEW_YORK, now=timezone.now())

    timeline = cadence_timeline(
        list(cadence.steps.all()), calendar=Calendar(False), min_gap_hours=20, start=start
    )

    assert timeline.summary == "8 touches over 31 days: 3 calls, 4 emails, 1 letter"
    assert [row.day_number for row in timeline.rows] == [1, 3, 6, 10, 15, 21, 26, 31]
    assert timeline.warnings == ()
    assert all(row.time_text == "10:00" and not row.moves for row in timeline.rows)


def test_the_summary_of_nothing_says_an_enrolment_would_do_nothing():
    assert timeline_summary([]) == "No live steps: an enrolment would do nothing."


def test_the_preview_warns_under_five_touches_and_of_two_touches_on_one_day(db):
    cadence = CadenceFactory(business_days_only=False)
    StepFactory(cadence=cadence, position=1, channel="call", wait_days=0)
    StepFactory(cadence=cadence, position=2, channel="email", wait_days=0, wait_hours=2)
    start, _ = sample_start(start="2027-03-01T10:00", tz=NEW_YORK, now=timezone.now())

    timeline = cadence_timeline(
        list(cadence.steps.all()), calendar=Calendar(False), min_gap_hours=0, start=start
    )

    first, same_day = timeline.warnings
    assert first.startswith("Only 2 touches: most sales close after the fifth touch")
    assert same_day.startswith("Steps 1 and 2 fall on the same day (Mon 1 Mar 2027)")


def test_the_preview_moves_a_step_off_thanksgiving_and_names_the_holiday(as_manager):
    cadence = CadenceFactory(holiday_country="US", min_gap_hours=0)
    StepFactory(cadence=cadence, position=1, channel="call", wait_days=0)
    StepFactory(cadence=cadence, position=2, channel="email", wait_days=1, title="Recap")

    response = as_manager.get(
        reverse("admin:cadences_cadence_preview", args=[cadence.pk]),
        {"start": "2027-11-25T10:00", "tz": NEW_YORK},
    )

    first, second = response.context["timeline"].rows
    assert (first.date_text, first.time_text) == ("Fri 26 Nov 2027", "09:00")
    assert "holiday: Thanksgiving Day (Thu 25 Nov 2027)" in first.moves
    assert second.date_text == "Mon 29 Nov 2027"
    assert "holiday: Thanksgiving Day (Thu 25 Nov 2027)" in response.text
    assert "Timeline of" in response.text  # opened on its own: a whole admin page


def test_the_preview_counts_waits_past_a_holiday_and_says_so(db):
    cadence = CadenceFactory(holiday_country="US", min_gap_hours=0)
    StepFactory(cadence=cadence, position=1, channel="call", wait_days=0)
    StepFactory(cadence=cadence, position=2, channel="call", wait_days=1)
    start, _ = sample_start(start="2027-11-24T10:00", tz=NEW_YORK, now=timezone.now())

    timeline = cadence_timeline(
        list(cadence.steps.all()), calendar=Calendar(True, "US"), min_gap_hours=0, start=start
    )

    assert timeline.rows[1].date_text == "Fri 26 Nov 2027"
    assert timeline.rows[1].moves == ("wait counted past Thanksgiving Day (Thu 25 Nov 2027)",)


def test_the_preview_moves_weekend_and_late_steps_and_says_why(db):
    cadence = CadenceFactory(min_gap_hours=0)
    StepFactory(cadence=cadence, position=1, channel="call", wait_days=0)
    StepFactory(cadence=cadence, position=2, channel="call", wait_days=0, wait_hours=8)
    start, _ = sample_start(start="2027-03-06T10:00", tz=NEW_YORK, now=timezone.now())

    timeline = cadence_timeline(
        list(cadence.steps.all()), calendar=Calendar(True), min_gap_hours=0, start=start
    )

    saturday, late = timeline.rows
    assert saturday.date_text == "Mon 8 Mar 2027"
    assert saturday.moves == ("weekend: Sat 6 Mar 2027 is not a working day",)
    assert (late.date_text, late.time_text) == ("Tue 9 Mar 2027", "09:00")
    assert late.moves == ("window: into 09:00 to 17:00",)


def test_the_preview_follows_unsaved_edits_and_saves_nothing(as_manager):
    cadence = _month_cadence()
    page = as_manager.get(admin_url(Cadence, "change", cadence.pk))
    data = form_data(page)
    prefix = page.context["inline_admin_formsets"][0].formset.prefix
    data[f"{prefix}-7-DELETE"] = "on"
    data[f"{prefix}-6-wait_days"] = 1
    data.update(preview_start="2027-03-01T10:00", preview_tz=NEW_YORK)

    response = as_manager.post(
        reverse("admin:cadences_cadence_preview", args=[cadence.pk]), data, HTTP_HX_REQUEST="true"
    )

    assert response.context["timeline"].summary == (
        "7 touches over 22 days: 3 calls, 3 emails, 1 letter"
    )
    assert "<html" not in response.text  # a partial for htmx to swap in
    assert cadence.steps.get(position=7).wait_days == 5
    assert cadence.steps.filter(removed_at__isnull=True).count() == 8


def test_a_page_sent_back_with_errors_previews_what_was_typed(as_manager):
    cadence = _month_cadence()

    def edit(data, prefix):
        data[f"{prefix}-7-DELETE"] = "on"
        data[f"{prefix}-0-window_end"] = "08:00"  # an error: the page comes back

    response = _change(as_manager, cadence, edit)

    assert response.status_code == 200
    timeline = response.context["timeline"]
    assert [row.position for row in timeline.rows] == [2, 3, 4, 5, 6, 7]
    assert "Step 1: window start 09:00:00 must be before its end" in timeline.problems[0]
    assert cadence.steps.filter(removed_at__isnull=True).count() == 8


def test_the_preview_reads_a_chosen_leads_time_zone(as_manager, rep):
    lead = LeadFactory(owner=rep, timezone="Asia/Tokyo", email="ann@acme.example")
    cadence = _month_cadence()

    response = as_manager.get(
        reverse("admin:cadences_cadence_preview", args=[cadence.pk]),
        {"lead": "ANN@acme.example", "start": "2027-03-01T10:00"},
    )

    timeline = response.context["timeline"]
    assert timeline.start.tz == "Asia/Tokyo"
    assert timeline.start.lead == lead
    assert timeline.rows[0].time_text == "10:00"


def test_the_preview_names_what_it_cannot_read(as_manager):
    cadence = _month_cadence()

    response = as_manager.get(
        reverse("admin:cadences_cadence_preview", args=[cadence.pk]),
        {"lead": "nobody@example.com", "tz": "Mars/Olympus", "start": "next tuesday"},
    )

    problems = response.context["preview_problems"]
    assert "Lead: no lead with id or email 'nobody@example.com'." in problems
    assert any(p.startswith("Time zone: 'Mars/Olympus'") for p in problems)
    assert any(p.startswith("Start: 'next tuesday'") for p in problems)
    assert len(response.context["timeline"].rows) == 8  # still previewed: from now, default zone


def test_the_cadence_page_shows_the_timeline_and_value_check_panel(as_manager):
    cadence = _month_cadence()

    page = as_manager.get(admin_url(Cadence, "change", cadence.pk))

    assert "Timeline preview and value check" in page.text
    assert "8 touches over" in page.text
    assert reverse("admin:cadences_cadence_preview", args=[cadence.pk]) in page.text


# --- value check ----------------------------------------------------------------------------


def test_an_empty_phrase_is_a_warning_naming_step_and_phrase_and_saving_goes_on(as_manager):
    cadence = _month_cadence()

    def edit(data, prefix):
        data[f"{prefix}-1-body"] = "Hi {{ lead.first_name }}, just checking in on my last note."

    response = _change(as_manager, cadence, edit)
    page = as_manager.get(admin_url(Cadence, "change", cadence.pk))

    assert response.status_code == 302
    finding = page.context["timeline"].value_findings[0]
    assert (finding.position, finding.channel) == (2, "email")
    assert finding.message == 'says "just checking in": say what is new instead'
    assert "Step 2 (email, Step 2): says &quot;just checking in&quot;" in page.text


def test_a_variant_with_an_empty_phrase_is_flagged_too(as_manager):
    cadence = _month_cadence()
    StepVariant.objects.create(
        step=cadence.steps.get(position=2), label="B", subject="Circling back", body="Any news?"
    )

    page = as_manager.get(admin_url(Cadence, "change", cadence.pk))

    labels = [f.label for f in page.context["timeline"].value_findings]
    assert "Step 2, variant B" in labels


# --- actions: clone, (de)activate, export, import ------------------------------------------


def _act(client, action: str, *cadences: Cadence, follow: bool = False):
    return client.post(
        admin_url(Cadence, "changelist"),
        {"action": action, "_selected_action": [c.pk for c in cadences]},
        follow=follow,
    )


def test_cloning_copies_settings_steps_and_variants_into_an_inactive_copy(as_manager):
    cadence = _month_cadence(holiday_country="US")
    StepVariant.objects.create(
        step=cadence.steps.get(position=2), label="B", subject="Another", body="Other words"
    )

    _act(as_manager, "clone_selected", cadence)
    _act(as_manager, "clone_selected", cadence)

    copy = Cadence.objects.get(name="Month (copy)")
    assert Cadence.objects.filter(name="Month (copy 2)").exists()
    assert copy.is_active is False and cadence.is_active is True
    original, cloned = cadence_export(cadence), cadence_export(copy)
    assert {**original, "name": "Month (copy)"} == cloned
    assert copy.steps.get(position=2).variants.get().label == "B"


def test_activate_skips_a_cadence_without_steps_and_deactivate_stops_offering_one(as_manager):
    ready = _month_cadence(is_active=False)
    empty = CadenceFactory(is_active=False, name="Empty")

    response = _act(as_manager, "activate_selected", ready, empty, follow=True)
    ready.refresh_from_db()
    empty.refresh_from_db()
    assert (ready.is_active, empty.is_active) == (True, False)
    shown = [str(m) for m in response.context["messages"]]
    assert "'Empty' has no steps, so it stays inactive." in shown

    _act(as_manager, "deactivate_selected", ready)
    ready.refresh_from_db()
    assert ready.is_active is False


def test_exporting_one_cadence_downloads_its_file(as_manager):
    cadence = _month_cadence()

    response = _act(as_manager, "export_selected", cadence)

    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == 'attachment; filename="month.json"'
    assert response.content.decode() == dumps_cadence(cadence)


def test_exporting_several_cadences_downloads_a_zip_of_files(as_manager):
    month = _month_cadence()
    other = StepFactory(cadence=CadenceFactory(name="Other one"), position=1).cadence

    response = _act(as_manager, "export_selected", month, other)

    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = sorted(archive.namelist())
    assert names == sorted([f"month-{month.pk}.json", f"other-one-{other.pk}.json"])
    assert json.loads(archive.read(f"month-{month.pk}.json"))["name"] == "Month"


def _upload(client, document: object, **extra):
    content = json.dumps(document).encode() if not isinstance(document, bytes) else document
    upload = io.BytesIO(content)
    upload.name = "cadence.json"
    return client.post(
        reverse("admin:cadences_cadence_import"), {"file": upload, **extra}, follow=False
    )


def test_importing_a_file_creates_the_cadence_like_the_command(as_manager):
    document = {
        "name": "Inbound",
        "steps": [{"channel": "call"}, {"channel": "email", "wait_days": 1, "subject": "Hi"}],
    }

    response = _upload(as_manager, document, activate="on")

    cadence = Cadence.objects.get(name="Inbound")
    assert response.status_code == 302
    assert response.url == admin_url(Cadence, "change", cadence.pk)
    assert cadence.is_active and cadence.steps.count() == 2


def test_an_invalid_file_changes_nothing_and_the_error_names_the_field(as_manager):
    cadence = _month_cadence()
    before = dumps_cadence(cadence)
    document = {**cadence_export(cadence)}
    document["steps"] = [*document["steps"][:1], {"channel": "fax"}]

    response = _upload(as_manager, document)

    assert response.status_code == 200
    error = response.context["form"].errors["file"][0]
    assert error.startswith("Nothing was changed. steps[1].channel: 'fax' is not one of call")
    assert dumps_cadence(Cadence.objects.get(pk=cadence.pk)) == before


def test_a_file_that_is_not_json_is_refused_with_where_it_breaks(as_manager):
    response = _upload(as_manager, b'{"name": "x",')

    assert "not valid JSON" in response.context["form"].errors["file"][0]
    assert not Cadence.objects.exists()


def test_the_cadence_list_offers_the_import(as_manager):
    page = as_manager.get(admin_url(Cadence, "changelist"))

    assert reverse("admin:cadences_cadence_import") in page.text


def test_a_rep_cannot_open_the_preview_or_the_import(client, rep):
    cadence = _month_cadence()
    client.force_login(rep)

    for url in (
        reverse("admin:cadences_cadence_preview", args=[cadence.pk]),
        reverse("admin:cadences_cadence_import"),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))


# --- bulk enrol from the lead list -------------------------------------------------------


def test_enrolling_selected_leads_asks_for_an_active_cadence_first(as_manager, rep):
    leads = [LeadFactory(owner=rep) for _ in range(2)]
    _month_cadence()
    CadenceFactory(name="Draft", is_active=False)

    response = as_manager.post(
        reverse("admin:leads_lead_changelist"),
        {"action": "enrol_in_cadence", "_selected_action": [lead.pk for lead in leads]},
    )

    assert response.status_code == 200
    offered = [c.name for c in response.context["form"].fields["cadence"].queryset]
    assert offered == ["Month"]
    assert "Enrol 2 leads" in response.text
    assert not Enrolment.objects.exists()


def test_enrolling_selected_leads_lists_the_refusals_with_reasons(as_manager, rep):
    cadence = _month_cadence()
    fine = LeadFactory(owner=rep)
    won = LeadFactory(owner=rep, status="won", first_name="Wendy", last_name="Won")

    response = as_manager.post(
        reverse("admin:leads_lead_changelist"),
        {
            "action": "enrol_in_cadence",
            "_selected_action": [fine.pk, won.pk],
            "cadence": cadence.pk,
            "confirm": "yes",
        },
    )

    assert response.status_code == 200
    assert response.context["started"] == 1
    assert [(lead, reason) for lead, reason in response.context["refused"]] == [
        (won, "the lead is won")
    ]
    assert "Wendy Won" in response.text and "the lead is won" in response.text
    assert Enrolment.objects.get().lead == fine


# --- A/B variants ----------------------------------------------------------------------------


def test_an_email_steps_page_shows_its_variants_inline_and_a_call_steps_does_not(as_manager):
    email = StepFactory(position=1, channel="email", subject="Hi", body="Hello")
    StepVariant.objects.create(step=email, label="B", subject="Hey", body="Hello there")
    call = StepFactory(position=2, channel="call", cadence=email.cadence)

    email_page = as_manager.get(admin_url(Step, "change", email.pk))
    call_page = as_manager.get(admin_url(Step, "change", call.pk))

    (variants,) = email_page.context["inline_admin_formsets"]
    assert [form.instance.label for form in variants.formset.forms] == ["B"]
    assert call_page.context["inline_admin_formsets"] == []


def test_a_variant_that_does_not_render_is_refused_naming_the_field(as_manager):
    step = StepFactory(position=1, channel="email", subject="Hi", body="Hello")

    response = as_manager.post(
        admin_url(StepVariant, "add"),
        {"step": step.pk, "label": "B", "subject": "Hi {{ lead.nick }}", "body": "Hello"},
    )

    assert "subject" in response.context["adminform"].form.errors
    assert not StepVariant.objects.exists()


def test_each_variant_goes_to_between_35_and_65_percent_of_300_enrolments(rep):
    cadence = CadenceFactory()
    step = StepFactory(cadence=cadence, position=1, channel="email", subject="A", body="A body")
    variant = StepVariant.objects.create(step=step, label="B", subject="B", body="B body")
    leads = [LeadFactory(owner=rep) for _ in range(300)]

    started, refused = enrolment_start_many(leads=leads, cadence=cadence, now=timezone.now())

    assert len(started) == 300 and not refused
    tasks = Task.objects.filter(step=step)
    with_b = tasks.filter(variant=variant).count()
    base = tasks.filter(variant__isnull=True).count()
    assert with_b + base == 300
    assert 105 <= with_b <= 195 and 105 <= base <= 195
