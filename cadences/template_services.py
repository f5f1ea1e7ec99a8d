"""Writes on cadence templates that managers make from admin: import, clone, activate.

Import and clone go through the cadence file format (`cadences.cadence_format`), the
same code as the `import_cadence` and `export_cadence` commands: one set of checks,
one way to write a cadence, whatever the door.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet

from cadences.cadence_format import (
    NAME_LENGTH,
    CadenceFormatError,
    CadenceSpec,
    cadence_apply,
    cadence_export,
    parse_cadence,
)
from cadences.models import Cadence, Step


@dataclass(frozen=True)
class CadenceImport:
    cadence: Cadence
    created: bool
    spec: CadenceSpec


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    # json keeps the last of two equal keys silently; a repeated key is a typo to report.
    seen: dict[str, object] = {}
    for key, value in pairs:
        if key in seen:
            raise CadenceFormatError("", f"the key {key!r} appears twice")
        seen[key] = value
    return seen


def cadence_document(content: bytes | str) -> object:
    """Decode an uploaded cadence file; CadenceFormatError when it is not JSON text."""
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CadenceFormatError("", "the file is not UTF-8 text") from None
    try:
        return json.loads(content, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as error:
        raise CadenceFormatError(
            "", f"not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        ) from None


def cadence_import(*, content: bytes | str, activate: bool, now: dt.datetime) -> CadenceImport:
    """Create or update a cadence from a file's content; an invalid file changes nothing."""
    spec = parse_cadence(cadence_document(content))
    cadence, created = cadence_apply(spec=spec, activate=activate, now=now)
    return CadenceImport(cadence=cadence, created=created, spec=spec)


def clone_name(name: str) -> str:
    """ "X (copy)", or "X (copy 2)" and so on when that name is taken."""
    for n in range(1, 1000):
        suffix = " (copy)" if n == 1 else f" (copy {n})"
        candidate = name[: NAME_LENGTH - len(suffix)] + suffix
        if not Cadence.objects.filter(name=candidate).exists():
            return candidate
    raise CadenceFormatError("name", f"too many copies of {name!r} already")


def cadence_clone(*, cadence: Cadence, now: dt.datetime) -> Cadence:
    """An inactive copy with the same settings, steps and A/B variants, to edit safely."""
    document = cadence_export(cadence)
    document["name"] = clone_name(cadence.name)
    on_complete = document.get("on_complete") or {}
    if on_complete.get("enroll") == cadence.name:
        on_complete["enroll"] = document["name"]  # a cadence that loops keeps looping
    copy, _ = cadence_apply(spec=parse_cadence(document), activate=False, now=now)
    return copy


@transaction.atomic
def cadences_activate(*, cadences: QuerySet[Cadence]) -> tuple[int, list[Cadence]]:
    """Activate the cadences that have live steps; return the count and those refused."""
    live_step = Step.objects.filter(cadence=OuterRef("pk"), removed_at__isnull=True)
    empty = list(cadences.exclude(Exists(live_step)))
    activated = (
        Cadence.objects.filter(pk__in=cadences.values("pk"), is_active=False)
        .exclude(pk__in=[c.pk for c in empty])
        .update(is_active=True)
    )
    return activated, empty


def cadences_deactivate(*, cadences: QuerySet[Cadence]) -> int:
    """Stop offering the cadences for new enrolments; running enrolments carry on."""
    return Cadence.objects.filter(pk__in=cadences.values("pk"), is_active=True).update(
        is_active=False
    )
