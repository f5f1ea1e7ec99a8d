"""The audit log: status changes, reassignments, cadence imports and exports, with who."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import reverse

from followup import audit
from leads.models import AuditEntry
from tests.factories import LeadFactory
from tests.integration.api_helpers import client_for, patch

pytestmark = pytest.mark.django_db

CADENCE = {
    "name": "Audited cadence",
    "steps": [{"channel": "call", "wait_days": 0}, {"channel": "call", "wait_days": 2}],
}


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("id"))


def test_a_rep_changing_a_status_on_the_lead_page_is_recorded_with_before_and_after(client, rep):
    lead = LeadFactory(owner=rep, status="working")
    client.force_login(rep)

    client.post(reverse("leads-status", args=[lead.pk]), {"status": "meeting"})

    [entry] = entries(audit.LEAD_STATUS)
    assert (entry.actor, entry.actor_name) == (rep, "alice")
    assert (entry.before, entry.after) == ({"status": "working"}, {"status": "meeting"})
    assert (entry.target_type, entry.target_id) == ("leads.lead", str(lead.pk))
    assert entry.via == f"POST /leads/{lead.pk}/status/"


def test_a_manager_reassigning_a_lead_through_the_api_is_recorded_by_username(
    rep, teammate, manager
):
    lead = LeadFactory(owner=rep)

    response = patch(client_for(manager), f"/api/leads/{lead.pk}/", {"owner": "bob"})

    assert response.status_code == 200
    [entry] = entries(audit.LEAD_OWNER)
    assert entry.actor_name == "maria"  # the token's user, not anonymous
    assert (entry.before, entry.after) == ({"owner": "alice"}, {"owner": "bob"})


def test_an_edit_that_changes_neither_status_nor_owner_records_nothing(rep):
    lead = LeadFactory(owner=rep)

    patch(client_for(rep), f"/api/leads/{lead.pk}/", {"title": "CTO"})

    assert not AuditEntry.objects.exists()


def test_importing_a_cadence_records_the_file_before_and_after(tmp_path):
    path = tmp_path / "cadence.json"
    path.write_text(json.dumps(CADENCE))
    call_command("import_cadence", str(path))
    changed = {**CADENCE, "steps": [*CADENCE["steps"], {"channel": "email", "wait_days": 3}]}
    path.write_text(json.dumps(changed))

    call_command("import_cadence", str(path))

    first, second = entries(audit.CADENCE_IMPORT)
    assert first.before is None and len(first.after["steps"]) == 2
    assert len(second.before["steps"]) == 2 and len(second.after["steps"]) == 3
    assert second.actor is None and second.actor_name == ""  # a command: the system
    assert second.via == f"manage.py import_cadence {path}"
    assert second.target_repr == "Audited cadence"


def test_exporting_a_report_as_csv_is_recorded(client, manager):
    client.force_login(manager)

    response = client.get(
        reverse("cadences-report", args=["touches-to-close"]),
        {"from": "2027-03-01", "to": "2027-03-31", "format": "csv"},
    )

    assert response.status_code == 200
    [entry] = entries(audit.DATA_EXPORT)
    assert entry.actor_name == "maria"
    assert entry.after["from"] == "2027-03-01" and entry.after["to"] == "2027-03-31"


def test_exporting_a_cadence_is_recorded(tmp_path, capsys):
    path = tmp_path / "cadence.json"
    path.write_text(json.dumps(CADENCE))
    call_command("import_cadence", str(path))

    call_command("export_cadence", "Audited cadence")

    [entry] = entries(audit.DATA_EXPORT)
    assert entry.after == {"cadence": "Audited cadence"}


def test_audit_record_takes_the_user_of_the_request_being_served(rep):
    request = RequestFactory().post("/somewhere/")
    request.user = rep

    with audit.acting_request(request):
        entry = audit.audit_record(action="test", target=None, before=None, after={"n": 1})

    assert (entry.actor_name, entry.via) == ("alice", "POST /somewhere/")


# --- admin: managers read, nobody writes ----------------------------------------------


def test_managers_read_the_audit_log_in_admin_but_cannot_add_change_or_delete(client, manager):
    entry = audit.audit_record(
        action=audit.LEAD_STATUS, target=None, before={"status": "new"}, after={"status": "won"}
    )
    client.force_login(manager)

    listing = client.get(reverse("admin:leads_auditentry_changelist"))
    page = client.get(reverse("admin:leads_auditentry_change", args=[entry.pk]))

    assert listing.status_code == 200 and "lead.status" in listing.text
    assert page.status_code == 200 and 'name="_save"' not in page.text
    assert client.get(reverse("admin:leads_auditentry_add")).status_code == 403
    deleted = client.post(reverse("admin:leads_auditentry_delete", args=[entry.pk]), {"post": "y"})
    assert deleted.status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_reps_do_not_see_the_audit_log(client, rep):
    client.force_login(rep)

    response = client.get(reverse("admin:leads_auditentry_changelist"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_exports_and_reassignments_are_in_the_audit_log(client, rep, teammate, manager):
    import datetime as dt

    from cadences.team import leads_reassign
    from leads.models import AuditEntry
    from tests.factories import LeadFactory

    LeadFactory(owner=rep)
    client.force_login(manager)
    b"".join(client.get("/leads/export.csv").streaming_content)
    assert AuditEntry.objects.filter(action="data.export", actor=manager).count() == 1
    leads_reassign(from_rep=rep, to_rep=teammate, now=dt.datetime(2027, 3, 1, tzinfo=dt.UTC))
    entry = AuditEntry.objects.get(action="lead.owner")
    assert (entry.before["owner"], entry.after["owner"]) == ("alice", "bob")
