"""`manage.py import_leads`: the CSV format of CONTRACT.md section 4, case by case."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from cadences.models import Enrolment, Task
from leads.models import Account, Lead, Suppression, Tag
from tests.factories import LeadFactory, RepFactory, UserFactory
from tests.integration.engine_helpers import make_cadence

NOW = "2027-03-02T14:00:00Z"
HEADER = "email,first_name,last_name,phone,company,title,timezone,source,tags,owner\n"


def write(tmp_path: Path, text: str | bytes, name: str = "leads.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def run(path: Path, *args: str, owner: str = "alice") -> tuple[list[str], str]:
    out, err = StringIO(), StringIO()
    call_command(
        "import_leads", str(path), "--owner", owner, "--now", NOW, *args, stdout=out, stderr=err
    )
    return out.getvalue().splitlines(), err.getvalue()


def refused(path: Path, *args: str, owner: str = "alice") -> str:
    with pytest.raises(CommandError) as caught:
        run(path, *args, owner=owner)
    return str(caught.value)


# --- encodings, delimiters, quoting ------------------------------------------------


def test_a_utf8_file_creates_its_leads_for_the_owner_stamped_with_now(rep, tmp_path):
    path = write(tmp_path, HEADER + "ann@example.com,Ann,Lee,,Acme,CTO,Europe/Berlin,expo,,\n")

    lines, _ = run(path)

    assert lines == ["created 1, updated 0, skipped 0"]
    lead = Lead.objects.get()
    assert (lead.email, lead.first_name, lead.last_name, lead.title) == (
        "ann@example.com",
        "Ann",
        "Lee",
        "CTO",
    )
    assert lead.owner == rep
    assert lead.account.name == "Acme"
    assert (lead.timezone, lead.source) == ("Europe/Berlin", "expo")
    assert lead.created_at == dt.datetime(2027, 3, 2, 14, tzinfo=dt.UTC)


def test_a_utf8_file_with_a_bom_reads_its_first_column(rep, tmp_path):
    path = write(tmp_path, "\ufeffEmail,First_Name\nzoe@example.com,Zoë\n".encode())

    lines, _ = run(path)

    assert lines == ["created 1, updated 0, skipped 0"]
    assert Lead.objects.get().first_name == "Zoë"


def test_a_latin1_file_is_refused_naming_the_byte_and_its_offset(rep, tmp_path):
    path = write(tmp_path, "email,last_name\nmax@example.com,Müller\n".encode("latin-1"))

    message = refused(path)

    offset = len(b"email,last_name\nmax@example.com,M")
    assert f"the file is not UTF-8 (byte 0xfc at offset {offset})" in message
    assert "\n" not in message
    assert not Lead.objects.exists()


def test_a_bad_byte_deep_in_the_file_is_found_before_anything_is_written(rep, tmp_path):
    good = "".join(f"lead{i}@example.com,Name{i}\n" for i in range(3000))
    path = write(tmp_path, ("email,first_name\n" + good).encode() + b"late@example.com,\xff\n")

    message = refused(path)

    assert "byte 0xff at offset" in message
    assert not Lead.objects.exists()


def test_a_semicolon_file_is_read_with_quoted_tags(rep, tmp_path):
    path = write(tmp_path, 'email;first_name;tags\nann@example.com;Ann;"vip;expo"\n')

    lines, _ = run(path)

    assert lines == ["created 1, updated 0, skipped 0"]
    assert sorted(Lead.objects.get().tags.values_list("name", flat=True)) == ["expo", "vip"]


def test_quoted_fields_keep_commas_and_newlines_and_line_numbers_stay_the_files(rep, tmp_path):
    text = (
        "email,company,title\n"
        'ann@example.com,"Acme, Inc","Head of\nOperations"\n'
        "not-an-email,Beta,CEO\n"
    )
    path = write(tmp_path, text)

    lines, _ = run(path)

    assert lines == [
        "created 1, updated 0, skipped 1",
        "line 4: email 'not-an-email' is not a valid address",
    ]
    lead = Lead.objects.get()
    assert lead.account.name == "Acme, Inc"
    assert lead.title == "Head of Operations"


def test_empty_lines_and_rows_of_empty_cells_are_skipped_silently(rep, tmp_path):
    text = "\n\nemail,first_name\n\nann@example.com,Ann\n\n,\n , \n\nbob@example.com,Bob\n\n"
    path = write(tmp_path, text)

    lines, _ = run(path)

    assert lines == ["created 2, updated 0, skipped 0"]


def test_crlf_line_endings_are_read(rep, tmp_path):
    path = write(tmp_path, "email,first_name\r\nann@example.com,Ann\r\nbob@example.com,Bob\r\n")

    lines, _ = run(path)

    assert lines == ["created 2, updated 0, skipped 0"]
    assert set(Lead.objects.values_list("first_name", flat=True)) == {"Ann", "Bob"}


def test_unknown_columns_are_reported_and_ignored(rep, tmp_path):
    path = write(tmp_path, "email,Fax,first_name\nann@example.com,0301234,Ann\n")

    lines, notes = run(path)

    assert lines == ["created 1, updated 0, skipped 0"]
    assert "column 'Fax' ignored" in notes
    assert Lead.objects.get().first_name == "Ann"


def test_column_names_match_in_any_case(rep, tmp_path):
    path = write(tmp_path, "EMAIL,First_Name,LAST_NAME\nann@example.com,Ann,Lee\n")

    run(path)

    assert Lead.objects.get().name == "Ann Lee"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "the file is empty"),
        (b"\n\n  \n", "the file is empty"),
        (b",,\n ,\n", "the file has no header row"),
        (b'{"leads": [{"email": "a@b.com"}]}\n', "no known column in its first line"),
        (b"name,city\nAnn,Berlin\n", "no known column in its first line"),
        (b"first_name,company\nAnn,Acme\n", "the header needs an email or a phone column"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "the file is not UTF-8 (byte 0x89 at offset 0)"),
        (b"email\nann@example.com\nb\x00b@example.com\n", "it contains NUL bytes"),
        ("email\nann@example.com\n".encode("utf-16-le"), "it contains NUL bytes"),
    ],
    ids=[
        "empty",
        "blank",
        "commas-only-header",
        "json",
        "other-columns",
        "no-email-or-phone",
        "png",
        "nul-byte",
        "utf-16",
    ],
)
def test_a_file_that_is_not_a_lead_csv_is_refused_in_one_line(rep, tmp_path, content, expected):
    message = refused(write(tmp_path, content))

    assert expected in message
    assert "\n" not in message
    assert not Lead.objects.exists()


# --- bad rows ---------------------------------------------------------------------


def test_bad_rows_are_reported_with_the_files_line_numbers_and_skipped(rep, tmp_path):
    text = (
        HEADER
        + "ann@example.com,Ann,,,,,,,,\n"
        + "\n"
        + "bad@,Bo,,,,,,,,\n"
        + ",Cy,,,,,,,,\n"
        + "dee@example.com,Dee,,,,,Mars/Olympus,,,\n"
        + "eve@example.com,Eve,,,,,,,,nobody\n"
        + ",Fay,,+1 555 0100,,,,,,\n"
    )
    path = write(tmp_path, text)

    lines, _ = run(path)

    assert lines == [
        "created 2, updated 0, skipped 4",
        "line 4: email 'bad@' is not a valid address",
        "line 5: needs an email or a phone",
        "line 6: timezone 'Mars/Olympus' is not an IANA time zone (e.g. Europe/Berlin)",
        "line 7: owner 'nobody' is not an active rep",
    ]
    assert set(Lead.objects.values_list("first_name", flat=True)) == {"Ann", "Fay"}


def test_a_row_with_more_cells_than_the_header_is_bad(rep, tmp_path):
    path = write(tmp_path, "email,company\nann@example.com,Acme, Inc\nbob@example.com,Beta,\n")

    lines, _ = run(path)

    assert lines == [
        "created 1, updated 0, skipped 1",
        "line 2: has 3 cells but the header has 2 (a stray delimiter?)",
    ]


def test_a_value_longer_than_its_field_is_a_bad_row(rep, tmp_path):
    path = write(tmp_path, f"email,first_name\nann@example.com,{'A' * 101}\n")

    lines, _ = run(path)

    assert lines[1] == "line 2: first_name is longer than 100 characters"


# --- matching by email ------------------------------------------------------------


def test_an_email_already_present_in_another_case_is_updated_not_duplicated(rep, tmp_path):
    existing = LeadFactory(email="Ann.Lee@Example.com", first_name="Ann", title="CTO", owner=rep)
    path = write(tmp_path, "email,first_name,title\nann.lee@example.COM,,VP Sales\n")

    lines, _ = run(path)

    assert lines == ["created 0, updated 1, skipped 0"]
    existing.refresh_from_db()
    assert Lead.objects.count() == 1
    assert (existing.first_name, existing.title) == ("Ann", "VP Sales")  # blank kept Ann
    assert existing.email == "Ann.Lee@Example.com"


def test_an_email_twice_in_one_file_makes_one_lead_and_counts_an_update(rep, tmp_path):
    text = "email,first_name,last_name,tags\nann@example.com,Ann,,a\nANN@example.com,,Lee,b\n"
    path = write(tmp_path, text)

    lines, _ = run(path)

    assert lines == ["created 1, updated 1, skipped 0"]
    lead = Lead.objects.get()
    assert lead.name == "Ann Lee"
    assert sorted(lead.tags.values_list("name", flat=True)) == ["a", "b"]


def test_an_email_in_two_chunks_of_a_long_file_is_still_one_lead(rep, tmp_path):
    rows = [f"lead{i}@example.com,Name{i}" for i in range(2500)]
    rows.append("LEAD7@example.com,Again")
    path = write(tmp_path, "email,first_name\n" + "\n".join(rows) + "\n")

    lines, _ = run(path)

    assert lines == ["created 2500, updated 1, skipped 0"]
    assert Lead.objects.get(email="lead7@example.com").first_name == "Again"


def test_importing_the_same_file_twice_updates_and_creates_nothing(rep, tmp_path):
    path = write(tmp_path, HEADER + "ann@example.com,Ann,Lee,,Acme,,,,x;y,\n")
    run(path)

    lines, _ = run(path)

    assert lines == ["created 0, updated 1, skipped 0"]
    assert Lead.objects.count() == 1 and Account.objects.count() == 1 and Tag.objects.count() == 2


def test_a_phone_only_row_creates_a_lead_without_email(rep, tmp_path):
    path = write(tmp_path, "phone,first_name\n+49 30 1234567,Jo\n")

    run(path)

    assert Lead.objects.get().phone == "+49 30 1234567"


# --- owners -----------------------------------------------------------------------


def test_the_owner_column_overrides_the_owner_option(rep, teammate, tmp_path):
    path = write(tmp_path, "email,owner\nann@example.com,bob\nbo@example.com,\n")

    run(path)

    assert Lead.objects.get(email="ann@example.com").owner == teammate
    assert Lead.objects.get(email="bo@example.com").owner == rep


def test_a_matched_lead_keeps_its_owner_unless_the_row_names_one(rep, teammate, tmp_path):
    kept = LeadFactory(email="kept@example.com", owner=teammate)
    moved = LeadFactory(email="moved@example.com", owner=teammate)
    path = write(tmp_path, "email,owner\nkept@example.com,\nmoved@example.com,alice\n")

    run(path)

    kept.refresh_from_db(), moved.refresh_from_db()
    assert (kept.owner, moved.owner) == (teammate, rep)


def test_an_unknown_or_inactive_owner_option_is_refused(rep, tmp_path):
    UserFactory(username="visitor")  # not in the reps group
    RepFactory(username="gone", is_active=False)
    path = write(tmp_path, HEADER)

    assert "--owner: 'nobody' is not an active rep" in refused(path, owner="nobody")
    assert "--owner: 'visitor' is not an active rep" in refused(path, owner="visitor")
    assert "--owner: 'gone' is not an active rep" in refused(path, owner="gone")


def test_a_missing_file_is_refused(rep, tmp_path):
    assert "no such file" in refused(tmp_path / "nope.csv")


# --- cadences ---------------------------------------------------------------------


def test_the_cadence_option_enrols_the_new_leads_and_makes_their_first_task(rep, tmp_path):
    cadence = make_cadence("Trade show", steps=[{"channel": "call", "wait_days": 0}])
    path = write(tmp_path, "email,phone\nann@example.com,+15550100\nbob@example.com,+15550101\n")

    lines, _ = run(path, "--cadence", "Trade show")

    assert lines == ["created 2, updated 0, skipped 0"]
    assert Enrolment.objects.filter(cadence=cadence, status="active").count() == 2
    tasks = Task.objects.filter(rep=rep, channel="call", status="pending")
    assert tasks.count() == 2
    assert Enrolment.objects.first().started_at == dt.datetime(2027, 3, 2, 14, tzinfo=dt.UTC)


def test_a_lead_the_cadence_refuses_is_imported_and_the_refusal_is_a_note(rep, tmp_path):
    make_cadence("Trade show", steps=[{"channel": "call", "wait_days": 0}])
    LeadFactory(email="won@example.com", owner=rep, status="won")
    path = write(tmp_path, "email,first_name\nwon@example.com,Wynn\n")

    lines, notes = run(path, "--cadence", "Trade show")

    assert lines == ["created 0, updated 1, skipped 0"]
    assert "line 2: not enrolled in 'Trade show': the lead is won" in notes
    assert not Enrolment.objects.exists()


def test_an_unknown_cadence_is_refused(rep, tmp_path):
    assert "--cadence: no cadence named 'Nope'" in refused(
        write(tmp_path, HEADER), "--cadence", "Nope"
    )


# --- strict -------------------------------------------------------------------------


def test_strict_imports_nothing_when_a_row_is_bad_and_says_so(rep, tmp_path):
    text = "email,first_name\nann@example.com,Ann\nbad@,Bo\nbob@example.com,Bob\n"
    path = write(tmp_path, text)
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError, match=r"--strict: 1 bad row, nothing imported"):
        call_command(
            "import_leads", str(path), "--owner", "alice", "--strict", stdout=out, stderr=err
        )

    assert out.getvalue().splitlines() == [
        "created 0, updated 0, skipped 3",
        "line 3: email 'bad@' is not a valid address",
    ]
    assert not Lead.objects.exists()


def test_strict_imports_a_clean_file_whole(rep, tmp_path):
    path = write(tmp_path, "email\nann@example.com\nbob@example.com\n")

    lines, _ = run(path, "--strict")

    assert lines == ["created 2, updated 0, skipped 0"]


# --- suppression ------------------------------------------------------------------


def test_suppressed_emails_and_domains_are_skipped_as_suppressed(rep, tmp_path):
    Suppression.objects.create(email="gone@example.com", reason="unsubscribed")
    Suppression.objects.create(domain="competitor.example", reason="competitor")
    text = "email\nann@example.com\nGONE@example.com\nspy@Competitor.example\n"
    path = write(tmp_path, text)

    lines, _ = run(path)

    assert lines == ["created 1, updated 0, skipped 2", "line 3: suppressed", "line 4: suppressed"]
    assert list(Lead.objects.values_list("email", flat=True)) == ["ann@example.com"]


def test_a_suppressed_row_does_not_stop_a_strict_import(rep, tmp_path):
    Suppression.objects.create(email="gone@example.com")
    path = write(tmp_path, "email\nann@example.com\ngone@example.com\n")

    lines, _ = run(path, "--strict")

    assert lines == ["created 1, updated 0, skipped 1", "line 3: suppressed"]


# --- speed ------------------------------------------------------------------------


def test_a_chunk_of_rows_costs_a_fixed_number_of_queries(
    rep, tmp_path, django_assert_max_num_queries
):
    rows = "".join(f"lead{i}@example.com,Co {i % 7},t{i % 3}\n" for i in range(2000))
    path = write(tmp_path, "email,company,tags\n" + rows)

    # Per chunk of 1,000 rows: suppression, matching, accounts (find, create, find
    # again), insert, tags (find, create, find again), tag links, savepoints. Plus
    # the owner lookups. Not one query per row.
    with django_assert_max_num_queries(40):
        lines, _ = run(path)

    assert lines == ["created 2000, updated 0, skipped 0"]
