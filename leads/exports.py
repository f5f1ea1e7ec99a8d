"""CSV exports for spreadsheets: leads (with the list's filters) and touches (a date range).

Both stream: rows are read in chunks and written as they go, so exporting a million
leads holds a few thousand in memory. A rep exports their own leads and touches; a
manager exports everyone's. The lead file starts with the columns of the import
format (CONTRACT.md section 4), so an exported file can be edited and imported back.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import zoneinfo
from collections.abc import Iterable, Iterator

from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from cadences.services import rep_timezone
from followup import audit
from followup.roles import is_manager
from leads.models import Lead, LeadStatus, Touch
from leads.selectors import leads_visible_to

CHUNK = 2000
LEAD_COLUMNS = [
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
    "status",
    "stage",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "do_not_email",
    "do_not_call",
    "touch_count",
    "created_at",
    "last_touched_at",
    "id",
]
TOUCH_COLUMNS = [
    "occurred_at",
    "lead_id",
    "lead_email",
    "lead_name",
    "company",
    "rep",
    "channel",
    "direction",
    "outcome",
    "automated",
    "source",
    "cadence",
    "step",
    "subject",
    "notes",
    "callback_at",
]
# A cell starting like a formula runs as one in a spreadsheet; phone numbers (+1 555…)
# and negative numbers are left alone.
FORMULA = re.compile(r"^[=@\t\r]|^[+\-](?![\d\s().\-]*$)")


class _Echo:
    """csv.writer writes into this and gets the line back, to stream it."""

    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str) and FORMULA.match(value):
        return "'" + value
    return value


def csv_stream(header: list[str], rows: Iterable[list[object]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # a BOM, so spreadsheet programs read the file as UTF-8
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([_cell(v) for v in row])


def csv_response(filename: str, header: list[str], rows: Iterable[list[object]]):
    response = StreamingHttpResponse(
        csv_stream(header, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- leads ------------------------------------------------------------------------


def leads_for_export(user: object, params: dict[str, str]) -> QuerySet[Lead]:
    """The leads the user may see, with the list page's filters (status, owner, tag, source)."""
    leads = leads_visible_to(user).select_related("account", "owner")
    if params.get("status") in LeadStatus.values:
        leads = leads.filter(status=params["status"])
    if params.get("owner") and is_manager(user):
        leads = leads.filter(owner__username=params["owner"])
    if params.get("tag"):
        leads = leads.filter(tags__name=params["tag"])
    if params.get("source"):
        leads = leads.filter(source=params["source"])
    return leads.prefetch_related("tags").order_by("id")


def lead_rows(leads: QuerySet[Lead]) -> Iterator[list[object]]:
    for lead in leads.iterator(chunk_size=CHUNK):
        yield [
            lead.email,
            lead.first_name,
            lead.last_name,
            lead.phone,
            lead.account.name if lead.account else "",
            lead.title,
            lead.timezone,
            lead.source,
            ";".join(sorted(t.name for t in lead.tags.all())),
            lead.owner.username if lead.owner else "",
            *(getattr(lead, name) for name in LEAD_COLUMNS[10:]),
        ]


@login_required
@require_GET
def export_leads(request: HttpRequest) -> HttpResponse:
    leads = leads_for_export(request.user, request.GET.dict())
    name = f"leads-{timezone.localdate():%Y-%m-%d}.csv"
    audit.audit_record(
        action=audit.DATA_EXPORT,
        target=None,
        before=None,
        after={"export": "leads", "filters": request.GET.dict()},
    )
    return csv_response(name, LEAD_COLUMNS, lead_rows(leads))


# --- touches ----------------------------------------------------------------------


def touches_for_export(
    user: object, *, start: dt.datetime, end: dt.datetime, rep: str = ""
) -> QuerySet[Touch]:
    """Touches in [start, end): a rep's own (made by them or on their leads), or all."""
    touches = Touch.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
    if not is_manager(user):
        touches = touches.filter(Q(rep=user) | Q(lead__owner=user))
    elif rep:
        touches = touches.filter(rep__username=rep)
    return touches.select_related("lead__account", "rep", "enrolment__cadence", "step").order_by(
        "occurred_at", "id"
    )


def touch_rows(touches: QuerySet[Touch]) -> Iterator[list[object]]:
    for touch in touches.iterator(chunk_size=CHUNK):
        lead = touch.lead
        yield [
            touch.occurred_at,
            lead.id,
            lead.email,
            lead.name,
            lead.account.name if lead.account else "",
            touch.rep.username if touch.rep else "",
            touch.channel,
            touch.direction,
            touch.outcome,
            touch.automated,
            touch.source,
            touch.enrolment.cadence.name if touch.enrolment else "",
            touch.step.position if touch.step else "",
            touch.subject,
            touch.notes,
            touch.callback_at or "",
        ]


def date_range(params: dict[str, str], tz: str) -> tuple[dt.datetime, dt.datetime]:
    """``from`` and ``to`` (dates, inclusive) read in ``tz``; default: the last 30 days."""
    zone = zoneinfo.ZoneInfo(tz)
    today = timezone.now().astimezone(zone).date()
    first = dt.date.fromisoformat(params["from"]) if params.get("from") else None
    last = dt.date.fromisoformat(params["to"]) if params.get("to") else today
    first = first or last - dt.timedelta(days=29)
    if last < first:
        raise ValueError("'to' is before 'from'")
    start = dt.datetime.combine(first, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return start, end


@login_required
@require_GET
def export_touches(request: HttpRequest) -> HttpResponse:
    try:  # dates in the user's own zone (a manager without settings: TIME_ZONE)
        start, end = date_range(request.GET.dict(), rep_timezone(request.user))
    except ValueError as exc:
        return HttpResponseBadRequest(f"from/to: {exc} (use YYYY-MM-DD dates)")
    touches = touches_for_export(request.user, start=start, end=end, rep=request.GET.get("rep", ""))
    name = f"touches-{start:%Y-%m-%d}-to-{end - dt.timedelta(days=1):%Y-%m-%d}.csv"
    audit.audit_record(
        action=audit.DATA_EXPORT,
        target=None,
        before=None,
        after={"export": "touches", "filters": request.GET.dict()},
    )
    return csv_response(name, TOUCH_COLUMNS, touch_rows(touches))
