"""The audit log of changes made in admin: a cadence saved with its steps, a lead's status
and owner, each with before and after, and shown to managers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cadences.models import Cadence
from followup import audit
from leads.models import AuditEntry, Lead
from tests.factories import CadenceFactory, LeadFactory, StepFactory
from tests.integration.test_admin import admin_url, form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_manager(client, manager):
    client.force_login(manager)
    return client


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("id"))


def change_cadence(client, cadence: Cadence, edit) -> object:
    page = client.get(admin_url(Cadence, "change", cadence.pk))
    data = form_data(page)
    edit(data, page.context["inline_admin_formsets"][0].formset.prefix)
    return client.post(admin_url(Cadence, "change", cadence.pk), data)


def test_a_cadence_saved_in_admin_is_recorded_with_its_steps_before_and_after(as_manager):
    cadence = CadenceFactory(name="Inbound", min_gap_hours=20)
    StepFactory(cadence=cadence, position=1, channel="call", wait_days=3)

    def edit(data, prefix):
        data["min_gap_hours"] = 30
        data[f"{prefix}-0-wait_days"] = 6

    response = change_cadence(as_manager, cadence, edit)

    assert response.status_code == 302
    [entry] = entries(audit.CADENCE_CHANGE)
    assert (entry.before["min_gap_hours"], entry.after["min_gap_hours"]) == (20, 30)
    assert [s["wait_days"] for s in entry.before["steps"]] == [3]
    assert [s["wait_days"] for s in entry.after["steps"]] == [6]
    assert (entry.actor_name, entry.target_repr) == ("maria", "Inbound")
    assert entry.via == f"POST {admin_url(Cadence, 'change', cadence.pk)}"


def test_a_step_added_in_admin_is_in_the_after_of_the_cadence_entry(as_manager):
    cadence = CadenceFactory()
    StepFactory(cadence=cadence, position=1, channel="call", wait_days=0)

    def edit(data, prefix):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": 2,
                f"{prefix}-1-position": 2,
                f"{prefix}-1-channel": "call",
                f"{prefix}-1-mode": "manual",
                f"{prefix}-1-wait_days": 2,
                f"{prefix}-1-wait_hours": 0,
                f"{prefix}-1-window_start": "09:00",
                f"{prefix}-1-window_end": "17:00",
            }
        )

    response = change_cadence(as_manager, cadence, edit)

    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    [entry] = entries(audit.CADENCE_CHANGE)
    assert (len(entry.before["steps"]), len(entry.after["steps"])) == (1, 2)


def test_a_cadence_saved_in_admin_unchanged_records_nothing(as_manager):
    cadence = CadenceFactory()
    StepFactory(cadence=cadence, position=1, channel="call")

    response = change_cadence(as_manager, cadence, lambda data, prefix: None)

    assert response.status_code == 302
    assert entries(audit.CADENCE_CHANGE) == []


def test_a_cadence_created_in_admin_is_recorded_with_nothing_before(as_manager):
    data = {
        "name": "Created here",
        "description": "",
        "min_gap_hours": 20,
        "steps-TOTAL_FORMS": 0,
        "steps-INITIAL_FORMS": 0,
    }
    page = as_manager.get(admin_url(Cadence, "add"))
    prefix = page.context["inline_admin_formsets"][0].formset.prefix
    data = {**form_data(page), **{k.replace("steps", prefix): v for k, v in data.items()}}

    response = as_manager.post(admin_url(Cadence, "add"), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    [entry] = entries(audit.CADENCE_CHANGE)
    assert entry.before is None and entry.after["name"] == "Created here"


def test_deactivating_cadences_with_the_admin_action_is_recorded_per_cadence(as_manager):
    first, second = CadenceFactory(is_active=True), CadenceFactory(is_active=True)
    StepFactory(cadence=first, position=1, channel="call")

    as_manager.post(
        admin_url(Cadence, "changelist"),
        {"action": "deactivate_selected", "_selected_action": [first.pk, second.pk]},
    )

    recorded = {entry.target_id for entry in entries(audit.CADENCE_CHANGE)}
    assert recorded == {str(first.pk), str(second.pk)}
    assert Cadence.objects.filter(is_active=True).count() == 0


def test_a_lead_status_changed_in_the_lead_admin_is_recorded_with_before_and_after(as_manager, rep):
    lead = LeadFactory(owner=rep, status="working")
    data = form_data(as_manager.get(admin_url(Lead, "change", lead.pk)))
    data["status"] = "won"

    response = as_manager.post(admin_url(Lead, "change", lead.pk), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    [entry] = entries(audit.LEAD_STATUS)
    assert (entry.before, entry.after) == ({"status": "working"}, {"status": "won"})
    assert (entry.actor_name, entry.target_id) == ("maria", str(lead.pk))
    assert entries(audit.LEAD_OWNER) == []


def test_a_lead_given_to_another_rep_in_the_lead_admin_is_recorded_as_a_reassignment(
    as_manager, rep, teammate
):
    lead = LeadFactory(owner=rep, status="working")
    data = form_data(as_manager.get(admin_url(Lead, "change", lead.pk)))
    data["owner"] = teammate.pk

    as_manager.post(admin_url(Lead, "change", lead.pk), data)

    [entry] = entries(audit.LEAD_OWNER)
    assert (entry.before, entry.after) == ({"owner": "alice"}, {"owner": "bob"})
    assert entries(audit.LEAD_STATUS) == []


def test_managers_see_the_admin_changes_in_the_audit_log(as_manager, rep):
    lead = LeadFactory(owner=rep, status="working")
    data = form_data(as_manager.get(admin_url(Lead, "change", lead.pk)))
    data["status"] = "lost"
    as_manager.post(admin_url(Lead, "change", lead.pk), data)
    [entry] = entries(audit.LEAD_STATUS)

    listing = as_manager.get(reverse("admin:leads_auditentry_changelist"))
    detail = as_manager.get(reverse("admin:leads_auditentry_change", args=[entry.pk]))

    assert listing.status_code == 200 and "lead.status" in listing.text
    assert detail.status_code == 200 and "working" in detail.text and "lost" in detail.text
