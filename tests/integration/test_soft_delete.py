"""History is never lost: leads and reps with history cannot be deleted; touches never cascade.

A lead or a rep that owns history is refused deletion (``on_delete=PROTECT``), in code
and in admin, where the refusal is a page that says why, never a 500. Reps leave by being
made inactive instead (Django's ``is_active``), which keeps every touch they made.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import ProtectedError
from django.urls import reverse

from cadences.models import Enrolment, OutboundEmail, Task
from leads.models import AuditEntry, Lead, Signal, Touch
from tests.factories import (
    EnrolmentFactory,
    LeadFactory,
    SignalFactory,
    TaskFactory,
    TouchFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

HISTORY = (Touch, Signal, Task, Enrolment, OutboundEmail, AuditEntry)
HISTORY_MAKERS: dict[str, Callable[[Lead], object]] = {
    "touch": lambda lead: TouchFactory(lead=lead),
    "signal": lambda lead: SignalFactory(lead=lead),
    "task": lambda lead: TaskFactory(lead=lead),
    "enrolment": lambda lead: EnrolmentFactory(lead=lead),
}


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.mark.parametrize("model", HISTORY, ids=lambda m: m._meta.label)
def test_no_history_row_is_deleted_by_a_cascade_from_anything_it_points_to(model):
    cascading = [
        field.name
        for field in model._meta.get_fields()
        if field.many_to_one or field.one_to_one
        if field.concrete and field.remote_field.on_delete is models.CASCADE
    ]

    assert cascading == [], f"{model._meta.label}: use PROTECT or SET_NULL for {cascading}"


def test_every_relation_into_a_lead_that_holds_history_protects_it():
    protecting = {
        related.related_model
        for related in Lead._meta.related_objects
        if related.on_delete is models.PROTECT
    }

    assert {Touch, Signal, Task, Enrolment, OutboundEmail} <= protecting


@pytest.mark.parametrize("history", HISTORY_MAKERS)
def test_deleting_a_lead_with_history_is_refused_and_keeps_everything(history, rep):
    lead = LeadFactory(owner=rep)
    row = HISTORY_MAKERS[history](lead)

    with pytest.raises(ProtectedError):
        lead.delete()

    assert Lead.objects.filter(pk=lead.pk).exists()
    assert type(row).objects.filter(pk=row.pk).exists()


def test_a_lead_without_history_can_be_deleted(rep):
    lead = LeadFactory(owner=rep)

    lead.delete()

    assert not Lead.objects.filter(pk=lead.pk).exists()


def test_deleting_a_lead_with_touches_in_admin_shows_a_refusal_not_an_error(client, manager):
    lead = LeadFactory()
    TouchFactory(lead=lead)
    client.force_login(manager)
    url = reverse("admin:leads_lead_delete", args=[lead.pk])

    asked = client.get(url)
    posted = client.post(url, {"post": "yes"})

    for response in (asked, posted):
        # Refused twice over: touches are read-only in admin, and PROTECT in the database.
        assert response.status_code == 200
        assert "<h1>Cannot delete lead</h1>" in response.text
    assert Lead.objects.filter(pk=lead.pk).exists() and Touch.objects.count() == 1


def test_bulk_deleting_leads_in_admin_refuses_those_with_history(client, manager):
    kept, free = LeadFactory(), LeadFactory()
    TouchFactory(lead=kept)
    client.force_login(manager)

    response = client.post(
        reverse("admin:leads_lead_changelist"),
        {"action": "delete_selected", "_selected_action": [kept.pk, free.pk], "post": "yes"},
    )

    assert response.status_code == 200
    assert "<h1>Cannot delete leads</h1>" in response.text
    assert Lead.objects.filter(pk__in=[kept.pk, free.pk]).count() == 2


# --- reps -------------------------------------------------------------------------------


def test_deleting_a_rep_who_owns_leads_is_refused(rep):
    lead = LeadFactory(owner=rep)

    with pytest.raises(ProtectedError):
        rep.delete()

    assert Lead.objects.get(pk=lead.pk).owner == rep


def test_deleting_a_rep_who_made_touches_is_refused_even_without_leads(rep, teammate):
    touch = TouchFactory(lead=LeadFactory(owner=rep), rep=teammate)

    with pytest.raises(ProtectedError):
        teammate.delete()

    touch.refresh_from_db()
    assert touch.rep == teammate  # who made the touch is never forgotten


def test_a_superuser_deleting_a_rep_with_leads_in_admin_sees_a_refusal(client, rep, superuser):
    LeadFactory(owner=rep)
    client.force_login(superuser)

    response = client.post(reverse("admin:auth_user_delete", args=[rep.pk]), {"post": "yes"})

    assert response.status_code == 200
    assert "protected related objects" in response.text
    assert get_user_model().objects.filter(pk=rep.pk).exists()


def test_managers_cannot_delete_users_at_all_they_deactivate_them(client, rep, manager):
    client.force_login(manager)

    response = client.post(reverse("admin:auth_user_delete", args=[rep.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert get_user_model().objects.filter(pk=rep.pk).exists()


def test_a_deactivated_rep_keeps_their_leads_and_touches(rep):
    lead = LeadFactory(owner=rep)
    touch = TouchFactory(lead=lead, rep=rep)

    rep.is_active = False
    rep.save()

    touch.refresh_from_db()
    assert touch.rep == rep and Lead.objects.get(pk=lead.pk).owner == rep


# --- what a touch points to ---------------------------------------------------------------


def test_deleting_a_task_a_touch_completed_keeps_the_touch(rep):
    lead = LeadFactory(owner=rep)
    task = TaskFactory(lead=lead, kind="callback")
    touch = TouchFactory(lead=lead, task=task)
    task.touch = touch
    task.save()

    task.delete()

    touch.refresh_from_db()
    assert touch.task is None


def test_deleting_a_cadence_with_enrolments_is_refused(rep):
    enrolment = EnrolmentFactory(lead=LeadFactory(owner=rep))

    with pytest.raises(ProtectedError):
        enrolment.cadence.delete()


def test_apps_have_no_model_left_out_of_these_checks():
    # A new history model must be added to HISTORY above; this lists what exists today.
    names = {m._meta.label for m in apps.get_app_config("leads").get_models()}
    assert {"leads.Touch", "leads.Signal", "leads.AuditEntry"} <= names
