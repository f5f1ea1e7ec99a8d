"""Lead CSV import: one code path for ``manage.py import_leads`` and the browser.

Two passes over a streamed file. The first checks every row and counts them, so a
file that turns out not to be UTF-8 or not CSV at its last line imports nothing,
``--strict`` knows before writing whether any row is bad, and the progress bar
knows its total. The second writes in chunks of 1,000 rows: one query matches the
chunk's emails, one bulk insert creates the new leads, one bulk update merges the
matched ones, tags are linked in bulk. Only leads that start a cadence go through
``enrolment_start`` one by one, since each enrolment schedules its first step.

Each chunk is its own transaction (a crash keeps the chunks already written, and a
re-run only updates them: leads are matched by email), except under ``strict``,
where all chunks share one transaction.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from itertools import islice
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import BinaryField, Q
from django.db.models.functions import Substr
from django.utils import timezone

from cadences.models import Cadence
from followup.roles import active_reps
from leads.import_writes import NewOwner, write_chunk
from leads.lead_csv import (
    ImportFailed,
    LeadRow,
    Table,
    auto_mapping,
    check_mapping,
    check_row,
    check_utf8,
    read_table,
    text_lines,
)
from leads.models import LeadImport
from leads.routing import route_lead
from leads.services import next_owner
from leads.suppression import SUPPRESSED

CHUNK = 1000
STORED_ERRORS = 100_000  # bad rows kept on a LeadImport for the download; the count is exact

__all__ = [
    "ImportFailed",
    "ImportOptions",
    "ImportReport",
    "import_leads",
    "import_preview",
    "import_start",
    "import_upload",
    "run_import",
]


@dataclass
class ImportOptions:
    now: dt.datetime
    owner: AbstractBaseUser | None = None
    cadence: Cadence | None = None
    route: bool = False
    source: str = ""
    strict: bool = False
    mapping: list[str] | None = None


@dataclass
class ImportReport:
    rows_total: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    bad_rows: list[tuple[int, str]] = field(default_factory=list)
    suppressed: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    refusals: list[tuple[int, str]] = field(default_factory=list)
    refused: bool = False  # strict, and a row was bad: nothing was written

    @property
    def summary(self) -> str:
        return f"created {self.created}, updated {self.updated}, skipped {self.skipped}"

    @property
    def skipped_rows(self) -> list[tuple[int, str]]:
        """Bad rows with their reasons, suppressed ones included, in file order."""
        return sorted(self.bad_rows + [(line, SUPPRESSED) for line in self.suppressed])

    @property
    def bad_lines(self) -> list[str]:
        return [f"line {line}: {reason}" for line, reason in self.skipped_rows]


Progress = Callable[[str, int, ImportReport], None]


class OwnerCache:
    """Active reps by username, one query per distinct name in the file."""

    def __init__(self) -> None:
        self._known: dict[str, AbstractBaseUser | None] = {}

    def __call__(self, username: str) -> AbstractBaseUser | None:
        if username not in self._known:
            self._known[username] = (
                active_reps().filter(username=username).select_related("rep_profile").first()
            )
        return self._known[username]


# --- the pipeline -----------------------------------------------------------------


def import_leads(
    *,
    open_file: Callable[[], BinaryIO],
    options: ImportOptions,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a lead CSV (CONTRACT.md section 4). Raises ImportFailed for a refused file."""
    report = ImportReport()
    owners = OwnerCache()
    with open_file() as stream:
        mapping = _check_pass(stream, options, owners, report, progress)
    if options.strict and report.bad_rows:
        report.skipped, report.refused = report.rows_total, True
        return report
    if progress:  # visible now; under strict the writes below commit only at the end
        progress(LeadImport.Status.IMPORTING, 0, report)
    atomic = transaction.atomic() if options.strict else nullcontext()
    with atomic, open_file() as stream:
        _write_pass(stream, mapping, options, owners, report, progress)
    return report


def _table(stream: BinaryIO, options: ImportOptions) -> tuple[list[str], Table]:
    table = read_table(text_lines(stream))
    return options.mapping or auto_mapping(table.header), table


def _check_pass(
    stream: BinaryIO,
    options: ImportOptions,
    owners: OwnerCache,
    report: ImportReport,
    progress: Progress | None,
) -> list[str]:
    mapping, table = _table(stream, options)
    report.notes = check_mapping(table.header, mapping)
    for line, cells in table.records:
        report.rows_total += 1
        row = check_row(line, cells, mapping, owner_for=owners, default_source=options.source)
        if isinstance(row, str):
            report.bad_rows.append((line, row))
        if progress and report.rows_total % CHUNK == 0:
            progress(LeadImport.Status.CHECKING, report.rows_total, report)
    return mapping


def _write_pass(
    stream: BinaryIO,
    mapping: list[str],
    options: ImportOptions,
    owners: OwnerCache,
    report: ImportReport,
    progress: Progress | None,
) -> None:
    _, table = _table(stream, options)
    bad_lines = {line for line, _ in report.bad_rows}
    report.skipped = len(bad_lines)
    done = 0
    while chunk := list(islice(table.records, CHUNK)):
        done += len(chunk)
        # These rows passed the first pass; only owners are looked up again (cached).
        rows = [
            check_row(
                line,
                cells,
                mapping,
                owner_for=owners,
                default_source=options.source,
                validate=False,
            )
            for line, cells in chunk
            if line not in bad_lines
        ]
        _write_chunk_retrying([r for r in rows if isinstance(r, LeadRow)], options, report)
        if progress:
            progress(LeadImport.Status.IMPORTING, done, report)


# --- writing, chunk by chunk ---------------------------------------------------------


def _write_chunk_retrying(rows: list[LeadRow], options: ImportOptions, report: ImportReport):
    """Write a chunk. If another import or the API created one of its emails meanwhile,
    the unique index refuses the insert; the chunk is then matched again and rewritten."""
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                chunk = write_chunk(
                    rows,
                    now=options.now,
                    default_owner=options.owner,
                    cadence=options.cadence,
                    new_owner=_owner_chooser(options),
                )
            break
        except IntegrityError:
            if attempt == 2:
                raise
    report.created += chunk.created
    report.updated += chunk.updated
    report.skipped += len(chunk.suppressed)
    report.suppressed += chunk.suppressed
    report.refusals += chunk.refusals


def _owner_chooser(options: ImportOptions) -> NewOwner:
    """A new lead's owner: the row's, else the default, else routing or the rotation."""

    def choose(row: LeadRow) -> tuple[AbstractBaseUser | None, Cadence | None]:
        if row.owner or options.owner:
            return row.owner or options.owner, None
        if options.route:
            return route_lead(source=row.values["source"], tags=row.tags, now=options.now)
        return next_owner(now=options.now), None

    return choose


# --- the browser's import: a stored upload and a django-q2 task ----------------------


class StoredUpload(io.RawIOBase):
    """A LeadImport's file, read from the database in windows, never loaded whole."""

    WINDOW = 1024 * 1024

    def __init__(self, import_id: int, size: int) -> None:
        self.import_id, self.size, self.position = import_id, size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        length = min(len(buffer), self.WINDOW, self.size - self.position)
        if length <= 0:
            return 0
        window = Substr("upload", self.position + 1, length, output_field=BinaryField())
        part = bytes(
            LeadImport.objects.filter(id=self.import_id)
            .annotate(window=window)
            .values_list("window", flat=True)
            .get()
        )
        buffer[: len(part)] = part
        self.position += len(part)
        return len(part)


def open_stored(job: LeadImport) -> Callable[[], BinaryIO]:
    return lambda: io.BufferedReader(StoredUpload(job.id, job.size), StoredUpload.WINDOW)


# A task running longer than Q_CLUSTER["retry"] (600 s) would be handed to a second
# worker while the first still runs, so a browser import gets a timeout below it.
IMPORT_TIMEOUT = 540
PREVIEW_ROWS = 5


def import_upload(*, user: AbstractBaseUser, filename: str, chunks: Iterator[bytes]) -> LeadImport:
    """Store an uploaded file with its header, ready for the mapping step.

    Raises ImportFailed for a file that is empty, not UTF-8 or has no usable header.
    The web process holds the file (at most 50 MB) once, to store it in one row; the
    worker then reads it back in 1 MB windows (``StoredUpload``).
    """
    content = b"".join(chunks)
    check_utf8(io.BytesIO(content))
    table = read_table(text_lines(io.BytesIO(content)))
    return LeadImport.objects.create(
        created_by=user,
        filename=filename[:255],
        upload=content,
        size=len(content),
        header=table.header,
        delimiter=table.delimiter,
        mapping=auto_mapping(table.header),
    )


def import_preview(job: LeadImport) -> list[list[str]]:
    """The first rows of a stored file, for the mapping page."""
    with open_stored(job)() as stream:
        table = read_table(text_lines(stream))
        return [cells for _, cells in islice(table.records, PREVIEW_ROWS)]


def import_start(
    *,
    job: LeadImport,
    mapping: list[str],
    owner: AbstractBaseUser | None,
    route: bool,
    cadence: Cadence | None,
    source: str,
    strict: bool,
) -> None:
    """Queue a mapped import for the worker. Raises ImportFailed for a useless mapping."""
    check_mapping(job.header, mapping)
    started = LeadImport.objects.filter(id=job.id, status=LeadImport.Status.DRAFT).update(
        status=LeadImport.Status.QUEUED,
        mapping=mapping,
        default_owner=owner,
        route=route,
        cadence=cadence,
        source=source,
        strict=strict,
    )
    if started:  # a double-click queues one task, not two
        transaction.on_commit(lambda: _enqueue(job.id))


def _enqueue(import_id: int) -> None:
    from django_q.tasks import async_task

    # Read per call, not at import time as django-q2 does, so a test can run it inline.
    inline = bool(settings.Q_CLUSTER.get("sync", False))
    async_task("leads.importing.run_import", import_id, sync=inline, timeout=IMPORT_TIMEOUT)


def run_import(import_id: int) -> None:
    """The django-q2 task of a browser import. Safe to run twice: only a queued import
    (or one whose worker died mid-way) is claimed, with a compare-and-set on status."""
    now = timezone.now()
    running = [LeadImport.Status.CHECKING, LeadImport.Status.IMPORTING]
    stale = now - dt.timedelta(seconds=IMPORT_TIMEOUT + 60)
    claimable = Q(status=LeadImport.Status.QUEUED) | Q(status__in=running, started_at__lt=stale)
    claimed = LeadImport.objects.filter(claimable, id=import_id).update(
        status=LeadImport.Status.CHECKING, started_at=now, rows_done=0
    )
    if not claimed:
        return
    job = LeadImport.objects.select_related("default_owner", "cadence").get(id=import_id)
    try:
        report = import_leads(
            open_file=open_stored(job), options=_job_options(job, now), progress=_progress(job.id)
        )
    except ImportFailed as exc:
        _finish(job.id, ImportReport(), failure=str(exc))
        return
    except Exception:
        _finish(job.id, ImportReport(), failure="the import stopped on an unexpected error")
        raise
    _finish(job.id, report)


def _job_options(job: LeadImport, now: dt.datetime) -> ImportOptions:
    return ImportOptions(
        now=now,
        owner=job.default_owner,
        cadence=job.cadence,
        route=job.route,
        source=job.source,
        strict=job.strict,
        mapping=job.mapping or None,
    )


def _progress(import_id: int) -> Progress:
    def write(phase: str, done: int, report: ImportReport) -> None:
        checking = phase == LeadImport.Status.CHECKING
        LeadImport.objects.filter(id=import_id).update(
            status=phase,
            rows_done=done,
            rows_total=None if checking else report.rows_total,
            error_count=len(report.bad_rows) + len(report.suppressed),
            created=report.created,
            updated=report.updated,
            skipped=report.skipped,
        )

    return write


def _finish(import_id: int, report: ImportReport, *, failure: str = "") -> None:
    notes = report.notes + [f"line {line}: {why}" for line, why in report.refusals]
    status = LeadImport.Status.FAILED if failure else LeadImport.Status.DONE
    if report.refused:  # the import ran as asked: all or nothing, and a row was bad
        bad = len(report.bad_rows)
        failure = f"all or nothing: {bad} bad row{'s' if bad != 1 else ''}, so nothing was imported"
    LeadImport.objects.filter(id=import_id).update(
        status=status,
        failure=failure[:500],
        rows_total=report.rows_total,
        rows_done=report.rows_total,
        created=report.created,
        updated=report.updated,
        skipped=report.skipped,
        error_count=len(report.bad_rows) + len(report.suppressed),
        errors=[list(pair) for pair in report.skipped_rows[:STORED_ERRORS]],
        notes=notes[:STORED_ERRORS],
        finished_at=timezone.now(),
        upload=b"",  # the file has served; the result and the bad rows stay
    )
