"""CSV exports: leads with the list's filters, touches by date; reps get their own."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse

from leads.exports import LEAD_COLUMNS, TOUCH_COLUMNS
from leads.models import Tag
from tests.factories import AccountFactory, LeadFactory, TouchFactory


def rows_of(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.streaming
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


@pytest.fixture
def as_rep(client, rep):
    client.force_login(rep)
    return client


@pytest.fixture
def as_manager(client, manager):
    client.force_login(manager)
    return client


def test_a_rep_exports_their_own_leads_in_the_import_columns(as_rep, rep, teammate):
    lead = LeadFactory(
        owner=rep, email="ann@example.com", first_name="Ann", account=AccountFactory(name="Acme")
    )
    lead.tags.add(Tag.objects.create(name="vip"), Tag.objects.create(name="expo"))
    LeadFactory(owner=teammate)

    rows = rows_of(as_rep.get(reverse("leads-export")))

    assert len(rows) == 1
    assert list(rows[0]) == LEAD_COLUMNS
    assert LEAD_COLUMNS[:10] == [
        "email",
        "first_name",
        "last_name",
        "phone",
        "company",
        "title",
        "timezone",
        "source",
        "tags",
        "owner",
    ]
    row = rows[0]
    assert (row["email"], row["company"], row["tags"], row["owner"]) == (
        "ann@example.com",
        "Acme",
        "expo;vip",
        "alice",
    )


def test_a_manager_exports_everyones_leads_filtered(as_manager, rep, teammate):
    vip = Tag.objects.create(name="vip")
    wanted = LeadFactory(owner=rep, status="working", source="expo")
    wanted.tags.add(vip)
    LeadFactory(owner=rep, status="new", source="expo").tags.add(vip)
    LeadFactory(owner=teammate, status="working", source="expo").tags.add(vip)
    LeadFactory(owner=rep, status="working", source="web").tags.add(vip)
    LeadFactory(owner=rep, status="working", source="expo")

    everyone = rows_of(as_manager.get(reverse("leads-export")))
    filtered = rows_of(
        as_manager.get(
            reverse("leads-export"),
            {"status": "working", "owner": "alice", "tag": "vip", "source": "expo"},
        )
    )

    assert len(everyone) == 5
    assert [r["id"] for r in filtered] == [str(wanted.id)]


def test_a_rep_cannot_export_a_teammates_leads_by_naming_them(as_rep, rep, teammate):
    LeadFactory(owner=teammate)

    assert rows_of(as_rep.get(reverse("leads-export"), {"owner": "bob"})) == []


def test_an_exported_file_imports_back_unchanged(as_rep, rep, tmp_path):
    from django.core.management import call_command

    LeadFactory(owner=rep, email="ann@example.com", title="CTO", account=AccountFactory())
    response = as_rep.get(reverse("leads-export"))
    path = tmp_path / "export.csv"
    path.write_bytes(b"".join(response.streaming_content))
    out = io.StringIO()

    call_command("import_leads", str(path), "--owner", "alice", stdout=out, stderr=io.StringIO())

    assert out.getvalue().splitlines() == ["created 0, updated 1, skipped 0"]


def test_cells_that_a_spreadsheet_would_run_as_formulas_are_defused(as_rep, rep):
    LeadFactory(owner=rep, first_name="=HYPERLINK(1)", last_name="@SUM(1)", phone="+1 555 0100")

    row = rows_of(as_rep.get(reverse("leads-export")))[0]

    assert (row["first_name"], row["last_name"]) == ("'=HYPERLINK(1)", "'@SUM(1)")
    assert row["phone"] == "+1 555 0100"


def test_the_lead_export_runs_a_fixed_number_of_queries(as_rep, rep, django_assert_max_num_queries):
    for _ in range(30):
        LeadFactory(owner=rep, account=AccountFactory()).tags.add(
            Tag.objects.get_or_create(name="t")[0]
        )

    # Session, user, groups, the leads with account and owner, their tags.
    with django_assert_max_num_queries(6):
        rows = rows_of(as_rep.get(reverse("leads-export")))
    assert len(rows) == 30


# --- touches ----------------------------------------------------------------------


def _touch_on(day: dt.date, **fields):
    moment = dt.datetime.combine(day, dt.time(15), tzinfo=dt.UTC)  # 10:00 in New York
    return TouchFactory(occurred_at=moment, **fields)


def test_a_rep_exports_touches_on_their_leads_in_a_date_range(as_rep, rep, teammate):
    mine = LeadFactory(owner=rep, email="ann@example.com")
    inside = _touch_on(dt.date(2027, 3, 2), lead=mine, rep=rep, outcome="voicemail")
    _touch_on(dt.date(2027, 3, 4), lead=mine, rep=rep)
    _touch_on(dt.date(2027, 3, 2), lead=LeadFactory(owner=teammate), rep=teammate)

    rows = rows_of(
        as_rep.get(reverse("leads-export-touches"), {"from": "2027-03-01", "to": "2027-03-03"})
    )

    assert list(rows[0]) == TOUCH_COLUMNS
    assert [(r["lead_id"], r["outcome"]) for r in rows] == [(str(mine.id), "voicemail")]
    assert rows[0]["occurred_at"] == inside.occurred_at.isoformat()
    assert rows[0]["rep"] == "alice"


def test_the_to_date_is_inclusive_in_the_users_time_zone(as_rep, rep):
    lead = LeadFactory(owner=rep)
    # 23:30 on 3 March in New York is 04:30 UTC on 4 March.
    TouchFactory(lead=lead, rep=rep, occurred_at=dt.datetime(2027, 3, 4, 4, 30, tzinfo=dt.UTC))

    rows = rows_of(
        as_rep.get(reverse("leads-export-touches"), {"from": "2027-03-03", "to": "2027-03-03"})
    )

    assert len(rows) == 1


def test_a_manager_exports_all_touches_or_one_reps(as_manager, rep, teammate):
    day = dt.date(2027, 3, 2)
    _touch_on(day, lead=LeadFactory(owner=rep), rep=rep)
    _touch_on(day, lead=LeadFactory(owner=teammate), rep=teammate)
    params = {"from": "2027-03-01", "to": "2027-03-03"}

    assert len(rows_of(as_manager.get(reverse("leads-export-touches"), params))) == 2
    only_bob = rows_of(as_manager.get(reverse("leads-export-touches"), {**params, "rep": "bob"}))
    assert [r["rep"] for r in only_bob] == ["bob"]


def test_a_bad_date_is_a_400_naming_the_format(as_rep):
    response = as_rep.get(reverse("leads-export-touches"), {"from": "March"})

    assert response.status_code == 400
    assert "YYYY-MM-DD" in response.text


def test_exports_need_a_login(client):
    assert client.get(reverse("leads-export")).status_code == 302
    assert client.get(reverse("leads-export-touches")).status_code == 302
