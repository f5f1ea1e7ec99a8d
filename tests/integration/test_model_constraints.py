"""The database itself refuses what must never exist, whatever code path writes it.

Rows are written with `objects.create` (no `full_clean`), so these prove the
constraints, not the forms. Each refusal runs in its own `transaction.atomic()`,
as PostgreSQL aborts the surrounding transaction on an integrity error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from cadences.models import Enrolment, Task
from leads.models import Lead, TimeOff
from tests.factories import (
    CadenceFactory,
    EnrolmentFactory,
    LeadFactory,
    StepFactory,
    TaskFactory,
)

pytestmark = pytest.mark.django_db


@contextmanager
def refused() -> Iterator[None]:
    """Expect the database to refuse what the block writes; roll back to before it."""
    with pytest.raises(IntegrityError), transaction.atomic():
        yield


def test_a_second_lead_with_the_same_email_in_another_case_is_refused(rep):
    LeadFactory(owner=rep, email="ann.lee@acme.example")

    with refused():
        LeadFactory(owner=rep, email="Ann.Lee@ACME.example")

    assert Lead.objects.count() == 1


def test_two_leads_without_email_but_with_phones_are_fine(rep):
    LeadFactory(owner=rep, email="", phone="+15550000001")
    LeadFactory(owner=rep, email="", phone="+15550000002")

    assert Lead.objects.filter(email="").count() == 2


def test_a_lead_with_neither_email_nor_phone_is_refused(rep):
    with refused():
        Lead.objects.create(owner=rep, first_name="Nobody", email="", phone="")

    assert not Lead.objects.exists()


@pytest.mark.parametrize("first", ["active", "paused"])
@pytest.mark.parametrize("second", ["active", "paused"])
def test_a_lead_cannot_run_the_same_cadence_twice_at_once(rep, first, second):
    lead = LeadFactory(owner=rep)
    cadence = CadenceFactory()
    EnrolmentFactory(lead=lead, cadence=cadence, status=first)

    with refused():
        EnrolmentFactory(lead=lead, cadence=cadence, status=second)

    assert Enrolment.objects.count() == 1


def test_a_lead_may_rerun_a_cadence_it_completed_or_exited(rep):
    lead = LeadFactory(owner=rep)
    cadence = CadenceFactory()
    EnrolmentFactory(lead=lead, cadence=cadence, status="completed")
    EnrolmentFactory(lead=lead, cadence=cadence, status="exited")

    EnrolmentFactory(lead=lead, cadence=cadence, status="active")

    assert Enrolment.objects.filter(lead=lead, cadence=cadence).count() == 3


def test_a_lead_may_run_two_different_cadences_at_once(rep):
    lead = LeadFactory(owner=rep)

    EnrolmentFactory(lead=lead, cadence=CadenceFactory(name="Inbound"))
    EnrolmentFactory(lead=lead, cadence=CadenceFactory(name="Nurture"))

    assert lead.enrolments.filter(status="active").count() == 2


def _enrolment_and_step():
    step = StepFactory(position=1)
    return EnrolmentFactory(cadence=step.cadence), step


def test_a_second_task_for_the_same_enrolment_step_is_refused(db):
    enrolment, step = _enrolment_and_step()
    TaskFactory(lead=enrolment.lead, enrolment=enrolment, step=step, status="done")

    with refused():
        TaskFactory(lead=enrolment.lead, enrolment=enrolment, step=step)

    assert Task.objects.count() == 1


def test_a_callback_beside_a_step_task_of_the_same_step_is_fine(db):
    enrolment, step = _enrolment_and_step()
    TaskFactory(lead=enrolment.lead, enrolment=enrolment, step=step)

    TaskFactory(lead=enrolment.lead, enrolment=enrolment, step=step, kind="callback")

    assert Task.objects.count() == 2


def test_a_second_hot_call_for_the_same_lead_and_day_is_refused(rep):
    lead = LeadFactory(owner=rep)
    day = dt.date(2027, 3, 2)
    TaskFactory(lead=lead, kind="hot", hot_date=day, enrolment=None)

    with refused():
        TaskFactory(lead=lead, kind="hot", hot_date=day, enrolment=None)

    TaskFactory(lead=lead, kind="hot", hot_date=day + dt.timedelta(days=1), enrolment=None)
    assert Task.objects.filter(kind="hot").count() == 2


def test_time_off_that_ends_before_it_starts_is_refused(rep):
    with refused():
        TimeOff.objects.create(rep=rep, starts_on=dt.date(2027, 3, 5), ends_on=dt.date(2027, 3, 1))

    TimeOff.objects.create(rep=rep, starts_on=dt.date(2027, 3, 5), ends_on=dt.date(2027, 3, 5))
    assert TimeOff.objects.count() == 1


def test_a_refused_write_leaves_the_transaction_usable(rep):
    LeadFactory(owner=rep, email="ann@acme.example")

    with refused():
        LeadFactory(owner=rep, email="ANN@acme.example")

    # On PostgreSQL this fails unless the refusal was rolled back to its savepoint.
    LeadFactory(owner=rep, email="bob@acme.example", created_at=timezone.now())
    assert Lead.objects.count() == 2
