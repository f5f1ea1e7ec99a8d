"""A manager opens Reports in Chromium and sees every chart drawn; a rep is turned away."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cadences.services import lead_status_set
from tests.e2e.conftest import PHONE, screenshot
from tests.factories import LeadFactory, TouchFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def won_after(touches: int, rep) -> None:
    lead = LeadFactory(owner=rep)
    start = timezone.now() - dt.timedelta(days=20)
    for n in range(touches):
        TouchFactory(lead=lead, rep=rep, occurred_at=start + dt.timedelta(days=n))
    lead_status_set(lead=lead, status="won", at=start + dt.timedelta(days=touches + 1))


def test_a_manager_sees_every_report_drawn_as_a_chart(page, live_server, log_in, manager, rep):
    for touches in (1, 3, 6, 7):
        won_after(touches, rep)
    log_in(manager)
    page.goto(f"{live_server.url}/reports/")
    expect(page.get_by_role("heading", name="Touches to close")).to_be_visible()
    # Eight reports; with no cadence history here, one of them shows its empty state.
    charts = page.locator("svg")
    assert charts.count() >= 7
    # The first chart's bars are drawn with real sizes, not an empty frame.
    box = page.locator("svg").first.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 100
    assert page.locator("svg title").first.text_content()
    screenshot(page, "manager-reports")
    screenshot(page, "manager-reports", PHONE)


def test_a_rep_cannot_open_reports(page, live_server, log_in, rep):
    log_in(rep)
    response = page.goto(f"{live_server.url}/reports/")
    assert response is not None and response.status == 403
