"""seed_demo: a newcomer's data in one command, loaded once.

One test, because loading the demo runs the engine over weeks of history and is the
slowest thing in the suite; every check below reads the same loaded data.
"""

from __future__ import annotations

from io import StringIO

from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from cadences.models import Cadence, Enrolment, Task
from followup.roles import is_manager, is_rep
from leads.models import Account, Lead, Touch

NOW = "2027-03-03T15:00:00Z"  # a Wednesday


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Lead, Account, Touch, Task, Enrolment, Cadence, get_user_model())
    }


def test_seed_demo_loads_a_working_team_once_and_a_second_run_changes_nothing(db):
    out = StringIO()
    call_command("seed_demo", "--now", NOW, stdout=out)
    assert "Demo data loaded." in out.getvalue()
    first = counts()
    assert first["Lead"] == 50 and first["Cadence"] == 3 and first["Touch"] > 50

    alice = authenticate(username="alice", password="followup-demo")
    maria = authenticate(username="maria", password="followup-demo")
    assert alice is not None and is_rep(alice) and not is_manager(alice)
    assert maria is not None and is_manager(maria) and maria.is_staff

    assert Lead.objects.values("timezone").distinct().count() >= 8
    for username in ("alice", "bob"):
        assert Task.objects.filter(rep__username=username, status="pending").exists()
    # History made by the engine: every done step task has the touch that did it.
    assert not Task.objects.filter(status="done", kind="step", touch__isnull=True).exists()

    again = StringIO()
    call_command("seed_demo", "--now", NOW, stdout=again)
    assert "already loaded; nothing changed" in again.getvalue()
    assert counts() == first
