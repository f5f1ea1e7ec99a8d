"""Cadence files: the JSON format of CONTRACT.md section 3, read, applied and written back.

Everything in a file is checked before anything is written, and each error names the
field it is about (`steps[2].channel: 'fax' is not one of call, email, …`), so a manager
fixing a file knows where to look. `steps[i]` counts from 0, as JSON paths do.
Applying a file keeps step ids by position, so enrolments in flight keep their place.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path

import holidays
from django.db import transaction
from django.template.base import VariableDoesNotExist

from cadences.copy import check_renders
from cadences.models import EXIT_KINDS, Cadence, Step, StepVariant, default_exit_on
from cadences.services import cadence_retime_pending
from leads.models import BuyingStage, Channel, LeadStatus

CHANNELS = tuple(c for c in Channel.values if c != Channel.MEETING)
MODES = tuple(Step.Mode.values)
ASSET_STAGES = tuple(BuyingStage.values)
LEAD_STATUSES = tuple(LeadStatus.values)

CADENCE_KEYS = (
    "name",
    "description",
    "business_days_only",
    "holiday_country",
    "min_gap_hours",
    "exit_on",
    "pause_account_on_reply",
    "on_complete",
    "steps",
)
ON_COMPLETE_KEYS = ("status", "enroll")
STEP_KEYS = (
    "channel",
    "mode",
    "wait_days",
    "wait_hours",
    "window",
    "title",
    "script",
    "questions",
    "subject",
    "body",
    "asset_stage",
    "breakup",
    "variants",
)
VARIANT_KEYS = ("label", "subject", "body")
BASE_VARIANT_LABEL = "A"  # the step's own subject and body (see services._variant_for)

DEFAULT_WINDOW = (time(9, 0), time(17, 0))
# Upper bounds only keep date arithmetic in the tick from overflowing: ten years.
MAX_WAIT_DAYS = 3650
MAX_HOURS = 3650 * 24
NAME_LENGTH = 200
TITLE_LENGTH = 200
SUBJECT_LENGTH = 300
LABEL_LENGTH = 20
_HH_MM = re.compile(r"^\d{2}:\d{2}$")


class CadenceFormatError(ValueError):
    """A cadence file that cannot be applied, and the field that is wrong."""

    def __init__(self, path: str, message: str) -> None:
        # One line: commands print this as their whole reason on stderr.
        self.path = path
        self.message = " ".join(message.split())
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass(frozen=True)
class VariantSpec:
    label: str
    subject: str
    body: str


@dataclass(frozen=True)
class StepSpec:
    channel: str
    mode: str = Step.Mode.MANUAL
    wait_days: int = 0
    wait_hours: int = 0
    window: tuple[time, time] = DEFAULT_WINDOW
    title: str = ""
    script: str = ""
    questions: tuple[str, ...] = ()
    subject: str = ""
    body: str = ""
    asset_stage: str | None = None
    breakup: bool = False
    variants: tuple[VariantSpec, ...] = ()


@dataclass(frozen=True)
class CadenceSpec:
    name: str
    steps: tuple[StepSpec, ...]
    description: str = ""
    business_days_only: bool = True
    holiday_country: str | None = None
    min_gap_hours: int = 20
    exit_on: tuple[str, ...] = tuple(default_exit_on())
    pause_account_on_reply: bool = True
    on_complete_status: str | None = None
    on_complete_enroll: str | None = None


# --- reading values -----------------------------------------------------------------


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return repr(value)


def _object(value: object, path: str, known: tuple[str, ...]) -> Mapping[str, object]:
    if not isinstance(value, dict):
        what = "a cadence must be a JSON object" if not path else "expected an object"
        raise CadenceFormatError(path, f"{what}, got {_describe(value)}")
    for key in value:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
            raise CadenceFormatError(_at(path, str(key)), f"unknown field ({hint})")
    return value


def _required(fields: Mapping[str, object], path: str, key: str, why: str) -> object:
    if key not in fields:
        raise CadenceFormatError(_at(path, key), f"missing; {why}")
    return fields[key]


def _text(
    value: object, path: str, *, max_length: int | None = None, required: bool = False
) -> str:
    if not isinstance(value, str):
        raise CadenceFormatError(path, f"expected text, got {_describe(value)}")
    if required and not value.strip():
        raise CadenceFormatError(path, "must not be empty")
    if max_length is not None and len(value) > max_length:
        raise CadenceFormatError(path, f"is {len(value)} characters long; at most {max_length}")
    return value


def _one_line(value: object, path: str, *, max_length: int, required: bool = False) -> str:
    text = _text(value, path, max_length=max_length, required=required)
    # A line break in a subject is a header injection; Django refuses it at send time.
    if "\n" in text or "\r" in text:
        raise CadenceFormatError(path, "must be a single line")
    return text


def _integer(value: object, path: str, *, maximum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= maximum:
        raise CadenceFormatError(
            path, f"expected a whole number from 0 to {maximum}, got {_describe(value)}"
        )
    return value


def _boolean(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise CadenceFormatError(path, f"expected true or false, got {_describe(value)}")
    return value


def _choice(value: object, path: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise CadenceFormatError(path, f"{_describe(value)} is not one of {', '.join(choices)}")
    return value


def _list(value: object, path: str) -> list[object]:
    if not isinstance(value, list):
        raise CadenceFormatError(path, f"expected a list, got {_describe(value)}")
    return value


def _time_of_day(value: object, path: str) -> time:
    if isinstance(value, str) and _HH_MM.match(value):
        try:
            return time(int(value[:2]), int(value[3:]))
        except ValueError:
            pass
    raise CadenceFormatError(path, f'{_describe(value)} is not a time of day as "HH:MM"')


def _window(value: object, path: str) -> tuple[time, time]:
    bounds = _list(value, path)
    if len(bounds) != 2:
        raise CadenceFormatError(path, 'expected ["HH:MM", "HH:MM"]: a start and an end')
    start, end = (_time_of_day(b, f"{path}[{i}]") for i, b in enumerate(bounds))
    if end <= start:
        raise CadenceFormatError(path, f"ends at {bounds[1]}, not after its start {bounds[0]}")
    return start, end


# --- the cadence ----------------------------------------------------------------------


def parse_cadence(document: object) -> CadenceSpec:
    """Check a decoded cadence file completely; the spec it describes, or the first error."""
    fields = _object(document, "", CADENCE_KEYS)
    name = _required(fields, "", "name", "every cadence needs a name")
    step_list = _required(fields, "", "steps", "a cadence needs at least one step")
    if not _list(step_list, "steps"):
        raise CadenceFormatError("steps", "needs at least one step")
    status, enroll = _on_complete(fields.get("on_complete"))
    return CadenceSpec(
        name=_one_line(name, "name", max_length=NAME_LENGTH, required=True),
        steps=tuple(_step(value, f"steps[{i}]") for i, value in enumerate(step_list)),
        description=_text(fields.get("description", ""), "description"),
        business_days_only=_boolean(fields.get("business_days_only", True), "business_days_only"),
        holiday_country=_holiday_country(fields.get("holiday_country")),
        min_gap_hours=_integer(fields.get("min_gap_hours", 20), "min_gap_hours", maximum=MAX_HOURS),
        exit_on=_exit_on(fields.get("exit_on", default_exit_on())),
        pause_account_on_reply=_boolean(
            fields.get("pause_account_on_reply", True), "pause_account_on_reply"
        ),
        on_complete_status=status,
        on_complete_enroll=enroll,
    )


def _holiday_country(value: object) -> str | None:
    if value is None:
        return None
    code = _text(value, "holiday_country")
    # Two letters only: the model stores ISO 3166-1 alpha-2 codes.
    if len(code) == 2 and code in holidays.list_supported_countries():
        return code
    hint = f"did you mean {code.upper()!r}? " if code.upper() != code else ""
    raise CadenceFormatError(
        "holiday_country",
        f"{code!r} is not a country the holidays package knows ({hint}"
        "two-letter ISO code, e.g. US, DE, GB; null for none)",
    )


def _exit_on(value: object) -> tuple[str, ...]:
    kinds: list[str] = []
    for i, item in enumerate(_list(value, "exit_on")):
        kind = _choice(item, f"exit_on[{i}]", EXIT_KINDS)
        if kind in kinds:
            raise CadenceFormatError(f"exit_on[{i}]", f"{kind!r} is listed twice")
        kinds.append(kind)
    return tuple(kinds)


def _on_complete(value: object) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    fields = _object(value, "on_complete", ON_COMPLETE_KEYS)
    status = fields.get("status")
    enroll = fields.get("enroll")
    if status is not None:
        status = _choice(status, "on_complete.status", LEAD_STATUSES)
    if enroll is not None:
        enroll = _one_line(enroll, "on_complete.enroll", max_length=NAME_LENGTH, required=True)
    return status, enroll


# --- steps ------------------------------------------------------------------------------


def _step(value: object, path: str) -> StepSpec:
    fields = _object(value, path, STEP_KEYS)
    channel = _required(fields, path, "channel", f"one of {', '.join(CHANNELS)}")
    channel = _choice(channel, f"{path}.channel", CHANNELS)
    mode = _choice(fields.get("mode", Step.Mode.MANUAL), f"{path}.mode", MODES)
    if mode == Step.Mode.AUTO and channel != Channel.EMAIL:
        raise CadenceFormatError(f"{path}.mode", "'auto' is only for email steps")
    asset_stage = fields.get("asset_stage")
    if asset_stage is not None:
        asset_stage = _choice(asset_stage, f"{path}.asset_stage", ASSET_STAGES)
    step = StepSpec(
        channel=channel,
        mode=mode,
        wait_days=_integer(fields.get("wait_days", 0), f"{path}.wait_days", maximum=MAX_WAIT_DAYS),
        wait_hours=_integer(fields.get("wait_hours", 0), f"{path}.wait_hours", maximum=MAX_HOURS),
        window=_window(fields.get("window", ["09:00", "17:00"]), f"{path}.window"),
        title=_one_line(fields.get("title", ""), f"{path}.title", max_length=TITLE_LENGTH),
        script=_text(fields.get("script", ""), f"{path}.script"),
        questions=_questions(fields.get("questions", []), f"{path}.questions"),
        subject=_one_line(fields.get("subject", ""), f"{path}.subject", max_length=SUBJECT_LENGTH),
        body=_text(fields.get("body", ""), f"{path}.body"),
        asset_stage=asset_stage,
        breakup=_boolean(fields.get("breakup", False), f"{path}.breakup"),
        variants=_variants(fields.get("variants", []), f"{path}.variants", channel=channel),
    )
    _check_copy(step, path)
    return step


def _questions(value: object, path: str) -> tuple[str, ...]:
    return tuple(_text(q, f"{path}[{i}]", required=True) for i, q in enumerate(_list(value, path)))


def _variants(value: object, path: str, *, channel: str) -> tuple[VariantSpec, ...]:
    items = _list(value, path)
    if items and channel != Channel.EMAIL:
        raise CadenceFormatError(path, "A/B variants are for email steps only")
    variants: list[VariantSpec] = []
    for i, item in enumerate(items):
        variant = _variant(item, f"{path}[{i}]")
        if any(v.label == variant.label for v in variants):
            raise CadenceFormatError(f"{path}[{i}].label", f"{variant.label!r} is used twice")
        variants.append(variant)
    return tuple(variants)


def _variant(value: object, path: str) -> VariantSpec:
    fields = _object(value, path, VARIANT_KEYS)
    label = _one_line(
        _required(fields, path, "label", "a short name such as 'B'"),
        f"{path}.label",
        max_length=LABEL_LENGTH,
        required=True,
    )
    if label == BASE_VARIANT_LABEL:
        raise CadenceFormatError(
            f"{path}.label", f"{label!r} is the step's own subject and body; use B, C, …"
        )
    subject = _required(fields, path, "subject", "a variant replaces the subject and body")
    body = _required(fields, path, "body", "a variant replaces the subject and body")
    return VariantSpec(
        label=label,
        subject=_one_line(subject, f"{path}.subject", max_length=SUBJECT_LENGTH, required=True),
        body=_text(body, f"{path}.body", required=True),
    )


def _check_copy(step: StepSpec, path: str) -> None:
    if step.mode == Step.Mode.AUTO:
        for key in ("subject", "body"):
            if not getattr(step, key).strip():
                raise CadenceFormatError(
                    f"{path}.{key}", "an automatic email needs a subject and a body"
                )
    sources = {f"{path}.subject": step.subject, f"{path}.body": step.body}
    for i, variant in enumerate(step.variants):
        sources[f"{path}.variants[{i}].subject"] = variant.subject
        sources[f"{path}.variants[{i}].body"] = variant.body
    # The outbox's own sandbox renders it with a sample lead, rep and asset: whatever
    # would fail at send time (a syntax error, a tag or a variable copy cannot use)
    # fails here, weeks earlier, naming the field.
    for field, source in sources.items():
        problem = _render_problem(source) if source else None
        if problem:
            raise CadenceFormatError(field, problem)


def _render_problem(source: str) -> str | None:
    try:
        return check_renders(source)
    except VariableDoesNotExist as error:
        # An unknown name in a filter argument ({{ x|default:nope }}) escapes check_renders.
        return f"unknown variable {error.params[0]!r}"
    except Exception as error:
        # Filters run on the sample lead may raise anything ({{ lead.name|divisibleby:2 }});
        # that is a fault of the copy, to report with its field, not a crash of the import.
        return f"does not render: {type(error).__name__}: {error}"


# --- files -------------------------------------------------------------------------------


class _DuplicateKeyError(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    # json keeps the last of two equal keys silently; a repeated key is a typo to report.
    seen: dict[str, object] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKeyError(key)
        seen[key] = value
    return seen


def load_cadence_file(path: str | Path) -> CadenceSpec:
    """Read and check a cadence file; CadenceFormatError says what is wrong and where."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CadenceFormatError("", f"{file}: no such file") from None
    except UnicodeDecodeError:
        raise CadenceFormatError("", f"{file}: not UTF-8 text") from None
    except OSError as error:
        raise CadenceFormatError("", f"{file}: cannot be read ({error.strerror})") from None
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as error:
        raise CadenceFormatError(
            "", f"{file}: not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        ) from None
    except _DuplicateKeyError as error:
        raise CadenceFormatError("", f"{file}: the key {error.args[0]!r} appears twice") from None
    return parse_cadence(document)


# --- applying -------------------------------------------------------------------------


def cadence_apply(
    *, spec: CadenceSpec, activate: bool = False, now: datetime
) -> tuple[Cadence, bool]:
    """Create or update the cadence named in `spec`; return it and whether it is new.

    Steps match by position: existing positions are updated in place (tasks and
    enrolments in flight keep pointing at them), positions past the new end are marked
    removed, never deleted. Pending tasks are then re-timed by the engine.
    """
    with transaction.atomic():
        enroll_into = _enroll_target(spec)
        # Locked so two imports of one cadence apply one after the other.
        cadence = Cadence.objects.select_for_update().filter(name=spec.name).first()
        created = cadence is None
        if cadence is None:
            cadence = Cadence(name=spec.name, created_at=now, is_active=activate)
        elif activate:
            cadence.is_active = True
        for field, value in _cadence_values(spec).items():
            setattr(cadence, field, value)
        cadence.on_complete_cadence = enroll_into
        cadence.save()
        if spec.on_complete_enroll == spec.name:
            cadence.on_complete_cadence = cadence  # only now does a new cadence have an id
            cadence.save(update_fields=["on_complete_cadence"])
        _apply_steps(cadence, spec.steps, now=now)
        cadence_retime_pending(cadence=cadence, now=now)
    return cadence, created


def _enroll_target(spec: CadenceSpec) -> Cadence | None:
    name = spec.on_complete_enroll
    if name is None or name == spec.name:
        return None
    target = Cadence.objects.filter(name=name).first()
    if target is None:
        raise CadenceFormatError(
            "on_complete.enroll", f"no cadence named {name!r}; import that cadence first"
        )
    return target


def _cadence_values(spec: CadenceSpec) -> dict[str, object]:
    return {
        "description": spec.description,
        "business_days_only": spec.business_days_only,
        "holiday_country": spec.holiday_country or "",
        "min_gap_hours": spec.min_gap_hours,
        "exit_on": list(spec.exit_on),
        "pause_account_on_reply": spec.pause_account_on_reply,
        "on_complete_status": spec.on_complete_status or "",
    }


def _step_values(spec: StepSpec) -> dict[str, object]:
    return {
        "channel": spec.channel,
        "mode": spec.mode,
        "wait_days": spec.wait_days,
        "wait_hours": spec.wait_hours,
        "window_start": spec.window[0],
        "window_end": spec.window[1],
        "title": spec.title,
        "script": spec.script,
        "questions": list(spec.questions),
        "subject": spec.subject,
        "body": spec.body,
        "asset_stage": spec.asset_stage or "",
        "breakup": spec.breakup,
        "removed_at": None,  # a position that comes back is live again
    }


STEP_FIELDS = tuple(_step_values(StepSpec(channel=Channel.CALL)))


def _apply_steps(cadence: Cadence, specs: tuple[StepSpec, ...], *, now: datetime) -> None:
    # Should two rows share a position (hand edits), the oldest one is the step.
    existing = {s.position: s for s in cadence.steps.order_by("position", "-id")}
    steps: list[Step] = []
    for position, spec in enumerate(specs, start=1):
        step = existing.get(position) or Step(cadence=cadence, position=position)
        for field, value in _step_values(spec).items():
            setattr(step, field, value)
        steps.append(step)
    Step.objects.bulk_update([s for s in steps if s.pk], STEP_FIELDS)
    Step.objects.bulk_create([s for s in steps if not s.pk])
    cadence.steps.filter(position__gt=len(specs), removed_at__isnull=True).update(removed_at=now)
    _apply_variants(list(zip(steps, specs, strict=True)))


def _apply_variants(pairs: list[tuple[Step, StepSpec]]) -> None:
    """Replace each step's variants, keeping the rows whose label stays.

    A pending task points at its variant; deleting and re-creating every row would
    reset those tasks to the base copy.
    """
    current = {
        (v.step_id, v.label): v
        for v in StepVariant.objects.filter(step__in=[step for step, _ in pairs])
    }
    wanted = {(step.pk, v.label): (step, v) for step, spec in pairs for v in spec.variants}
    StepVariant.objects.filter(
        id__in=[v.pk for key, v in current.items() if key not in wanted]
    ).delete()
    changed, new = [], []
    for key, (step, spec) in wanted.items():
        row = current.get(key)
        if row is None:
            new.append(
                StepVariant(step=step, label=spec.label, subject=spec.subject, body=spec.body)
            )
        elif (row.subject, row.body) != (spec.subject, spec.body):
            row.subject, row.body = spec.subject, spec.body
            changed.append(row)
    StepVariant.objects.bulk_update(changed, ["subject", "body"])
    StepVariant.objects.bulk_create(new)


# --- exporting -------------------------------------------------------------------------


def cadence_export(cadence: Cadence) -> dict[str, object]:
    """The cadence in the file format, defaults spelled out, removed steps left out."""
    steps = (
        cadence.steps.filter(removed_at__isnull=True)
        .order_by("position", "id")
        .prefetch_related("variants")
    )
    return {
        "name": cadence.name,
        "description": cadence.description,
        "business_days_only": cadence.business_days_only,
        "holiday_country": cadence.holiday_country or None,
        "min_gap_hours": cadence.min_gap_hours,
        "exit_on": list(cadence.exit_on),
        "pause_account_on_reply": cadence.pause_account_on_reply,
        "on_complete": _on_complete_document(cadence),
        "steps": [_step_document(step) for step in steps],
    }


def _on_complete_document(cadence: Cadence) -> dict[str, str] | None:
    document = {}
    if cadence.on_complete_status:
        document["status"] = cadence.on_complete_status
    if cadence.on_complete_cadence_id:
        document["enroll"] = cadence.on_complete_cadence.name
    return document or None


def _step_document(step: Step) -> dict[str, object]:
    return {
        "channel": step.channel,
        "mode": step.mode,
        "wait_days": step.wait_days,
        "wait_hours": step.wait_hours,
        "window": [f"{step.window_start:%H:%M}", f"{step.window_end:%H:%M}"],
        "title": step.title,
        "script": step.script,
        "questions": list(step.questions),
        "subject": step.subject,
        "body": step.body,
        "asset_stage": step.asset_stage or None,
        "breakup": step.breakup,
        "variants": [
            {"label": v.label, "subject": v.subject, "body": v.body} for v in step.variants.all()
        ],
    }


def dumps_cadence(cadence: Cadence) -> str:
    """The cadence file's text, exactly as `export_cadence` prints it."""
    return json.dumps(cadence_export(cadence), indent=2, ensure_ascii=False) + "\n"
