"""Reading the lead CSV format of CONTRACT.md section 4, streamed and checked row by row.

The file is never held whole: bytes are decoded in 64 KiB blocks, split into lines
(line endings kept, so the csv module can join quoted fields that span lines), and
parsed one record at a time. Line numbers are the file's own, as a spreadsheet user
counts them, so ``line L: reason`` points at the right place.
"""

from __future__ import annotations

import codecs
import csv
import re
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import BinaryIO

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

BLOCK = 64 * 1024
MAX_LINE = 1024 * 1024  # a longer "line" means the file is not a CSV of leads
COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "phone",
    "company",
    "title",
    "timezone",
    "source",
    "tags",
    "owner",
)
MAX_LENGTH = {
    "email": 254,
    "first_name": 100,
    "last_name": 100,
    "phone": 40,
    "company": 200,
    "title": 200,
    "timezone": 64,
    "source": 100,
    "owner": 150,
}
LINE_END = re.compile(r"\r\n|\n|\r")


class ImportFailed(Exception):
    """The whole file is refused (nothing imported); ``str()`` is one line saying why."""


@dataclass
class LeadRow:
    """One checked row: what it sets on a lead, and where it came from."""

    line: int
    email: str
    values: dict[str, str]
    company: str = ""
    tags: list[str] = field(default_factory=list)
    owner: object | None = None

    @property
    def key(self) -> str:
        return self.email.lower()


@dataclass
class Table:
    """A CSV file's header and, lazily, its records."""

    header: list[str]
    delimiter: str
    records: Iterator[tuple[int, list[str]]]


# --- bytes to lines ---------------------------------------------------------------


def text_lines(stream: BinaryIO) -> Iterator[str]:
    """The file's lines as text with their endings; refuses anything that is not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, pending, first = 0, "", True
    while block := stream.read(BLOCK):
        text = _decode(decoder, block, offset)
        offset += len(block)
        if first:
            text, first = text.removeprefix("\ufeff"), False
        if "\x00" in text:
            raise ImportFailed(
                "the file is not CSV text: it contains NUL bytes (is it UTF-16 or binary?)"
            )
        pending += text
        complete, pending = _split_complete(pending)
        yield from complete
        if len(pending) > MAX_LINE:
            raise ImportFailed("the file is not CSV: a line is longer than 1 MB")
    _decode(decoder, b"", offset, final=True)
    if pending:
        yield pending


def check_utf8(stream: BinaryIO) -> None:
    """Read the whole file once, cheaply, to refuse a non-UTF-8 file at upload."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    while block := stream.read(BLOCK):
        _decode(decoder, block, offset)
        offset += len(block)
    _decode(decoder, b"", offset, final=True)


def _decode(decoder: codecs.IncrementalDecoder, block: bytes, offset: int, *, final=False) -> str:
    try:
        return decoder.decode(block, final)
    except UnicodeDecodeError as exc:
        # exc.object is the decoder's carried-over bytes followed by this block.
        at = offset + len(block) - len(exc.object) + exc.start
        raise ImportFailed(
            f"the file is not UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {at}); "
            "save it as CSV UTF-8 and try again"
        ) from None


def _split_complete(text: str) -> tuple[list[str], str]:
    """Whole lines of ``text`` and the unfinished rest (a trailing CR may precede an LF)."""
    lines, start = [], 0
    for match in LINE_END.finditer(text):
        if match.group() == "\r" and match.end() == len(text):
            break
        lines.append(text[start : match.end()])
        start = match.end()
    return lines, text[start:]


# --- lines to records ---------------------------------------------------------------


def sniff_delimiter(header_line: str) -> str:
    """Comma or semicolon: whichever the header uses more often outside quotes."""
    outside = re.sub(r'"[^"]*"', "", header_line)
    return ";" if outside.count(";") > outside.count(",") else ","


def read_table(lines: Iterable[str]) -> Table:
    lines = iter(lines)
    skipped: list[str] = []
    for line in lines:
        skipped.append(line)
        if line.strip():
            break
    else:
        raise ImportFailed("the file is empty: a header row is required")
    delimiter = sniff_delimiter(skipped[-1])
    reader = csv.reader(_chain(skipped, lines), delimiter=delimiter, strict=False)
    records = _records(reader)
    first = next(records, None)
    if first is None:  # only blank cells, such as a line of commas
        raise ImportFailed("the file has no header row: its first line has no column names")
    _, header = first
    return Table(header=[c.strip() for c in header], delimiter=delimiter, records=records)


def _chain(first: list[str], rest: Iterator[str]) -> Iterator[str]:
    yield from first
    yield from rest


def _records(reader) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, cells) for each non-blank record."""
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportFailed(f"the file is not CSV: line {reader.line_num}: {exc}") from None
        if any(c.strip() for c in cells):
            yield start, cells


# --- the header -------------------------------------------------------------------


def column_name(cell: str) -> str:
    return re.sub(r"[\s\-]+", "_", cell.strip().lower())


def auto_mapping(header: list[str]) -> list[str]:
    """The lead field of each column by name ('' for an unknown or repeated column)."""
    seen: set[str] = set()
    mapping = []
    for cell in header:
        name = column_name(cell)
        mapping.append(name if name in COLUMNS and name not in seen else "")
        seen.add(name)
    return mapping


def check_mapping(header: list[str], mapping: list[str]) -> list[str]:
    """Notes on ignored columns; ImportFailed when no column can make a lead."""
    if len(mapping) != len(header) or any(m and m not in COLUMNS for m in mapping):
        raise ImportFailed("the column mapping does not fit the file's header")
    if not any(mapping):
        raise ImportFailed(
            "the file is not CSV with a header row: no known column in its first line "
            f"(expected some of {', '.join(COLUMNS)})"
        )
    if "email" not in mapping and "phone" not in mapping:
        raise ImportFailed("the header needs an email or a phone column")
    return [
        f"column '{cell}' ignored (unknown or repeated)"
        for cell, target in zip(header, mapping, strict=True)
        if not target
    ]


# --- rows -------------------------------------------------------------------------


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def row_cells(cells: list[str], mapping: list[str]) -> dict[str, str] | str:
    """The row's cells by field name, or why the row is bad."""
    extra = [c for c in cells[len(mapping) :] if c.strip()]
    if extra:
        return f"has {len(cells)} cells but the header has {len(mapping)} (a stray delimiter?)"
    by_field = {target: "" for target in mapping if target}
    for target, cell in zip(mapping, cells, strict=False):
        if target and not by_field[target]:
            by_field[target] = " ".join(cell.split()) if target != "tags" else cell.strip()
    return by_field


def check_row(
    line: int,
    cells: list[str],
    mapping: list[str],
    *,
    owner_for: Callable[[str], object | None],
    default_source: str = "",
    validate: bool = True,
) -> LeadRow | str:
    """A checked row, or the reason it is bad (without the ``line L:`` prefix).

    ``validate=False`` skips the value checks, for a row already checked in this run.
    """
    got = row_cells(cells, mapping)
    if isinstance(got, str):
        return got
    problem = _problem(got) if validate else None
    if problem:
        return problem
    owner = None
    if got.get("owner"):
        owner = owner_for(got["owner"])
        if owner is None:
            return f"owner '{got['owner']}' is not an active rep"
    values = {k: got.get(k, "") for k in ("first_name", "last_name", "phone", "title")}
    values.update(
        email=got.get("email", ""),
        timezone=got.get("timezone", ""),
        source=got.get("source", "") or default_source,
    )
    tags = [" ".join(t.split())[:60] for t in got.get("tags", "").split(";") if t.strip()]
    return LeadRow(
        line=line,
        email=values["email"],
        values=values,
        company=got.get("company", ""),
        tags=tags,
        owner=owner,
    )


def _problem(got: dict[str, str]) -> str | None:
    email, phone = got.get("email", ""), got.get("phone", "")
    if not email and not phone:
        return "needs an email or a phone"
    for name, limit in MAX_LENGTH.items():
        if len(got.get(name, "")) > limit:
            return f"{name} is longer than {limit} characters"
    if email:
        try:
            validate_email(email)
        except ValidationError:
            return f"email '{email}' is not a valid address"
    zone = got.get("timezone", "")
    if zone and zone not in _zones():
        return f"timezone '{zone}' is not an IANA time zone (e.g. Europe/Berlin)"
    return None
