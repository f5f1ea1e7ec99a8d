"""A rep works the morning queue by keyboard in a real Chromium, against a live server."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cadences.models import Step, Task
from leads.models import Touch
from leads.touches import signal_record
from tests.e2e.conftest import PHONE, screenshot
from tests.factories import AccountFactory, AssetFactory, LeadFactory, SignalFactory, TouchFactory
from tests.integration.work_helpers import inbound_cadence, queue_task

# serialized_rollback: the flush after a live-server test would otherwise also wipe the
# rows that migrations made (the reps and managers groups) for the tests that follow.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture(autouse=True)
def fast_hot_poll(settings) -> None:
    settings.FOLLOWUP_HOT_POLL_SECONDS = 1  # the page polls every 10 s in production


def ago(minutes: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(minutes=minutes)


def morning_queue(rep) -> dict[str, Task]:
    """Two calls, a manual email and a mail step due now, and an automated email to go."""
    rep.first_name, rep.last_name, rep.email = "Alice", "Doe", "alice@followup.example"
    rep.save()
    cadence = inbound_cadence()
    Step.objects.filter(cadence=cadence, position=1).update(
        script="Thank them for the request, then find out what prompted it.",
        questions=["What prompted the request today?", "Who else will use it?"],
    )
    Step.objects.filter(cadence=cadence, position=5).update(
        subject="A rollout plan for {{ lead.company }}",
        body="Hi {{ lead.first_name }},\n\nTeams like yours start here: {{ asset.url }}\n\n"
        "Which part of the rollout worries you most?\n\n{{ rep.first_name }}",
    )
    AssetFactory(
        title="How Initech rolled out in 30 days",
        url="https://example.com/initech",
        summary="A four-week plan, step by step.",
        for_awareness=True,
    )
    globex = AccountFactory(name="Globex")
    tasks = {
        "voicemail": queue_task(
            rep,
            position=1,
            due_at=ago(30),
            first_name="Ann",
            last_name="Lee",
            title="VP Operations",
            account=globex,
        ),
        "connected": queue_task(
            rep,
            position=3,
            due_at=ago(20),
            first_name="Ben",
            last_name="Ortiz",
            account=AccountFactory(name="Initech"),
        ),
        "email": queue_task(
            rep,
            position=5,
            due_at=ago(10),
            first_name="Cara",
            last_name="Ng",
            account=AccountFactory(name="Umbrella"),
        ),
        "mail": queue_task(
            rep,
            position=4,
            due_at=ago(5),
            first_name="Dev",
            last_name="Rao",
            account=AccountFactory(name="Hooli"),
        ),
        "auto": queue_task(
            rep,
            position=2,
            due_at=timezone.now(),
            first_name="Eve",
            last_name="Stone",
            account=AccountFactory(name="Stark"),
        ),
    }
    ann = tasks["voicemail"].lead
    TouchFactory(
        lead=ann,
        rep=rep,
        channel="email",
        outcome="sent",
        automated=True,
        subject="Your demo request",
        occurred_at=ago(60 * 24 * 2),
    )
    SignalFactory(lead=ann, kind="pricing_page_visit", occurred_at=ago(60 * 24))
    boss = LeadFactory(owner=rep, account=globex, first_name="Bea", last_name="Boss", title="CFO")
    TouchFactory(lead=boss, rep=rep, outcome="connected", occurred_at=ago(60 * 24 * 5))
    return tasks


def work_page(page, task: Task) -> None:
    page.wait_for_url(f"**/work/{task.id}/")
    expect(page.locator(f'#work-page[data-task="{task.id}"]')).to_be_visible()


def test_rep_works_three_items_by_keyboard(page, live_server, log_in, rep, smtp_sink):
    tasks = morning_queue(rep)
    log_in(rep)
    expect(page.locator("#pane-calls")).to_contain_text("Ann Lee")
    expect(page.locator("#upcoming-auto")).to_contain_text("Eve Stone")
    screenshot(page, "today")
    screenshot(page, "today", PHONE)

    page.keyboard.press("?")
    expect(page.locator("#keys-help")).to_be_focused()  # shown: its fade-in has ended
    page.keyboard.press("Escape")
    expect(page.locator("#keys-help")).to_be_hidden()

    page.keyboard.press("w")
    work_page(page, tasks["voicemail"])
    expect(page.locator("#voicemail-script")).to_contain_text("I missed you today")
    expect(page.locator("#script-card")).to_contain_text("What prompted the request today?")
    expect(page.locator("#colleagues-card")).to_contain_text("Bea Boss")
    screenshot(page, "work")
    screenshot(page, "work", PHONE)

    page.keyboard.press("v")  # voicemail, calling back next business day 08:30 their time
    work_page(page, tasks["connected"])
    expect(page.locator(".alert-success")).to_contain_text("Callback set for")

    page.keyboard.press("c")
    work_page(page, tasks["email"])
    expect(page.locator("#id_subject")).to_have_value("A rollout plan for Umbrella")
    screenshot(page, "composer")
    page.keyboard.press("e")
    expect(page.locator("#id_body")).to_be_focused()
    page.keyboard.press("End")
    page.keyboard.type(" Talk soon.")
    page.keyboard.press("Control+Enter")
    work_page(page, tasks["mail"])
    expect(page.locator(".alert-success")).to_contain_text("Sent")

    page.keyboard.press("s")  # snooze the mail step: reason, Enter
    expect(page.locator("#id_snooze-reason")).to_be_focused()
    page.keyboard.type("note cards arrive tomorrow")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/")
    expect(page.locator(".alert-success")).to_contain_text("Snoozed Dev Rao")

    [message] = smtp_sink.messages
    assert message["From"] == "Alice Doe <alice@followup.example>"
    assert message["Subject"] == "A rollout plan for Umbrella"
    assert "Talk soon." in message.get_payload(decode=True).decode()
    outcomes = {
        name: Touch.objects.get(task=tasks[name]).outcome
        for name in ("voicemail", "connected", "email")
    }
    assert outcomes == {"voicemail": "voicemail", "connected": "connected", "email": "sent"}

    callback = Task.objects.get(lead=tasks["voicemail"].lead, kind="callback")
    lead_local = callback.due_at.astimezone(ZoneInfo("America/Chicago"))
    assert (lead_local.hour, lead_local.minute, lead_local.weekday() < 5) == (8, 30, True)
    rep_day = callback.due_at.astimezone(ZoneInfo("America/New_York")).date()
    page.goto(f"{live_server.url}/?date={rep_day.isoformat()}")
    row = page.locator("#pane-calls [data-queue-item]", has_text="Ann Lee")
    expect(row).to_contain_text("callback")

    page.goto(f"{live_server.url}/?tab=calls")
    expect(page.locator("#pane-calls .queue-item.is-done")).to_have_count(2)
    screenshot(page, "today-after")


def test_a_hot_lead_appears_without_reload(page, live_server, log_in, rep):
    queue_task(rep, position=3, due_at=ago(20), first_name="Ben", last_name="Ortiz")
    hot = LeadFactory(owner=rep, first_name="Hana", last_name="Hot", timezone="America/Chicago")
    log_in(rep)
    expect(page.locator("#pane-calls")).to_contain_text("Ben Ortiz")
    page.evaluate("window.stillTheSamePage = true")

    signal_record(kind="pricing_page_visit", occurred_at=timezone.now(), lead=hot)

    expect(page.locator("#hot-card")).to_contain_text("Hana Hot", timeout=8_000)
    expect(page.locator("#hot-badge")).to_contain_text("1")
    assert page.evaluate("window.stillTheSamePage") is True
    screenshot(page, "today-hot")


def test_a_rep_cannot_open_another_reps_task(page, live_server, log_in, rep, teammate):
    theirs = queue_task(teammate, position=3, due_at=ago(5))
    log_in(rep)
    response = page.goto(f"{live_server.url}/work/{theirs.id}/")
    assert response.status == 404
    expect(page.locator("h1")).to_contain_text("Not found")
