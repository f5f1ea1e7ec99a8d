"""The tick's daily queues (``queues_refresh``): the same totals as the live queue, in every
time zone; built in batches whose queries do not grow with the reps; an idle tick that
finds nothing to do in a fixed, small number of queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model

from cadences.models import DailyQueue, Heartbeat, Task
from cadences.queues import queue_for_rep, queues_refresh
from cadences.tick import TICK, tick
from leads.models import RepProfile
from tests.factories import LeadFactory, RepFactory, TaskFactory

pytestmark = pytest.mark.django_db
# Tuesday 2 March 2027, 14:00 UTC: 09:00 in New York, 01:00 Wednesday in Sydney.
NOW = dt.datetime(2027, 3, 2, 14, tzinfo=dt.UTC)
ZONES = ("America/New_York", "Australia/Sydney", "UTC", "Asia/Kolkata")


def _rep_with_tasks(name: str, tz: str | None, *, automated: bool = False, **capacity: int):
    """A rep whose day holds overdue, due, finished and rolled-over work, and tasks that
    are not the queue's (tomorrow's, yesterday's finished, cancelled, automated)."""
    rep = RepFactory(username=name, profile={"timezone": tz or "", **capacity})
    if tz is None:
        RepProfile.objects.filter(user=rep).delete()
    lead = LeadFactory(owner=rep)
    hours = (-30, -2, 0, 3, 8, 40)  # from now: overdue, due today, due tomorrow or later
    for i, offset in enumerate(hours * 3):
        channel = ("call", "email", "mail")[i % 3]
        TaskFactory(lead=lead, rep=rep, channel=channel, due_at=NOW + dt.timedelta(hours=offset))
    for status, hours_ago in (("done", 1), ("skipped", 2), ("done", 30), ("cancelled", 1)):
        TaskFactory(
            lead=lead,
            rep=rep,
            status=status,
            due_at=NOW - dt.timedelta(hours=hours_ago),
            completed_at=NOW - dt.timedelta(hours=hours_ago),
        )
    if automated:  # due today, but the worker's to send, never in the queue
        TaskFactory(lead=lead, rep=rep, channel="email", mode="auto", due_at=NOW)
    return rep


def _live_counts(rep) -> dict[str, int]:
    rep = get_user_model().objects.select_related("rep_profile").get(id=rep.id)
    queue = queue_for_rep(rep=rep, now=NOW)

    def finished(section: str) -> int:
        return sum(item["status"] != "pending" for item in queue[section])

    return {
        "date": dt.date.fromisoformat(queue["date"]),
        "calls_total": len(queue["calls"]),
        "calls_done": finished("calls"),
        "emails_total": len(queue["emails"]),
        "emails_done": finished("emails"),
        "other_total": len(queue["other"]),
        "other_done": finished("other"),
        "rolled_over_calls": queue["rolled_over"]["call"],
        "rolled_over_emails": queue["rolled_over"]["email"],
    }


def _stored_counts(rep) -> dict[str, int]:
    queue = DailyQueue.objects.get(rep=rep)
    return {name: getattr(queue, name) for name in _live_counts(rep)}


def test_each_reps_stored_queue_has_the_totals_of_their_live_queue_in_every_zone(db):
    reps = [
        _rep_with_tasks(f"rep{i}", tz, automated=True, call_capacity=4)
        for i, tz in enumerate(ZONES)
    ]
    reps.append(_rep_with_tasks("noprofile", None))
    assert queues_refresh(now=NOW, since=None) == len(reps)
    for rep in reps:
        assert _stored_counts(rep) == _live_counts(rep), rep.username
    assert DailyQueue.objects.get(rep=reps[0]).rolled_over_calls > 0  # the cap was reached
    sydney = DailyQueue.objects.get(rep=reps[1])
    assert sydney.date == dt.date(2027, 3, 3)  # already Wednesday there


@pytest.mark.parametrize("count", [3, 7])
def test_the_morning_runs_one_query_for_the_reps_then_two_per_batch(
    count, django_assert_num_queries
):
    for i in range(count):
        _rep_with_tasks(f"rep{i}", ZONES[i % len(ZONES)])
    # The active reps with their profiles; per batch of 2 reps, one query counts their
    # tasks per channel and status and one upserts their DailyQueue rows.
    batches = -(-count // 2)
    with django_assert_num_queries(1 + 2 * batches):
        assert queues_refresh(now=NOW, since=None, batch_size=2) == count
    # The default batch holds every rep of a small team: three queries in all.
    with django_assert_num_queries(3):
        assert queues_refresh(now=NOW, since=None) == count
    assert DailyQueue.objects.count() == count


def _idle_tick_queries(reps: int, django_assert_max_num_queries) -> int:
    for i in range(reps):
        _rep_with_tasks(f"idle{reps}x{i}", ZONES[i % len(ZONES)])
    tick(now=NOW)
    later = NOW + dt.timedelta(minutes=1)
    # The time zones in use; the reps without today's queue or with a changed task.
    with django_assert_max_num_queries(2) as refresh:
        assert queues_refresh(now=later, since=NOW) == 0
    with django_assert_max_num_queries(30) as whole:
        report = tick(now=later)
    assert report.queues == 0
    assert len(refresh.captured_queries) == 2
    return len(whole.captured_queries)


def test_an_idle_tick_runs_the_same_queries_for_2_or_8_reps(django_assert_max_num_queries):
    few = _idle_tick_queries(2, django_assert_max_num_queries)
    Task.objects.all().delete()
    DailyQueue.objects.all().delete()
    Heartbeat.objects.all().delete()
    many = _idle_tick_queries(8, django_assert_max_num_queries)
    assert few == many


def test_a_tick_refreshes_only_the_rep_whose_task_changed(db):
    alice, bob = _rep_with_tasks("alice", "UTC"), _rep_with_tasks("bob", "UTC")
    tick(now=NOW)
    later = NOW + dt.timedelta(minutes=5)
    task = Task.objects.filter(rep=alice, status="pending", channel="call").first()
    Task.objects.filter(id=task.id).update(status="done", completed_at=later)
    assert tick(now=later + dt.timedelta(minutes=1)).queues == 1
    queue = DailyQueue.objects.get(rep=alice)
    assert (queue.assembled_at, queue.refreshed_at) == (NOW, later + dt.timedelta(minutes=1))
    assert _stored_counts(alice)["calls_done"] == _stored_counts(bob)["calls_done"] + 1
    assert DailyQueue.objects.get(rep=bob).refreshed_at == NOW


def test_a_rep_gets_a_queue_when_their_day_begins_and_only_they_do(db):
    sydney, new_york = _rep_with_tasks("syd", "Australia/Sydney"), _rep_with_tasks("ny", ZONES[0])
    # 23:59 on Wednesday in Sydney, a day after the tasks were last touched.
    before_midnight = dt.datetime(2027, 3, 3, 12, 59, tzinfo=dt.UTC)
    assert tick(now=before_midnight).queues == 2
    assert tick(now=before_midnight + dt.timedelta(minutes=1)).queues == 1
    assert DailyQueue.objects.filter(rep=sydney).count() == 2
    assert DailyQueue.objects.filter(rep=new_york).count() == 1


def test_a_new_rep_gets_todays_queue_at_the_next_tick(rep):
    tick(now=NOW)
    newcomer = _rep_with_tasks("newcomer", "Asia/Kolkata")
    assert tick(now=NOW + dt.timedelta(minutes=1)).queues == 1
    assert DailyQueue.objects.filter(rep=newcomer, date=dt.date(2027, 3, 2)).exists()
    assert Heartbeat.objects.get(name=TICK).at == NOW + dt.timedelta(minutes=1)
