"""Team settings in admin: booking links in emails, time off that moves steps, reassigning."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import DatabaseError, connection
from django.urls import reverse

from cadences.models import Enrolment, Task
from cadences.outbox import outbox_fill
from cadences.services import callback_create, enrolment_start, task_finish
from cadences.team import Reassignment, leads_reassign, reassign_counts, time_off_apply
from leads.models import Lead, TimeOff
from leads.services import next_owner
from tests.factories import CadenceFactory, LeadFactory, RepFactory, StepFactory
from tests.integration.test_admin import admin_url, form_data

UTC = dt.UTC
MONDAY_10 = dt.datetime(2027, 3, 1, 10, 0, tzinfo=UTC)  # Mon 1 Mar 2027


@pytest.fixture
def as_manager(client, manager):
    client.force_login(manager)
    return client


def _cadence(*steps: dict, name: str = "Outbound"):
    cadence = CadenceFactory(name=name, min_gap_hours=0)
    for position, fields in enumerate(steps, start=1):
        StepFactory(cadence=cadence, position=position, **fields)
    return cadence


def _enrol(rep, cadence, *, now=MONDAY_10, **lead_fields) -> Enrolment:
    lead = LeadFactory(owner=rep, timezone="UTC", **lead_fields)
    return enrolment_start(lead=lead, cadence=cadence, now=now)


# --- the booking link in emails -------------------------------------------------------


def test_the_reps_booking_link_renders_in_an_automatic_email(rep):
    rep.rep_profile.booking_url = "https://cal.example.com/alice/30min"
    rep.rep_profile.save()
    cadence = _cadence(
        {
            "channel": "email",
            "mode": "auto",
            "subject": "A time that suits you",
            "body": "Pick any slot here: {{ rep.booking_url }}",
        }
    )
    enrolment = _enrol(rep, cadence)

    assert outbox_fill(now=MONDAY_10) == 1

    email = enrolment.tasks.get().outbound_email
    assert "Pick any slot here: https://cal.example.com/alice/30min" in email.body_text


def test_a_manager_sets_the_booking_link_on_the_reps_page_without_typing_https(as_manager, rep):
    page = as_manager.get(admin_url(type(rep), "change", rep.pk))
    data = form_data(page)
    prefix = page.context["inline_admin_formsets"][0].formset.prefix
    data[f"{prefix}-0-booking_url"] = "cal.example.com/alice"

    response = as_manager.post(admin_url(type(rep), "change", rep.pk), data)

    assert response.status_code == 302
    rep.rep_profile.refresh_from_db()
    assert rep.rep_profile.booking_url == "https://cal.example.com/alice"


# --- time off ------------------------------------------------------------------------------


def _off(rep, starts: str, ends: str) -> TimeOff:
    return TimeOff.objects.create(
        rep=rep, starts_on=dt.date.fromisoformat(starts), ends_on=dt.date.fromisoformat(ends)
    )


def test_time_off_moves_manual_steps_due_inside_it_to_the_first_working_day_back(rep):
    cadence = _cadence({"channel": "call"})
    enrolment = _enrol(rep, cadence)
    task = enrolment.tasks.get()
    _off(rep, "2027-03-01", "2027-03-05")

    assert time_off_apply(rep=rep, now=MONDAY_10) == 1

    task.refresh_from_db()
    assert task.due_at == dt.datetime(2027, 3, 8, 9, 0, tzinfo=UTC)  # Mon, window opening
    assert task.due_reasons[-2:] == ["time_off", "weekend"]
    event = enrolment.events.get(kind="retimed")
    assert "by time off (2027-03-01 to 2027-03-05)" in event.message
    assert "Mon 8 Mar 09:00" in event.message


def test_back_to_back_time_off_moves_a_step_past_both(rep):
    enrolment = _enrol(rep, _cadence({"channel": "call"}))
    _off(rep, "2027-03-01", "2027-03-05")
    _off(rep, "2027-03-08", "2027-03-09")

    time_off_apply(rep=rep, now=MONDAY_10)

    assert enrolment.tasks.get().due_at == dt.datetime(2027, 3, 10, 9, 0, tzinfo=UTC)


def test_time_off_leaves_automatic_emails_callbacks_and_other_steps_alone(rep, teammate):
    auto = _enrol(rep, _cadence({"channel": "email", "mode": "auto", "subject": "S", "body": "B"}))
    later = _enrol(rep, _cadence({"channel": "call", "wait_days": 10}, name="Later"))
    theirs = _enrol(teammate, _cadence({"channel": "call"}, name="Theirs"))
    callback = callback_create(lead=later.lead, due_at=MONDAY_10, now=MONDAY_10)
    untouched = {
        t.pk: t.due_at for t in [*Task.objects.filter(enrolment__in=[auto, later, theirs])]
    }
    untouched[callback.pk] = callback.due_at
    _off(rep, "2027-03-01", "2027-03-05")

    assert time_off_apply(rep=rep, now=MONDAY_10) == 0

    assert dict(Task.objects.values_list("pk", "due_at")) == untouched


def test_time_off_already_over_moves_nothing(rep):
    enrolment = _enrol(rep, _cadence({"channel": "call"}))
    _off(rep, "2027-02-01", "2027-02-05")

    assert time_off_apply(rep=rep, now=MONDAY_10) == 0
    assert enrolment.tasks.get().due_at == MONDAY_10


@pytest.fixture
def before_march(client, manager):
    """The clock on Fri 26 Feb 2027, the manager logged in then (sessions expire)."""
    with time_machine.travel(dt.datetime(2027, 2, 26, 12, 0, tzinfo=UTC), tick=False):
        client.force_login(manager)
        yield client


def test_adding_time_off_in_admin_moves_the_reps_steps(before_march, rep):
    task = _enrol(rep, _cadence({"channel": "call"})).tasks.get()

    response = before_march.post(
        admin_url(TimeOff, "add"),
        {"rep": rep.pk, "starts_on": "2027-03-01", "ends_on": "2027-03-05", "note": "Skiing"},
        follow=True,
    )

    task.refresh_from_db()
    assert task.due_at == dt.datetime(2027, 3, 8, 9, 0, tzinfo=UTC)
    shown = [str(m) for m in response.context["messages"]]
    assert f"Moved 1 pending step(s) of {rep} past the time off." in shown


def test_adding_time_off_on_the_reps_page_moves_the_reps_steps(before_march, rep):
    task = _enrol(rep, _cadence({"channel": "call"})).tasks.get()
    page = before_march.get(admin_url(type(rep), "change", rep.pk))
    data = form_data(page)
    time_off_prefix = page.context["inline_admin_formsets"][1].formset.prefix
    data[f"{time_off_prefix}-TOTAL_FORMS"] = 1
    data[f"{time_off_prefix}-0-starts_on"] = "2027-03-01"
    data[f"{time_off_prefix}-0-ends_on"] = "2027-03-05"

    response = before_march.post(admin_url(type(rep), "change", rep.pk), data)

    assert response.status_code == 302
    task.refresh_from_db()
    assert task.due_at == dt.datetime(2027, 3, 8, 9, 0, tzinfo=UTC)


def test_new_leads_route_around_a_rep_on_time_off(rep, teammate):
    _off(rep, "2027-03-01", "2027-03-05")

    assert {next_owner(now=MONDAY_10) for _ in range(3)} == {teammate}


# --- reassigning leads ----------------------------------------------------------------------


@pytest.fixture
def book(rep):
    """alice's book: 3 leads in a cadence (one with a callback), one more with no cadence."""
    cadence = _cadence({"channel": "call"}, {"channel": "email", "wait_days": 2})
    enrolments = [_enrol(rep, cadence) for _ in range(3)]
    callback_create(lead=enrolments[0].lead, due_at=MONDAY_10, now=MONDAY_10)
    LeadFactory(owner=rep)
    return enrolments


def test_the_counts_before_confirming_are_leads_running_enrolments_and_pending_tasks(rep, book):
    finished = book[2].tasks.get()
    task_finish(task=finished, status=Task.Status.DONE, at=MONDAY_10)  # its next is pending

    assert reassign_counts(from_rep=rep) == Reassignment(leads=4, enrolments=3, tasks=4)
    assert reassign_counts(from_rep=rep, lead_ids=[book[0].lead_id]) == Reassignment(1, 1, 2)


def test_reassigning_moves_leads_running_enrolments_and_pending_tasks_only(
    rep, teammate, outsider, book
):
    done = book[1].tasks.get()
    task_finish(task=done, status=Task.Status.DONE, at=MONDAY_10)
    ended = _enrol(rep, _cadence({"channel": "call"}, name="Ended"))
    ended.status = Enrolment.Status.COMPLETED
    ended.save()
    others = _enrol(outsider, _cadence({"channel": "call"}, name="Theirs"))

    moved = leads_reassign(from_rep=rep, to_rep=teammate, now=MONDAY_10)

    assert moved == Reassignment(leads=5, enrolments=3, tasks=5)
    assert not Lead.objects.filter(owner=rep).exists()
    assert not Task.objects.filter(rep=rep, status="pending").exists()
    done.refresh_from_db()
    ended.refresh_from_db()
    assert done.rep == rep  # history keeps who did it
    assert ended.owner == rep
    assert others.lead.owner == outsider and others.tasks.get().rep == outsider
    assert book[0].events.filter(kind="reassigned", message="Reassigned from alice to bob").exists()


def test_reassigning_chosen_leads_moves_only_those(rep, teammate, book):
    moved = leads_reassign(from_rep=rep, to_rep=teammate, lead_ids=[book[0].lead_id], now=MONDAY_10)

    assert moved == Reassignment(leads=1, enrolments=1, tasks=2)
    assert Lead.objects.filter(owner=rep).count() == 3


def test_reassigning_is_all_or_nothing(rep, teammate, book):
    # The leads are updated last: a database refusing that update must undo the tasks too.
    _refuse_lead_updates()
    before = set(Task.objects.filter(status="pending").values_list("pk", "rep_id"))

    with pytest.raises(DatabaseError):
        leads_reassign(from_rep=rep, to_rep=teammate, now=MONDAY_10)

    assert set(Task.objects.filter(status="pending").values_list("pk", "rep_id")) == before
    assert not Enrolment.objects.filter(owner=teammate).exists()
    assert not book[0].events.filter(kind="reassigned").exists()


def _refuse_lead_updates() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION refuse_lead_update() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER refuse_lead_update BEFORE UPDATE ON leads_lead "
                "FOR EACH ROW EXECUTE FUNCTION refuse_lead_update()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER refuse_lead_update BEFORE UPDATE ON leads_lead "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )


def test_reassigning_runs_as_many_queries_for_30_leads_as_for_3(
    rep, teammate, django_assert_num_queries
):
    cadence = _cadence({"channel": "call"})
    for _ in range(3):
        _enrol(rep, cadence)
    carol = RepFactory(username="carol")
    for _ in range(30):
        _enrol(carol, cadence)

    # Savepoint, the enrolment ids (for the log), UPDATE tasks, UPDATE enrolments,
    # INSERT the log lines, the lead ids (for the audit), UPDATE leads, INSERT the audit
    # entry, release the savepoint: 9 whatever the count.
    with django_assert_num_queries(9):
        leads_reassign(from_rep=rep, to_rep=teammate, now=MONDAY_10)
    with django_assert_num_queries(9):
        leads_reassign(from_rep=carol, to_rep=teammate, now=MONDAY_10)


def test_a_rep_cannot_hand_leads_to_themselves(rep):
    with pytest.raises(ValueError, match="another rep"):
        leads_reassign(from_rep=rep, to_rep=rep, now=MONDAY_10)


def _user_action(client, *users, **extra):
    return client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "reassign_leads", "_selected_action": [u.pk for u in users], **extra},
    )


def test_the_reassign_action_shows_the_counts_before_confirming(as_manager, rep, book):
    response = _user_action(as_manager, rep)

    assert response.status_code == 200
    counts = response.context["counts"]
    assert counts == Reassignment(leads=4, enrolments=3, tasks=4)
    text = " ".join(response.text.split())
    assert (
        "<strong>alice</strong> owns <strong>4 leads</strong>, with <strong>3 running "
        "enrolments</strong> and <strong>4 pending tasks</strong>."
    ) in text
    assert Lead.objects.filter(owner=rep).count() == 4


def test_confirming_the_reassign_action_moves_everything_to_the_chosen_rep(
    as_manager, rep, teammate, book
):
    response = _user_action(as_manager, rep, to_rep=teammate.pk, confirm="yes")

    assert response.status_code == 302
    assert Lead.objects.filter(owner=teammate).count() == 4
    assert Task.objects.filter(rep=teammate, status="pending").count() == 4


def test_the_reassign_action_needs_exactly_one_rep(as_manager, rep, teammate):
    response = _user_action(as_manager, rep, teammate)

    assert response.status_code == 302
    follow = as_manager.get(response.url)
    assert "Select exactly one rep to hand leads from." in follow.text


def test_the_reassign_action_offers_only_other_active_reps(as_manager, rep, teammate, manager):
    RepFactory(username="gone", is_active=False)

    response = _user_action(as_manager, rep)

    offered = {u.username for u in response.context["form"].fields["to_rep"].queryset}
    assert offered == {"bob"}
