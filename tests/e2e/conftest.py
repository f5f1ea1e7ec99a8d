"""Playwright fixtures: Debian's Chromium (never a downloaded one) against a live server."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django would otherwise refuse
# database calls from it as if they came from async code.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "pw-for-tests-1"
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


@pytest.fixture
def log_in(page, live_server) -> Callable[[object], None]:
    def log_in_as(user: object) -> None:
        user.set_password(PASSWORD)
        user.save()
        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", user.get_username())
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")

    return log_in_as


def screenshot(page: object, name: str, viewport: dict[str, int] = DESKTOP) -> Path:
    """Save the whole page at this viewport size under test-artifacts/ (git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size(viewport)
    path = ARTIFACTS / f"{name}-{viewport['width']}x{viewport['height']}.png"
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(DESKTOP)
    return path
