"""Cadence files: every error names its field, applying keeps step ids, export round-trips."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings

from cadences.cadence_format import (
    CadenceFormatError,
    CadenceSpec,
    StepSpec,
    cadence_apply,
    cadence_export,
    dumps_cadence,
    load_cadence_file,
    parse_cadence,
)
from cadences.models import Cadence, Step, StepVariant, Task
from tests.factories import CadenceFactory, EnrolmentFactory, TaskFactory

NOW = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)
EXAMPLES = Path(settings.BASE_DIR) / "cadences" / "fixtures" / "cadences"
# Nurture first: the other two hand their leads over to it by name.
EXAMPLE_FILES = ("long-term-nurture.json", "inbound-demo-request.json", "outbound-8-touch.json")


def valid_document() -> dict:
    return {
        "name": "Trade show follow-up",
        "steps": [
            {"channel": "call", "wait_days": 0, "title": "Call while the show is fresh"},
            {
                "channel": "email",
                "mode": "auto",
                "wait_days": 1,
                "subject": "Good to meet you, {{ lead.first_name }}",
                "body": "Hi {{ lead.first_name }},\n\n{{ rep.first_name }}",
            },
            {
                "channel": "email",
                "wait_days": 2,
                "asset_stage": "consideration",
                "subject": "{{ asset.title }}",
                "body": "{{ asset.url }}",
                "variants": [{"label": "B", "subject": "Read this", "body": "{{ asset.url }}"}],
            },
        ],
    }


def edited(change: Callable[[dict], object]) -> dict:
    document = valid_document()
    change(document)
    return document


def step(i: int, **fields: object) -> Callable[[dict], object]:
    return lambda d: d["steps"][i].update(fields)


def without(key: str, i: int | None = None) -> Callable[[dict], object]:
    return lambda d: (d if i is None else d["steps"][i]).pop(key)


INVALID = [
    # the document and its top-level fields
    ([], "a cadence must be a JSON object, got a list"),
    (edited(without("name")), "name: missing; every cadence needs a name"),
    (edited(lambda d: d.update(name="  ")), "name: must not be empty"),
    (edited(lambda d: d.update(name=7)), "name: expected text, got 7"),
    (edited(lambda d: d.update(name="x" * 201)), "name: is 201 characters long; at most 200"),
    (edited(lambda d: d.update(descripton="")), "descripton: unknown field (did you mean"),
    (edited(without("steps")), "steps: missing; a cadence needs at least one step"),
    (edited(lambda d: d.update(steps=[])), "steps: needs at least one step"),
    (edited(lambda d: d.update(steps={})), "steps: expected a list, got an object"),
    (edited(lambda d: d.update(description=None)), "description: expected text, got null"),
    (
        edited(lambda d: d.update(business_days_only="yes")),
        "business_days_only: expected true or false, got 'yes'",
    ),
    (edited(lambda d: d.update(min_gap_hours=-1)), "min_gap_hours: expected a whole number"),
    (edited(lambda d: d.update(min_gap_hours=2.5)), "min_gap_hours: expected a whole number"),
    (edited(lambda d: d.update(min_gap_hours=True)), "min_gap_hours: expected a whole number"),
    (edited(lambda d: d.update(holiday_country="XX")), "holiday_country: 'XX' is not a country"),
    (edited(lambda d: d.update(holiday_country="us")), "holiday_country: 'us' is not a country"),
    (edited(lambda d: d.update(holiday_country="USA")), "holiday_country: 'USA' is not a"),
    (edited(lambda d: d.update(exit_on="replied")), "exit_on: expected a list, got 'replied'"),
    (edited(lambda d: d.update(exit_on=["replied", "maybe"])), "exit_on[1]: 'maybe' is not one of"),
    (edited(lambda d: d.update(exit_on=["won", "won"])), "exit_on[1]: 'won' is listed twice"),
    (edited(lambda d: d.update(pause_account_on_reply=1)), "pause_account_on_reply: expected"),
    (edited(lambda d: d.update(on_complete="nurture")), "on_complete: expected an object"),
    (edited(lambda d: d.update(on_complete={"next": "x"})), "on_complete.next: unknown field"),
    (
        edited(lambda d: d.update(on_complete={"status": "gone"})),
        "on_complete.status: 'gone' is not one of new, working, nurturing, meeting, won, lost, "
        "unresponsive",
    ),
    (edited(lambda d: d.update(on_complete={"enroll": ""})), "on_complete.enroll: must not be"),
    (edited(lambda d: d.update(on_complete={"enroll": 3})), "on_complete.enroll: expected text"),
    # steps: shape and fields
    (edited(lambda d: d.update(steps=["call"])), "steps[0]: expected an object, got 'call'"),
    (edited(step(1, wait_day=2)), "steps[1].wait_day: unknown field (did you mean 'wait_days'?)"),
    (edited(without("channel", 0)), "steps[0].channel: missing; one of call, email"),
    (
        edited(step(2, channel="fax")),
        "steps[2].channel: 'fax' is not one of call, email, mail, sms, social, task",
    ),
    (edited(step(0, channel="meeting")), "steps[0].channel: 'meeting' is not one of"),
    (edited(step(0, mode="robot")), "steps[0].mode: 'robot' is not one of manual, auto"),
    (edited(step(0, mode="auto")), "steps[0].mode: 'auto' is only for email steps"),
    (edited(step(0, wait_days="2")), "steps[0].wait_days: expected a whole number from 0 to"),
    (edited(step(0, wait_days=-1)), "steps[0].wait_days: expected a whole number"),
    (edited(step(0, wait_days=10**9)), "steps[0].wait_days: expected a whole number"),
    (edited(step(0, wait_hours=False)), "steps[0].wait_hours: expected a whole number"),
    (edited(step(0, window="09:00-17:00")), "steps[0].window: expected a list"),
    (edited(step(0, window=["09:00"])), 'steps[0].window: expected ["HH:MM", "HH:MM"]'),
    (edited(step(0, window=["9:00", "17:00"])), "steps[0].window[0]: '9:00' is not a time"),
    (edited(step(0, window=["09:00", "24:00"])), "steps[0].window[1]: '24:00' is not a time"),
    (edited(step(0, window=["09:00", 17])), "steps[0].window[1]: 17 is not a time"),
    (
        edited(step(0, window=["17:00", "09:00"])),
        "steps[0].window: ends at 09:00, not after its start 17:00",
    ),
    (edited(step(0, window=["09:00", "09:00"])), "steps[0].window: ends at 09:00, not after"),
    (edited(step(0, title="Call\nnow")), "steps[0].title: must be a single line"),
    (edited(step(0, title="x" * 201)), "steps[0].title: is 201 characters long; at most 200"),
    (edited(step(0, script=["a"])), "steps[0].script: expected text, got a list"),
    (edited(step(0, questions="Why now?")), "steps[0].questions: expected a list"),
    (edited(step(0, questions=["Why now?", ""])), "steps[0].questions[1]: must not be empty"),
    (edited(step(0, questions=[3])), "steps[0].questions[0]: expected text, got 3"),
    (edited(step(0, asset_stage="purchase")), "steps[0].asset_stage: 'purchase' is not one of"),
    (edited(step(0, breakup="yes")), "steps[0].breakup: expected true or false"),
    # automatic email copy
    (edited(without("subject", 1)), "steps[1].subject: an automatic email needs a subject"),
    (edited(step(1, body="  ")), "steps[1].body: an automatic email needs a subject and a body"),
    (edited(step(1, subject="Hi\nBcc: x@y.z")), "steps[1].subject: must be a single line"),
    (edited(step(1, subject="x" * 301)), "steps[1].subject: is 301 characters long"),
    # copy, rendered by the outbox's sandbox with a sample lead, rep and asset
    (edited(step(1, body="{% if lead %}open")), "steps[1].body: Unclosed tag on line 1: 'if'"),
    (edited(step(1, subject="{{ lead|nope }}")), "steps[1].subject: Invalid filter: 'nope'"),
    (edited(step(1, body="{% load humanize %}")), "steps[1].body: Invalid block tag on line 1"),
    (edited(step(1, body='{% include "x.txt" %}')), "steps[1].body: Invalid block tag on line"),
    (edited(step(1, body="Hi {{ first_name }}")), "steps[1].body: unknown variable 'first_name'"),
    (
        edited(step(1, body="Hi {{ lead.frist_name }}")),
        "steps[1].body: unknown variable 'lead.frist_name'",
    ),
    (
        edited(step(1, body="{{ lead.email|default:repp }}")),
        "steps[1].body: unknown variable 'repp'",
    ),
    (edited(step(1, body="{{ lead.name|divisibleby:2 }}")), "steps[1].body: does not render"),
    (edited(step(0, body="Left a voicemail for {{ lead.nmae }}")), "steps[0].body: unknown"),
    # A/B variants
    (edited(step(0, variants=[{"label": "B"}])), "steps[0].variants: A/B variants are for email"),
    (edited(step(2, variants={"B": "x"})), "steps[2].variants: expected a list"),
    (edited(step(2, variants=["B"])), "steps[2].variants[0]: expected an object"),
    (edited(step(2, variants=[{"subject": "s", "body": "b"}])), "steps[2].variants[0].label: mi"),
    (
        edited(step(2, variants=[{"label": "A", "subject": "s", "body": "b"}])),
        "steps[2].variants[0].label: 'A' is the step's own subject and body",
    ),
    (
        edited(step(2, variants=[{"label": "B", "subject": "s", "body": "b"}] * 2)),
        "steps[2].variants[1].label: 'B' is used twice",
    ),
    (edited(step(2, variants=[{"label": "B", "subject": "s"}])), "steps[2].variants[0].body: m"),
    (
        edited(step(2, variants=[{"label": "B", "subject": "", "body": "b"}])),
        "steps[2].variants[0].subject: must not be empty",
    ),
    (
        edited(step(2, variants=[{"label": "B", "subject": "s", "body": "{{ x }}"}])),
        "steps[2].variants[0].body: unknown variable 'x'",
    ),
    (
        edited(step(2, variants=[{"label": "B", "subject": "s", "body": "b", "note": ""}])),
        "steps[2].variants[0].note: unknown field",
    ),
]


@pytest.mark.parametrize(("document", "expected"), INVALID, ids=[e for _, e in INVALID])
def test_each_invalid_cadence_is_refused_with_an_error_naming_its_field(document, expected):
    with pytest.raises(CadenceFormatError) as raised:
        parse_cadence(copy.deepcopy(document))
    assert str(raised.value).startswith(expected)
    assert "\n" not in str(raised.value)


def test_the_contract_example_error_reads_exactly_as_documented():
    with pytest.raises(CadenceFormatError) as raised:
        parse_cadence(edited(step(2, channel="fax")))
    assert raised.value.path == "steps[2].channel"
    assert str(raised.value) == (
        "steps[2].channel: 'fax' is not one of call, email, mail, sms, social, task"
    )


def test_a_minimal_cadence_gets_the_documented_defaults():
    spec = parse_cadence({"name": "Minimal", "steps": [{"channel": "call"}]})
    assert spec == CadenceSpec(name="Minimal", steps=(StepSpec(channel="call"),))
    assert spec.business_days_only is True
    assert spec.min_gap_hours == 20
    assert spec.exit_on == ("replied", "meeting_booked", "won", "lost", "unsubscribed", "bounced")
    assert spec.holiday_country is None
    assert spec.on_complete_status is None and spec.on_complete_enroll is None
    only = spec.steps[0]
    assert (only.mode, only.wait_days, only.wait_hours) == ("manual", 0, 0)
    assert [f"{t:%H:%M}" for t in only.window] == ["09:00", "17:00"]


def test_copy_may_use_loops_filters_conditions_and_every_name_the_outbox_provides():
    body = (
        "{% if lead.first_name %}Hi {{ lead.first_name|title }}{% else %}Hello{% endif %},\n"
        "{% for word in lead.name.split %}{{ word }} {{ forloop.counter }}{% endfor %}\n"
        "{% with name=rep.name %}{{ name|default:rep.email }}{% endwith %}\n"
        '{{ lead.company|default:"your team" }} {% now "Y" as year %}{{ year }}\n'
        "{{ asset.title }} {{ rep.booking_url }}"
    )
    spec = parse_cadence(edited(step(1, body=body)))
    assert spec.steps[1].body == body


def test_holiday_country_accepts_a_code_the_holidays_package_knows_and_null():
    assert parse_cadence(edited(lambda d: d.update(holiday_country="DE"))).holiday_country == "DE"
    assert parse_cadence(edited(lambda d: d.update(holiday_country=None))).holiday_country is None


# --- files ---------------------------------------------------------------------------


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(CadenceFormatError, match=r"nope\.json: no such file"):
        load_cadence_file(tmp_path / "nope.json")


def test_invalid_json_is_reported_with_its_line_and_column(tmp_path):
    file = tmp_path / "broken.json"
    file.write_text('{\n  "name": "x",\n  "steps": [,]\n}\n', encoding="utf-8")
    with pytest.raises(CadenceFormatError) as raised:
        load_cadence_file(file)
    assert "broken.json: not valid JSON: Expecting value at line 3, column 13" in str(raised.value)


def test_a_file_holding_a_list_is_not_a_cadence(tmp_path):
    file = tmp_path / "list.json"
    file.write_text("[]", encoding="utf-8")
    with pytest.raises(CadenceFormatError, match="a cadence must be a JSON object, got a list"):
        load_cadence_file(file)


def test_a_key_given_twice_is_an_error_not_a_silent_overwrite(tmp_path):
    file = tmp_path / "twice.json"
    file.write_text('{"name": "x", "steps": [{"channel": "call", "channel": "sms"}]}')
    with pytest.raises(CadenceFormatError, match="the key 'channel' appears twice"):
        load_cadence_file(file)


def test_a_file_saved_with_a_byte_order_mark_is_read(tmp_path):
    file = tmp_path / "bom.json"
    file.write_bytes(b"\xef\xbb\xbf" + json.dumps(valid_document()).encode())
    assert load_cadence_file(file).name == "Trade show follow-up"


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    file = tmp_path / "latin1.json"
    file.write_bytes('{"name": "Café"}'.encode("latin-1"))
    with pytest.raises(CadenceFormatError, match=r"latin1\.json: not UTF-8 text"):
        load_cadence_file(file)


# --- applying ------------------------------------------------------------------------


def counts() -> tuple[int, int, int]:
    return Cadence.objects.count(), Step.objects.count(), StepVariant.objects.count()


def apply(document: dict, **options: object) -> tuple[Cadence, bool]:
    return cadence_apply(spec=parse_cadence(document), now=NOW, **options)


def live_steps(cadence: Cadence) -> list[Step]:
    return list(cadence.steps.filter(removed_at__isnull=True).order_by("position"))


def test_a_new_cadence_is_created_inactive_with_its_steps_in_order(db):
    cadence, created = apply(valid_document())
    assert created is True
    assert cadence.is_active is False
    assert cadence.created_at == NOW
    steps = live_steps(cadence)
    assert [(s.position, s.channel, s.mode) for s in steps] == [
        (1, "call", "manual"),
        (2, "email", "auto"),
        (3, "email", "manual"),
    ]
    assert steps[2].asset_stage == "consideration"
    assert [(v.label, v.subject) for v in steps[2].variants.all()] == [("B", "Read this")]


def test_activate_turns_a_cadence_on_and_without_it_an_existing_flag_is_kept(db):
    cadence, _ = apply(valid_document(), activate=True)
    assert cadence.is_active is True
    cadence, created = apply(valid_document())
    assert created is False
    cadence.refresh_from_db()
    assert cadence.is_active is True


def test_updating_a_cadence_keeps_its_step_ids_and_changes_them_in_place(db):
    cadence, _ = apply(valid_document())
    ids = [s.id for s in live_steps(cadence)]
    document = edited(step(0, channel="sms", wait_days=3, body="Hi {{ lead.first_name }}"))
    again, created = apply(document)
    assert created is False and again.id == cadence.id
    steps = live_steps(cadence)
    assert [s.id for s in steps] == ids
    assert (steps[0].channel, steps[0].wait_days) == ("sms", 3)


def test_shrinking_a_cadence_marks_the_dropped_steps_removed_and_never_deletes_them(db):
    cadence, _ = apply(valid_document())
    third = live_steps(cadence)[2]
    document = valid_document()
    del document["steps"][1:]
    apply(document)
    third.refresh_from_db()
    assert third.removed_at == NOW
    assert [s.position for s in live_steps(cadence)] == [1]
    assert cadence.steps.count() == 3


def test_a_removed_position_that_comes_back_is_the_same_step_again(db):
    cadence, _ = apply(valid_document())
    third = live_steps(cadence)[2]
    shorter = valid_document()
    del shorter["steps"][2]
    apply(shorter)
    cadence_apply(spec=parse_cadence(valid_document()), now=NOW + timedelta(days=1))
    third.refresh_from_db()
    assert third.removed_at is None
    assert [s.id for s in live_steps(cadence)][2] == third.id


def test_a_pending_task_of_a_removed_step_is_skipped_with_the_reason_step_removed(db):
    cadence, _ = apply(valid_document(), activate=True)
    enrolment = EnrolmentFactory(cadence=cadence, started_at=NOW - timedelta(days=1))
    third = live_steps(cadence)[2]
    task = TaskFactory(
        lead=enrolment.lead,
        enrolment=enrolment,
        step=third,
        channel="email",
        due_at=NOW + timedelta(days=2),
    )
    shorter = valid_document()
    del shorter["steps"][2]
    apply(shorter)
    task.refresh_from_db()
    assert (task.status, task.status_reason) == (Task.Status.SKIPPED, "step removed")


def test_variants_are_replaced_but_a_label_that_stays_keeps_its_row(db):
    cadence, _ = apply(valid_document())
    kept = StepVariant.objects.get(label="B")
    variants = [
        {"label": "B", "subject": "New subject", "body": "{{ asset.url }}"},
        {"label": "C", "subject": "Third try", "body": "{{ asset.title }}"},
    ]
    apply(edited(step(2, variants=variants)))
    rows = list(live_steps(cadence)[2].variants.all())
    assert [(v.label, v.subject) for v in rows] == [("B", "New subject"), ("C", "Third try")]
    assert rows[0].id == kept.id
    apply(edited(step(2, variants=[])))
    assert StepVariant.objects.count() == 0


def test_on_complete_hands_over_to_an_existing_cadence_by_name(db):
    nurture = CadenceFactory(name="Long-term nurture")
    document = edited(
        lambda d: d.update(on_complete={"status": "unresponsive", "enroll": "Long-term nurture"})
    )
    cadence, _ = apply(document)
    assert cadence.on_complete_status == "unresponsive"
    assert cadence.on_complete_cadence == nurture


def test_on_complete_may_enrol_into_the_same_cadence_again(db):
    document = edited(lambda d: d.update(on_complete={"enroll": d["name"]}))
    cadence, _ = apply(document)
    assert cadence.on_complete_cadence_id == cadence.id


def test_on_complete_into_an_unknown_cadence_changes_nothing_and_names_the_field(db):
    cadence, _ = apply(valid_document())
    before, exported = counts(), dumps_cadence(cadence)
    document = edited(lambda d: d.update(on_complete={"enroll": "Nowhere"}, steps=d["steps"][:1]))
    with pytest.raises(CadenceFormatError) as raised:
        apply(document)
    assert str(raised.value) == (
        "on_complete.enroll: no cadence named 'Nowhere'; import that cadence first"
    )
    assert counts() == before
    assert dumps_cadence(Cadence.objects.get(id=cadence.id)) == exported
    assert not Cadence.objects.filter(name="Nowhere").exists()


# --- export --------------------------------------------------------------------------


def test_export_spells_out_every_default_and_leaves_removed_steps_out(db):
    cadence, _ = apply(valid_document())
    shorter = valid_document()
    del shorter["steps"][2]
    apply(shorter)
    exported = cadence_export(cadence)
    assert exported["holiday_country"] is None and exported["on_complete"] is None
    assert len(exported["steps"]) == 2
    assert exported["steps"][0] == {
        "channel": "call",
        "mode": "manual",
        "wait_days": 0,
        "wait_hours": 0,
        "window": ["09:00", "17:00"],
        "title": "Call while the show is fresh",
        "script": "",
        "questions": [],
        "subject": "",
        "body": "",
        "asset_stage": None,
        "breakup": False,
        "variants": [],
    }


def test_the_example_files_are_exactly_what_export_prints_after_importing_them(db):
    assert sorted(p.name for p in EXAMPLES.glob("*.json")) == sorted(EXAMPLE_FILES)
    for name in EXAMPLE_FILES:
        cadence, created = cadence_apply(spec=load_cadence_file(EXAMPLES / name), now=NOW)
        assert created
        assert dumps_cadence(cadence) == (EXAMPLES / name).read_text(encoding="utf-8")


def test_export_then_import_then_export_is_byte_identical(db):
    for name in EXAMPLE_FILES:
        cadence_apply(spec=load_cadence_file(EXAMPLES / name), now=NOW)
    for cadence in Cadence.objects.all():
        first = dumps_cadence(cadence)
        cadence_apply(spec=parse_cadence(json.loads(first)), now=NOW + timedelta(hours=1))
        assert dumps_cadence(Cadence.objects.get(id=cadence.id)) == first


# --- the example cadences say what the sales research says ---------------------------


def example(name: str) -> CadenceSpec:
    return load_cadence_file(EXAMPLES / name)


def test_inbound_demo_request_calls_at_once_and_ends_with_the_breakup_email():
    spec = example("inbound-demo-request.json")
    first, last = spec.steps[0], spec.steps[-1]
    assert (first.channel, first.wait_days, first.wait_hours) == ("call", 0, 0)
    assert first.questions, "a speed-to-lead call needs smart questions"
    assert (last.channel, last.mode, last.breakup) == ("email", "auto", True)
    assert {s.mode for s in spec.steps if s.channel == "email"} == {"auto", "manual"}
    assert 6 <= len(spec.steps) <= 7
    assert 8 <= sum(s.wait_days for s in spec.steps) <= 12  # about two weeks of business days
    assert (spec.on_complete_status, spec.on_complete_enroll) == (
        "unresponsive",
        "Long-term nurture",
    )


def test_outbound_has_eight_touches_over_a_month_mixing_phone_email_mail_and_social():
    spec = example("outbound-8-touch.json")
    assert len(spec.steps) == 8
    assert {s.channel for s in spec.steps} == {"call", "email", "mail", "social"}
    assert 19 <= sum(s.wait_days for s in spec.steps) <= 23  # about 30 calendar days
    assert spec.steps[-1].breakup
    assert spec.on_complete_enroll == "Long-term nurture"


def test_long_term_nurture_sends_monthly_value_emails_for_about_six_months():
    spec = example("long-term-nurture.json")
    assert all(s.channel == "email" and s.mode == "auto" for s in spec.steps)
    assert all(s.asset_stage for s in spec.steps), "every nurture email carries an asset"
    assert not any(s.breakup for s in spec.steps)
    assert 100 <= sum(s.wait_days for s in spec.steps) <= 130  # five to six months


def test_no_example_email_says_just_following_up():
    for name in EXAMPLE_FILES:
        for spec_step in example(name).steps:
            assert "just following up" not in (spec_step.subject + spec_step.body).lower()
