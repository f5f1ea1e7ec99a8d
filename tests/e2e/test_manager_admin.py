"""A manager shapes a cadence in admin, in a real Chromium, against a live server.

The preview follows the edits before they are saved: a step moved onto US Thanksgiving
2027 shows as moved off it, with the holiday's name, and an empty phrase typed into an
email shows as a value warning. Saving goes through, warnings or not.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from playwright.sync_api import expect

from cadences.models import Cadence, Step
from tests.e2e.conftest import ARTIFACTS, PASSWORD, screenshot
from tests.factories import CadenceFactory, ManagerFactory, StepFactory

# serialized_rollback: the flush after a live-server test would otherwise also wipe the
# rows that migrations made (the reps and managers groups) for the tests that follow.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

BODY = "Hi {{ lead.first_name }}, the case study on onboarding is attached. Who else decides?"


def _manager():
    manager = ManagerFactory(username="maria")
    # Granted here too: a transactional test may run on a flushed database.
    managers = Group.objects.get(name="managers")
    managers.permissions.add(
        *Permission.objects.filter(content_type__app_label__in=["leads", "cadences"])
    )
    return manager


def _cadence() -> Cadence:
    cadence = CadenceFactory(name="Holiday season", holiday_country="US", min_gap_hours=0)
    StepFactory(cadence=cadence, position=1, channel="call", title="Intro call")
    StepFactory(
        cadence=cadence,
        position=2,
        channel="email",
        wait_days=1,
        title="Case study",
        subject="How Acme onboarded in a week",
        body=BODY,
    )
    StepFactory(cadence=cadence, position=3, channel="call", wait_days=2, title="Follow-up call")
    return cadence


def _log_in(page, live_server, user) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("input[name=username]", user.get_username())
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")


def test_a_manager_edits_steps_sees_the_preview_move_a_step_off_thanksgiving_and_saves(
    page, live_server
):
    manager = _manager()
    cadence = _cadence()
    _log_in(page, live_server, manager)
    page.goto(f"{live_server.url}/admin/cadences/cadence/{cadence.pk}/change/")
    results = page.locator("#cadence-preview-results")

    # Each step shows its channel's fields: a call has no subject, an email has one.
    expect(page.locator("#id_steps-0-subject")).to_be_hidden()
    expect(page.locator("#id_steps-1-subject")).to_be_visible()
    expect(page.locator("#id_steps-0-mode")).to_be_hidden()

    # A sample start the day before Thanksgiving, in New York.
    page.fill("input[name=preview_start]", "2027-11-24T10:00")
    page.fill("input[name=preview_tz]", "America/New_York")
    page.click("#preview-refresh")
    expect(results).to_contain_text("Starting Wed 24 Nov 2027 10:00 in America/New_York")
    expect(results).to_contain_text("wait counted past Thanksgiving Day (Thu 25 Nov 2027)")

    # Step 2 now waits 24 hours: it would land on Thanksgiving and moves off it.
    page.fill("#id_steps-1-wait_days", "0")
    page.fill("#id_steps-1-wait_hours", "24")
    page.locator("#id_steps-1-wait_hours").blur()
    row = results.locator("tr[data-step='2']")
    expect(row).to_contain_text("Fri 26 Nov 2027")
    expect(row).to_contain_text("holiday: Thanksgiving Day (Thu 25 Nov 2027)")
    expect(results).to_contain_text("Only 3 touches: most sales close after the fifth touch")

    # An empty phrase is a warning, before saving and whatever else is on the page.
    page.fill("#id_steps-1-body", "Hi {{ lead.first_name }}, just checking in.")
    page.locator("#id_steps-1-body").blur()
    expect(results.locator("[data-testid=value-findings]")).to_contain_text(
        'Step 2 (email, Case study): says "just checking in": say what is new instead'
    )

    # ↓ then ↑ swaps positions with the neighbour and back; a call step turned email
    # shows its subject.
    first_step = page.locator("#steps-0")
    first_step.get_by_role("button", name="Move this step down").click()
    expect(page.locator("#id_steps-0-position")).to_have_value("2")
    expect(page.locator("#id_steps-1-position")).to_have_value("1")
    first_step.get_by_role("button", name="Move this step up").click()
    expect(page.locator("#id_steps-0-position")).to_have_value("1")
    page.select_option("#id_steps-2-channel", "email")
    expect(page.locator("#id_steps-2-subject")).to_be_visible()
    page.select_option("#id_steps-2-channel", "call")
    expect(page.locator("#id_steps-2-subject")).to_be_hidden()
    screenshot(page, "manager-admin-cadence-preview")
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#cadence-preview").screenshot(path=ARTIFACTS / "manager-admin-preview-panel.png")
    page.locator("#steps-1").screenshot(path=ARTIFACTS / "manager-admin-email-step.png")

    page.click("input[name=_continue]")
    expect(page.locator("ul.messagelist").first).to_contain_text("was changed successfully")
    step = Step.objects.get(cadence=cadence, position=2)
    assert (step.wait_days, step.wait_hours) == (0, 24)
    assert "just checking in" in step.body
    # The saved page previews from now and still shows the warning.
    expect(page.locator("[data-testid=value-findings]")).to_contain_text("just checking in")
    screenshot(page, "manager-admin-cadence-saved")

    # The saved steps on their own page, for a start the manager can share as a link.
    page.goto(
        f"{live_server.url}/admin/cadences/cadence/{cadence.pk}/preview/"
        "?start=2027-11-24T10:00&tz=America/New_York"
    )
    expect(page.locator("tr[data-step='2']")).to_contain_text("Thanksgiving Day")
    screenshot(page, "manager-admin-timeline-page")
