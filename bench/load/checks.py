"""After the run: does the database hold exactly what the reps were told they logged?

The reps' side (``reps.RepResult``) lists, per rep, the task of every outcome whose
page said "Logged …". The database must hold one Touch for each of them and no
other: none lost (a success the rep saw but no row), none doubled (two rows for one
click or one task), none made up (a row the rep never saw succeed).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from cadences.models import Enrolment, OutboundEmail, Task
from leads.models import Lead, Touch


@dataclass(frozen=True)
class Check:
    name: str
    expected: int
    found: int

    @property
    def ok(self) -> bool:
        return self.expected == self.found


def run_checks(reps: list[dict], *, cadence_id: int) -> tuple[list[Check], list[str]]:
    """Every check, and one line per rep whose touches differ from what it saw."""
    seen = Counter({rep["username"]: len(rep["logged"]) for rep in reps})
    logged = [task_id for rep in reps for task_id in rep["logged"]]
    voicemails = sum(rep["outcomes"]["voicemail"] for rep in reps)
    mismatched = _reps_mismatched(seen)
    checks = [
        Check("touches logged by reps (rows = successes seen)", sum(seen.values()), _ui_touches()),
        Check("reps whose touch rows differ from their successes", 0, len(mismatched)),
        Check("tasks logged twice as the reps saw it", 0, len(logged) - len(set(logged))),
        Check("tasks with two or more touches", 0, _tasks_touched_twice()),
        Check("logged tasks that are done with their touch", len(set(logged)), _done(logged)),
        Check("done call tasks nobody saw logged", 0, _done_unseen(set(logged), cadence_id)),
        Check("touches without the task they worked", 0, _touches_without_task()),
        Check("callbacks made (one per voicemail)", voicemails, _callbacks()),
        Check("leads whose touch count differs from their touches", 0, _leads_miscounted()),
        Check("active enrolments without exactly one live task", 0, _enrolments_off(cadence_id)),
    ]
    return checks, mismatched


def worker_figures() -> dict[str, int]:
    """What the tick did meanwhile: automated emails sent and recorded as touches."""
    return {
        "emails_sent": OutboundEmail.objects.filter(status=OutboundEmail.Status.SENT).count(),
        "emails_other": OutboundEmail.objects.exclude(status=OutboundEmail.Status.SENT).count(),
        "email_touches": Touch.objects.filter(automated=True).count(),
    }


def _reps_mismatched(seen: Counter) -> list[str]:
    rows = dict(
        get_user_model()
        .objects.filter(username__in=list(seen))
        .annotate(n=Count("touches", filter=Q(touches__source="ui")))
        .values_list("username", "n")
    )
    return [
        f"{name}: {seen[name]} logged, {rows.get(name, 0)} touch rows"
        for name in sorted(seen)
        if seen[name] != rows.get(name, 0)
    ]


def _ui_touches() -> int:
    return Touch.objects.filter(source="ui").count()


def _tasks_touched_twice() -> int:
    twice = Touch.objects.filter(task__isnull=False).values("task").annotate(n=Count("id"))
    return twice.filter(n__gt=1).count()


def _done(task_ids: list[int]) -> int:
    # Done, pointing at a touch that points back at it: the pair one log writes.
    return Task.objects.filter(
        id__in=set(task_ids), status=Task.Status.DONE, touch__task_id=F("id")
    ).count()


def _done_unseen(task_ids: set[int], cadence_id: int) -> int:
    done = Task.objects.filter(
        status=Task.Status.DONE, channel="call", enrolment__cadence_id=cadence_id
    )
    return len(set(done.values_list("id", flat=True)) - task_ids)


def _touches_without_task() -> int:
    return Touch.objects.filter(source="ui", task__isnull=True).count()


def _callbacks() -> int:
    return Task.objects.filter(kind=Task.Kind.CALLBACK).count()


def _miscounted() -> QuerySet[Lead]:
    # touch_count is read, incremented and saved by each log: a lost update shows here.
    outbound = (
        Touch.objects.filter(lead=OuterRef("pk"), direction=Touch.Direction.OUTBOUND)
        .values("lead")
        .annotate(n=Count("id"))
        .values("n")
    )
    counted = Lead.objects.annotate(rows=Coalesce(Subquery(outbound), 0))
    return counted.exclude(touch_count=F("rows"))


def _leads_miscounted() -> int:
    return _miscounted().count()


def miscounted_leads(limit: int = 10) -> list[str]:
    """Each lead whose touch count is off, with its touches: the evidence for a report."""
    lines = []
    for lead in _miscounted().order_by("id")[:limit]:
        touches = lead.touches.order_by("created_at", "id")
        told = ", ".join(
            f"#{t.id} {t.source} {t.channel} {t.outcome} at {t.created_at:%H:%M:%S.%f}"
            for t in touches
        )
        lines.append(f"lead {lead.id}: touch_count {lead.touch_count}, {lead.rows} rows: {told}")
    return lines


def _enrolments_off(cadence_id: int) -> int:
    live = Count("tasks", filter=Q(tasks__kind="step", tasks__status=Task.Status.PENDING))
    active = Enrolment.objects.filter(cadence_id=cadence_id, status=Enrolment.Status.ACTIVE)
    return active.annotate(live=live).exclude(live=1).count()
