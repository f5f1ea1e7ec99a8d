"""The browser's import: upload, mapping, the django-q2 task, progress and the result.

The task runs inline: ``Q_CLUSTER["sync"]`` makes ``async_task`` execute it through
django-q2's own worker code in this process, and ``on_commit`` callbacks are run, as
they would be after the view's transaction commits.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from cadences.models import Enrolment
from leads.importing import run_import
from leads.models import Lead, LeadImport, RoutingRule
from tests.factories import LeadFactory, RepFactory
from tests.integration.engine_helpers import make_cadence


@pytest.fixture(autouse=True)
def _tasks_run_inline(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}


@pytest.fixture
def as_rep(client, rep):
    client.force_login(rep)
    return client


def upload(client, content: bytes, name: str = "expo.csv"):
    return client.post(reverse("leads-import"), {"file": SimpleUploadedFile(name, content)})


def mapping_post(job: LeadImport, columns: list[str], **fields) -> dict[str, str]:
    data = {f"col_{i}": name for i, name in enumerate(columns)}
    data.update({"owner": "", "cadence": "", "source": "", **fields})
    return {k: v for k, v in data.items() if v is not False}


def start(client, job: LeadImport, columns: list[str], capture, **fields):
    with capture(execute=True):
        return client.post(
            reverse("leads-import-map", args=[job.pk]), mapping_post(job, columns, **fields)
        )


def test_an_upload_shows_the_detected_columns_with_a_mapping_to_fix(as_rep):
    response = upload(as_rep, b"E-Mail;First Name;Fax\nann@example.com;Ann;123\n")

    job = LeadImport.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("leads-import-map", args=[job.pk])
    assert (job.header, job.delimiter) == (["E-Mail", "First Name", "Fax"], ";")
    assert job.mapping == ["", "first_name", ""]
    page = as_rep.get(response.url)
    assert page.status_code == 200
    assert 'name="col_0"' in page.text and 'name="col_2"' in page.text
    assert '<option value="first_name" selected>' in page.text
    assert "ann@example.com" in page.text  # the preview rows


def test_the_fixed_mapping_imports_through_the_worker_task_to_a_result(
    as_rep, rep, django_capture_on_commit_callbacks
):
    upload(as_rep, b"E-Mail;First Name;Fax\nann@example.com;Ann;123\nbad@;Bo;4\n")
    job = LeadImport.objects.get()

    response = start(
        as_rep,
        job,
        ["email", "first_name", ""],
        django_capture_on_commit_callbacks,
        owner=str(rep.pk),
        source="Expo 2027",
    )

    assert response.url == reverse("leads-import-detail", args=[job.pk])
    job = LeadImport.objects.get()
    assert job.status == "done"
    assert (job.rows_total, job.rows_done, job.created, job.updated, job.skipped) == (2, 2, 1, 0, 1)
    assert job.errors == [[3, "email 'bad@' is not a valid address"]]
    lead = Lead.objects.get()
    assert (lead.email, lead.first_name, lead.owner, lead.source) == (
        "ann@example.com",
        "Ann",
        rep,
        "Expo 2027",
    )
    page = as_rep.get(response.url)
    assert 'id="import-result"' in page.text and "100%" in page.text
    assert 'hx-trigger="every 1s"' not in page.text  # finished: no more polling


def test_the_bad_rows_download_lists_line_and_reason(
    as_rep, rep, django_capture_on_commit_callbacks
):
    upload(as_rep, b"email\nbad@\n\nalso-bad\nok@example.com\n")
    job = LeadImport.objects.get()
    start(as_rep, job, ["email"], django_capture_on_commit_callbacks, owner=str(rep.pk))

    response = as_rep.get(reverse("leads-import-bad-rows", args=[job.pk]))

    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text))) == [
        ["line", "reason"],
        ["2", "email 'bad@' is not a valid address"],
        ["4", "email 'also-bad' is not a valid address"],
    ]


def test_all_or_nothing_imports_nothing_when_a_row_is_bad(
    as_rep, rep, django_capture_on_commit_callbacks
):
    upload(as_rep, b"email\nann@example.com\nbad@\n")
    job = LeadImport.objects.get()

    start(
        as_rep, job, ["email"], django_capture_on_commit_callbacks, owner=str(rep.pk), strict="on"
    )

    job = LeadImport.objects.get()
    assert (job.status, job.created, job.skipped, job.error_count) == ("done", 0, 2, 1)
    assert not Lead.objects.exists()
    assert job.failure == "all or nothing: 1 bad row, so nothing was imported"
    page = as_rep.get(reverse("leads-import-detail", args=[job.pk])).text
    assert "All or nothing: 1 bad row, so nothing was imported" in page


def test_route_automatically_uses_the_routing_rules_and_their_cadence(
    as_rep, rep, teammate, django_capture_on_commit_callbacks
):
    demo = make_cadence("Demo", steps=[{"channel": "call", "wait_days": 0}])
    rule = RoutingRule.objects.create(name="Expo", source="expo", cadence=demo)
    rule.pool.set([teammate])
    upload(as_rep, b"email,phone,source\nann@example.com,+15550100,expo\n")

    start(
        as_rep,
        LeadImport.objects.get(),
        ["email", "phone", "source"],
        django_capture_on_commit_callbacks,
    )

    lead = Lead.objects.get()
    assert lead.owner == teammate
    assert Enrolment.objects.get(lead=lead).cadence == demo


def test_a_latin1_upload_is_refused_at_once_naming_the_byte(as_rep):
    response = upload(as_rep, "email,last_name\nmax@example.com,Müller\n".encode("latin-1"))

    assert response.status_code == 200
    assert "the file is not UTF-8 (byte 0xfc at offset 33)" in response.text
    assert not LeadImport.objects.exists()


def test_a_file_over_50_mb_is_refused(as_rep):
    response = upload(as_rep, b"email\n" + b"x" * (50 * 1024 * 1024))

    assert "larger than 50 MB" in response.text
    assert not LeadImport.objects.exists()


def test_a_mapping_without_email_or_phone_is_refused(as_rep, django_capture_on_commit_callbacks):
    upload(as_rep, b"email,first_name\nann@example.com,Ann\n")
    job = LeadImport.objects.get()

    response = start(as_rep, job, ["", "first_name"], django_capture_on_commit_callbacks)

    assert response.status_code == 200
    assert "the header needs an email or a phone column" in response.text
    assert LeadImport.objects.get().status == "draft"


def test_a_rep_owns_what_they_import_and_cannot_pick_a_teammate(as_rep, teammate):
    upload(as_rep, b"email\nann@example.com\n")
    job = LeadImport.objects.get()

    response = as_rep.post(
        reverse("leads-import-map", args=[job.pk]),
        mapping_post(job, ["email"], owner=str(teammate.pk)),
    )

    assert response.status_code == 200
    assert "owner" in response.context["form"].errors


def test_another_rep_cannot_see_an_import_but_a_manager_can(client, rep, teammate, manager):
    job = LeadImport.objects.create(created_by=rep, filename="x.csv", status="done")
    client.force_login(teammate)
    assert client.get(reverse("leads-import-detail", args=[job.pk])).status_code == 404
    assert client.get(reverse("leads-import-progress", args=[job.pk])).status_code == 404
    client.force_login(manager)
    assert client.get(reverse("leads-import-detail", args=[job.pk])).status_code == 200


def test_the_progress_partial_polls_while_the_import_runs(
    as_rep, rep, django_assert_max_num_queries
):
    job = LeadImport.objects.create(
        created_by=rep,
        filename="x.csv",
        status="importing",
        rows_total=4000,
        rows_done=1000,
        error_count=3,
    )

    # Session, user, the import with its creator: the page polls this every second.
    with django_assert_max_num_queries(5):
        response = as_rep.get(reverse("leads-import-progress", args=[job.pk]))

    assert 'hx-trigger="every 1s"' in response.text
    assert 'aria-valuenow="25"' in response.text and "25%" in response.text
    assert "1,000 of 4,000 rows" in response.text and "3 bad so far" in response.text


# --- the task ---------------------------------------------------------------------


def _queued(rep, content: bytes, **fields) -> LeadImport:
    from leads.lead_csv import auto_mapping

    header = content.split(b"\n", 1)[0].decode().split(",")
    return LeadImport.objects.create(
        created_by=rep,
        filename="x.csv",
        upload=content,
        size=len(content),
        header=header,
        mapping=auto_mapping(header),
        default_owner=rep,
        status="queued",
        **fields,
    )


def test_the_task_is_safe_to_run_twice(rep):
    job = _queued(rep, b"email\nann@example.com\n")

    run_import(job.pk)
    run_import(job.pk)

    job = LeadImport.objects.get()
    assert (job.status, job.created, job.updated) == ("done", 1, 0)
    assert Lead.objects.count() == 1


def test_an_import_whose_worker_died_is_taken_over_later(rep):
    job = _queued(rep, b"email\nann@example.com\n")
    LeadImport.objects.filter(pk=job.pk).update(
        status="importing", started_at=timezone.now() - dt.timedelta(hours=1)
    )

    run_import(job.pk)

    assert LeadImport.objects.get().status == "done"


def test_a_running_import_is_not_started_a_second_time(rep):
    job = _queued(rep, b"email\nann@example.com\n")
    LeadImport.objects.filter(pk=job.pk).update(status="importing", started_at=timezone.now())

    run_import(job.pk)

    assert not Lead.objects.exists()


def test_a_stored_file_of_several_windows_imports_like_the_file_itself(rep):
    rows = "".join(f"lead{i}@example.com,{'T' * 190}{i}\n" for i in range(12_000))
    content = ("email,title\n" + rows).encode()
    assert len(content) > 2.4 * 1024 * 1024  # three 1 MB windows
    job = _queued(rep, content)

    run_import(job.pk)

    job = LeadImport.objects.get()
    assert (job.status, job.created, job.skipped) == ("done", 12_000, 0)
    assert Lead.objects.filter(title=f"{'T' * 190}11999").exists()
    assert LeadImport.objects.filter(pk=job.pk, upload=b"").exists()  # the file is dropped


def test_a_file_refused_by_the_task_is_failed_with_its_reason(rep):
    job = _queued(rep, b"email\nann@example.com\n\xff\n")

    run_import(job.pk)

    job = LeadImport.objects.get()
    assert job.status == "failed"
    assert job.failure.startswith("the file is not UTF-8 (byte 0xff at offset 22)")
    assert not Lead.objects.exists()


def test_the_import_matches_existing_leads_from_the_browser_too(rep):
    LeadFactory(email="Ann@Example.com", owner=RepFactory())
    job = _queued(rep, b"email,title\nann@example.com,CTO\n")

    run_import(job.pk)

    assert (LeadImport.objects.get().updated, Lead.objects.get().title) == (1, "CTO")
