"""The API's hot queries (followup.prepared): compiled once, run as prepared statements.

They must answer exactly what the ORM answers for the same arguments, on SQLite (where
the ORM runs them) and on PostgreSQL (where the compiled SQL runs prepared, or through
Django's cursor while queries are logged).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cadences import queues
from followup.api_base import token_for_key
from followup.prepared import HotQuery
from leads.models import ApiToken, Lead, RepProfile
from leads.services import api_token_create, api_token_revoke, hash_api_key
from tests.factories import CadenceFactory, LeadFactory, RepFactory, StepFactory, TaskFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2027, 3, 2, 15, tzinfo=dt.UTC)


def prepared_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


def orm_token(key: str) -> ApiToken:
    return ApiToken.objects.select_related("user", "user__rep_profile").get(
        key_hash=hash_api_key(key)
    )


def test_a_token_is_read_with_its_user_and_profile_as_select_related_reads_them() -> None:
    rep = RepFactory(username="ann")
    RepProfile.objects.update_or_create(
        user=rep, defaults={"timezone": "Europe/Paris", "call_capacity": 7}
    )
    _, key = api_token_create(user=rep, name="dialer")

    found = token_for_key(key)
    expected = orm_token(key)

    for field in ApiToken._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(expected, field.attname)
    for field in type(rep)._meta.concrete_fields:
        assert getattr(found.user, field.attname) == getattr(expected.user, field.attname)
    with CaptureQueriesContext(connection) as reads:
        assert (found.user.rep_profile.timezone, found.user.rep_profile.call_capacity) == (
            "Europe/Paris",
            7,
        )
        assert found.user.rep_profile.user is found.user
    assert len(reads) == 0


def test_a_user_without_a_profile_has_none_and_asking_costs_no_query() -> None:
    rep = RepFactory(username="bob")
    RepProfile.objects.filter(user=rep).delete()
    _, key = api_token_create(user=rep)

    found = token_for_key(key)

    with CaptureQueriesContext(connection) as reads, pytest.raises(RepProfile.DoesNotExist):
        found.user.rep_profile  # noqa: B018 (the access is the check)
    assert len(reads) == 0


def test_revoked_keys_inactive_users_and_unknown_keys_find_nothing() -> None:
    rep = RepFactory()
    token, key = api_token_create(user=rep)
    other = RepFactory(is_active=False)
    _, inactive_key = api_token_create(user=other)
    assert token_for_key(key) is not None

    api_token_revoke(token=token)

    assert token_for_key(key) is None
    assert token_for_key(inactive_key) is None
    assert token_for_key("fu_no-such-key") is None


def test_a_rep_days_queue_rows_equal_the_orms_rows_prepared_or_logged(rep) -> None:
    step = StepFactory(channel="call")
    lead = LeadFactory(owner=rep)
    due = [NOW - dt.timedelta(days=3), NOW - dt.timedelta(hours=2), NOW + dt.timedelta(days=2)]
    for at in due:
        TaskFactory(lead=lead, rep=rep, step=step, due_at=at)
    TaskFactory(lead=lead, rep=rep, kind="callback", step=None, due_at=NOW)
    TaskFactory(lead=lead, rep=rep, status="done", completed_at=NOW - dt.timedelta(hours=1))
    TaskFactory(lead=LeadFactory(owner=RepFactory()), due_at=NOW)  # another rep's
    day = queues.rep_day(rep, None, NOW)
    expected = sorted(queues._queue_rows_query(rep.id, day.start, day.end))

    unlogged = sorted(queues._queue_rows(day))
    with CaptureQueriesContext(connection) as logged:
        logged_rows = sorted(queues._queue_rows(day))

    assert unlogged == logged_rows == expected
    assert len(expected) == 4  # three pending due by the day's end, one done in it
    assert len(logged) == 1 and "%s" not in logged[0]["sql"]  # readable, explainable SQL
    if connection.vendor == "postgresql":
        assert any('FROM "cadences_task"' in sql for sql in prepared_names())


def test_an_argument_the_orm_rewrites_is_refused_when_compiled(postgres_only) -> None:
    # icontains wraps the value in %...%: the compiled SQL has no slot for it as given.
    def build(text: str):
        return Lead.objects.filter(email__icontains=text).values_list("id")

    query = HotQuery(build, [str])

    with pytest.raises(ValueError, match="not plain parameters"):
        query.rows("ann")


def test_arguments_of_other_types_are_refused() -> None:
    def build(at: dt.time):
        return Lead.objects.filter(created_at__time=at).values_list("id")

    with pytest.raises(TypeError, match="int, date, datetime or str"):
        HotQuery(build, [dt.time])._compile_now()


def test_model_rows_convert_as_the_orm_does_json_columns_and_int_wrappers_included() -> None:
    from cadences.models import Cadence, Step
    from cadences.services import _step_after
    from leads.api import _cadence_named

    cadence = CadenceFactory(name="Outbound", exit_on=["replied", "meeting_booked"])
    for position in (1, 2, 3):
        StepFactory(cadence=cadence, position=position, questions=[f"q{position}"])

    step = _step_after(cadence, 1)
    expected = Step.objects.get(cadence=cadence, position=2)
    found = _cadence_named("Outbound")

    for field in Step._meta.concrete_fields:
        assert getattr(step, field.attname) == getattr(expected, field.attname)
    assert step.questions == ["q2"] and step.cadence is cadence
    assert found.exit_on == ["replied", "meeting_booked"]
    assert found == Cadence.objects.get(name="Outbound")
    assert _step_after(cadence, 3) is None
