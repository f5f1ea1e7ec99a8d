"""A rep imports a CSV in a real Chromium and watches the progress bar reach 100%.

How the import task runs here, honestly: the page queues it exactly as in production
(``async_task`` into django-q2's ORM broker). No qcluster runs in the test, so a
thread of this test plays the worker: it takes the queued task from that broker and
runs the function it names, which is what a qcluster worker does (without the
process pool). The page meanwhile polls the progress partial every second, as it does
in production; nothing is run inline, so the bar really moves from 0 to 100.
"""

from __future__ import annotations

import pydoc
import threading
import time

import pytest
from django.db import OperationalError, close_old_connections, connection
from playwright.sync_api import expect

from leads.models import Lead, LeadImport
from tests.e2e.conftest import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ROWS = 6000


def _csv() -> bytes:
    lines = ["E-mail,first_name,last_name,company,phone"]
    lines += [
        f"lead{i}@example.com,First{i},Last{i},Company {i % 50},+1555{i:07d}" for i in range(ROWS)
    ]
    lines.insert(3, "not-an-email,Bad,Row,Nowhere,")
    return ("\n".join(lines) + "\n").encode()


def _work_one_task(deadline: float) -> None:
    """Take the next task from django-q2's broker and run it, as a qcluster worker would."""
    from django_q.brokers import get_broker
    from django_q.signing import SignedPackage

    broker = get_broker()
    try:
        while time.monotonic() < deadline:
            try:
                claimed = broker.dequeue()
            except OperationalError:  # SQLite's shared in-memory test database is busy
                continue
            if claimed:
                ack_id, payload = claimed[0]
                task = SignedPackage.loads(payload)
                pydoc.locate(task["func"])(*task["args"], **task["kwargs"])
                broker.acknowledge(ack_id)
                return
    finally:
        close_old_connections()
        connection.close()


def test_a_csv_uploaded_in_the_browser_imports_with_a_live_progress_bar(
    page, live_server, log_in, rep
):
    log_in(rep)
    page.goto(f"{live_server.url}/leads/import/")
    page.set_input_files(
        "input[name=file]", files=[{"name": "expo.csv", "mimeType": "text/csv", "buffer": _csv()}]
    )
    page.get_by_role("button", name="Upload and map columns").click()

    # The unknown "E-mail" column is mapped by hand to the email field.
    page.wait_for_url("**/map/")
    expect(page.get_by_label("Field for column E-mail")).to_have_value("")
    page.get_by_label("Field for column E-mail").select_option("email")
    page.get_by_label("Owner for rows without one").select_option(label="alice")
    screenshot(page, "import-mapping")
    page.get_by_role("button", name="Import").click()

    page.wait_for_url("**/import/*/")
    bar = page.get_by_role("progressbar", name="Import progress")
    expect(bar).to_have_attribute("aria-valuenow", "0")
    expect(page.locator("#import-status")).to_have_text("Queued")

    worker = threading.Thread(target=_work_one_task, args=(time.monotonic() + 300,), daemon=True)
    worker.start()
    expect(page.locator("#import-status")).not_to_have_text("Queued", timeout=120_000)
    page.reload()  # the progress survives a reload: it is read from the import's row
    expect(bar).to_have_attribute("aria-valuenow", "100", timeout=240_000)
    worker.join(timeout=240)

    result = page.locator("#import-result")
    expect(result).to_contain_text(f"{ROWS:,}")
    expect(result).to_contain_text("created")
    expect(page.get_by_role("link", name="Bad rows (CSV, 1)")).to_be_visible()
    screenshot(page, "import-done")
    job = LeadImport.objects.get()
    assert (job.status, job.created, job.skipped) == ("done", ROWS, 1)
    assert Lead.objects.count() == ROWS
