"""`import_cadence` and `export_cadence`: thin commands, exit codes, one-line reasons."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from cadences.models import Cadence, Step, StepVariant
from followup.clock import parse_now

EXAMPLES = Path(settings.BASE_DIR) / "cadences" / "fixtures" / "cadences"
NURTURE = EXAMPLES / "long-term-nurture.json"
INBOUND = EXAMPLES / "inbound-demo-request.json"


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def write(tmp_path: Path, document: object, name: str = "cadence.json") -> Path:
    file = tmp_path / name
    file.write_text(json.dumps(document), encoding="utf-8")
    return file


def counts() -> tuple[int, int, int]:
    return Cadence.objects.count(), Step.objects.count(), StepVariant.objects.count()


def test_import_prints_the_name_step_count_and_created_then_updated(db):
    assert run("import_cadence", str(NURTURE)) == "Long-term nurture: 6 steps (created)\n"
    assert run("import_cadence", str(NURTURE)) == "Long-term nurture: 6 steps (updated)\n"
    assert Cadence.objects.get(name="Long-term nurture").is_active is False


def test_import_with_activate_makes_the_cadence_active(db):
    run("import_cadence", str(NURTURE), "--activate")
    assert Cadence.objects.get(name="Long-term nurture").is_active is True


def test_import_stamps_a_new_cadence_and_removed_steps_with_now(db, tmp_path):
    run("import_cadence", str(NURTURE), "--now", "2027-03-02T09:00:00Z")
    cadence = Cadence.objects.get(name="Long-term nurture")
    assert cadence.created_at == datetime(2027, 3, 2, 9, 0, tzinfo=UTC)
    shorter = json.loads(NURTURE.read_text(encoding="utf-8"))
    del shorter["steps"][4:]
    out = run("import_cadence", str(write(tmp_path, shorter)), "--now", "2027-03-05T10:00:00+01:00")
    assert out == "Long-term nurture: 4 steps (updated)\n"
    removed = cadence.steps.filter(removed_at__isnull=False)
    assert {s.removed_at for s in removed} == {datetime(2027, 3, 5, 9, 0, tzinfo=UTC)}


def test_an_invalid_file_exits_with_the_field_and_changes_nothing(db, tmp_path):
    run("import_cadence", str(NURTURE))
    before, exported = counts(), run("export_cadence", "Long-term nurture")
    broken = json.loads(NURTURE.read_text(encoding="utf-8"))
    broken["steps"].pop()
    broken["steps"][2]["channel"] = "fax"
    with pytest.raises(CommandError) as raised:
        run("import_cadence", str(write(tmp_path, broken)), "--activate")
    assert str(raised.value) == (
        "steps[2].channel: 'fax' is not one of call, email, mail, sms, social, task"
    )
    assert counts() == before
    assert run("export_cadence", "Long-term nurture") == exported
    assert Cadence.objects.get(name="Long-term nurture").is_active is False


def test_a_file_whose_hand_over_cadence_is_missing_changes_nothing(db):
    with pytest.raises(CommandError, match=r"^on_complete\.enroll: no cadence named"):
        run("import_cadence", str(INBOUND))
    assert counts() == (0, 0, 0)


def test_import_of_a_missing_file_names_it(db, tmp_path):
    with pytest.raises(CommandError, match=r"missing\.json: no such file"):
        run("import_cadence", str(tmp_path / "missing.json"))


@pytest.mark.parametrize("value", ["2027-03-02T09:00:00", "tomorrow", "", "2027-13-02T09:00Z"])
def test_now_without_an_offset_or_malformed_is_refused_in_one_line(db, value):
    with pytest.raises(CommandError) as raised:
        run("import_cadence", str(NURTURE), "--now", value)
    assert str(raised.value) == (
        f"--now: {value!r} is not an ISO 8601 time with an offset, e.g. 2027-03-02T09:00:00Z"
    )
    assert counts() == (0, 0, 0)


def test_parse_now_reads_an_offset_and_returns_utc():
    assert parse_now("2027-03-02T10:30:00+01:00") == datetime(2027, 3, 2, 9, 30, tzinfo=UTC)
    assert parse_now("2027-03-02T09:00:00Z").tzinfo == UTC


def test_parse_now_without_a_value_is_the_clock():
    assert parse_now(None).utcoffset() is not None


def test_export_prints_exactly_the_example_file_it_was_imported_from(db):
    run("import_cadence", str(NURTURE))
    run("import_cadence", str(INBOUND))
    assert run("export_cadence", "Inbound demo request") == INBOUND.read_text(encoding="utf-8")


def test_export_of_an_unknown_cadence_is_an_error(db):
    with pytest.raises(CommandError, match="no cadence named 'Nope'"):
        run("export_cadence", "Nope")


def test_manage_py_exits_non_zero_with_a_one_line_reason_on_stderr(tmp_path):
    broken = json.loads(NURTURE.read_text(encoding="utf-8"))
    broken["steps"][2]["channel"] = "fax"
    env = {
        **os.environ,
        "SECRET_KEY": "test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        # Never the developer's database: the file is refused before any query anyway.
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "import_cadence", str(write(tmp_path, broken))],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "CommandError: steps[2].channel: 'fax' is not one of call, email, mail, sms, social, task"
    ]
