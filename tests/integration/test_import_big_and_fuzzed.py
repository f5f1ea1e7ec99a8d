"""Import at the edges: a 50 MB file streamed in modest memory, and generated CSVs.

The fuzzing asserts the two promises that matter when the input is anything at all:
the command never crashes (a refused file is a one-line CommandError), and under
``--strict`` either every row is imported or nothing is.
"""

from __future__ import annotations

import csv
import io
import tracemalloc
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leads.models import Lead

MB = 1024 * 1024


def _write_big_csv(path: Path, size: int) -> int:
    """A CRM export of ``size`` bytes: fat rows, as real exports with a notes column have."""
    notes = "Met at the booth; asked about pricing, integrations and onboarding. " * 40
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "first_name", "last_name", "company", "title", "notes", "tags"])
        while handle.tell() < size:
            writer.writerow(
                [
                    f"lead{rows}@example{rows % 97}.com",
                    f"First{rows}",
                    f"Last{rows}",
                    f"Company {rows % 500}",
                    "Head of Operations, EMEA",
                    f'{notes} "quoted", with commas\nand a second line',
                    f"expo;batch{rows % 5}",
                ]
            )
            rows += 1
    return rows


def test_a_50_mb_file_imports_while_memory_stays_under_100_mb(rep, tmp_path):
    path = tmp_path / "big.csv"
    rows = _write_big_csv(path, 50 * MB)
    assert path.stat().st_size >= 50 * MB
    out = io.StringIO()

    tracemalloc.start()
    try:
        call_command(
            "import_leads", str(path), "--owner", "alice", stdout=out, stderr=io.StringIO()
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert out.getvalue().splitlines() == [f"created {rows}, updated 0, skipped 0"]
    assert Lead.objects.count() == rows
    assert peak < 100 * MB, f"peak {peak / MB:.1f} MB"


# --- generated CSVs -----------------------------------------------------------------

COLUMNS = ["email", "first_name", "last_name", "phone", "company", "timezone", "tags", "owner"]
cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["a@example.com", "A@EXAMPLE.COM", "b@example.com", "bad@", "+1 555 0100"]),
    st.sampled_from(["Europe/Berlin", "Mars/Base", "alice", "nobody", 'x,"y"', "a;b", "l1\nl2"]),
)


@st.composite
def csv_files(draw) -> bytes:
    header = draw(
        st.lists(st.sampled_from([*COLUMNS, "Unknown", ""]), min_size=1, max_size=6, unique=True)
    )
    body = draw(st.lists(st.lists(cells, min_size=0, max_size=len(header) + 1), max_size=8))
    if draw(st.booleans()):  # a well-formed file
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=draw(st.sampled_from([",", ";"])))
        writer.writerow(header)
        writer.writerows(body)
        text = buffer.getvalue()
    else:  # anything a person might save by mistake
        text = ",".join(header) + "\n" + draw(st.text(max_size=200))
    prefix = b"\xef\xbb\xbf" if draw(st.booleans()) else b""
    return prefix + text.encode()


class _Rollback(Exception):
    pass


def _import(path: Path, *args: str) -> tuple[list[str] | None, int]:
    """(output lines or None when refused, leads afterwards), then undo every write."""
    out = io.StringIO()
    try:
        with transaction.atomic():
            try:
                call_command(
                    "import_leads",
                    str(path),
                    "--owner",
                    "alice",
                    *args,
                    stdout=out,
                    stderr=io.StringIO(),
                )
                lines = out.getvalue().splitlines()
            except CommandError:
                lines = None
            count = Lead.objects.count()
            raise _Rollback
    except _Rollback:
        pass
    return lines, count


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=csv_files())
def test_generated_csvs_never_crash_and_strict_imports_all_or_nothing(rep, tmp_path, content):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(content)

    lines, count = _import(path, "--strict")
    loose_lines, loose_count = _import(path)

    if lines is None:  # refused, or a bad row under strict: nothing written
        assert count == 0
    else:
        created = int(lines[0].split(",")[0].removeprefix("created "))
        assert count == created == loose_count
        assert all(line.endswith(": suppressed") for line in lines[1:])
    if loose_lines is not None:
        created = int(loose_lines[0].split(",")[0].removeprefix("created "))
        assert loose_count == created
        assert all(line.startswith("line ") for line in loose_lines[1:])


@pytest.mark.parametrize("rows", [1, 999, 1000, 1001])
def test_chunk_boundaries_lose_and_double_no_row(rep, tmp_path, rows):
    path = tmp_path / "rows.csv"
    path.write_text("email\n" + "".join(f"l{i}@example.com\n" for i in range(rows)))
    out = io.StringIO()

    call_command("import_leads", str(path), "--owner", "alice", stdout=out)

    assert out.getvalue().splitlines() == [f"created {rows}, updated 0, skipped 0"]
    assert Lead.objects.count() == rows
