"""The hot-call badge on a phone: shown next to the menu toggler, not hidden in the menu."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from leads.touches import signal_record
from tests.e2e.conftest import PHONE, screenshot
from tests.factories import LeadFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_rep_on_a_phone_sees_the_hot_call_badge_beside_the_collapsed_menu(
    page, live_server, log_in, rep
):
    hot = LeadFactory(owner=rep, first_name="Hana", last_name="Hot", timezone="America/Chicago")
    signal_record(kind="pricing_page_visit", occurred_at=timezone.now(), lead=hot)
    log_in(rep)

    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/leads/")

    badge, toggler = page.locator("#hot-badge"), page.locator(".navbar-toggler")
    expect(page.locator("#nav")).to_be_hidden()  # the menu is collapsed on a phone
    expect(toggler).to_be_visible()
    expect(badge).to_be_visible()
    expect(badge).to_contain_text("1")
    badge_box, toggler_box = badge.bounding_box(), toggler.bounding_box()
    assert badge_box["x"] + badge_box["width"] <= toggler_box["x"]  # just left of it
    middle = badge_box["y"] + badge_box["height"] / 2
    assert toggler_box["y"] <= middle <= toggler_box["y"] + toggler_box["height"]
    screenshot(page, "nav-hot-badge-phone", PHONE)
