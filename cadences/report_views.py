"""The Reports pages: managers only; a chart first, then the numbers, then a CSV."""

from __future__ import annotations

import csv
from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from cadences import report_tables
from cadences.report_forms import Choice, HandBackForm, PeriodForm
from cadences.reports import QUIET_DAYS, REPORTS, Period, report_json, stopped_leads
from cadences.services import enrolment_start_many
from followup import audit
from followup.roles import is_manager

STOPPED_LISTED = 200


def manager_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Log in first; then a rep gets 403, not a login page they cannot get past."""

    @wraps(view)
    def checked(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not is_manager(request.user):
            raise PermissionDenied("Reports are for managers.")
        return view(request, *args, **kwargs)

    return login_required(checked)


def _section(name: str, choice: Choice) -> report_tables.Section:
    report = report_json(name, choice.date_from, choice.date_to, choice.rep)
    return report_tables.SECTIONS[name](report)


@manager_required
@require_GET
def reports(request: HttpRequest) -> HttpResponse:
    form = PeriodForm(request.GET)
    choice = form.choice()
    sections = [_section(name, choice) for name in REPORTS] if choice else []
    context = {"nav": "reports", "form": form, "choice": choice, "sections": sections}
    return render(request, "cadences/reports.html", context)


@manager_required
@require_GET
def report(request: HttpRequest, name: str) -> HttpResponse:
    if name not in REPORTS:
        raise Http404("No such report.")
    form = PeriodForm(request.GET)
    choice = form.choice()
    if request.GET.get("format") == "csv":
        if choice is None:
            return HttpResponse(_errors_text(form), status=400, content_type="text/plain")
        return _csv(_section(name, choice), choice)
    section = _section(name, choice) if choice else None
    context = {"nav": "reports", "form": form, "choice": choice, "section": section, "name": name}
    return render(request, "cadences/reports_report.html", context)


def _errors_text(form: PeriodForm) -> str:
    return "\n".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items())


def _csv(section: report_tables.Section, choice: Choice) -> HttpResponse:
    rep = f"_{choice.rep.get_username()}" if choice.rep else ""
    filename = f"{section.name}_{choice.date_from}_{choice.date_to}{rep}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    headers, rows = section.csv_table()
    rep = choice.rep.get_username() if choice.rep else None
    export = {"report": section.name, "from": choice.date_from, "to": choice.date_to, "rep": rep}
    audit.audit_record(action=audit.DATA_EXPORT, target=None, before=None, after=export)
    writer = csv.writer(response)
    writer.writerow(headers)
    writer.writerows(rows)
    return response


@manager_required
@require_http_methods(["GET", "POST"])
def stopped(request: HttpRequest) -> HttpResponse:
    """The leads whose follow-up stopped, to hand back into a cadence in one action."""
    form = PeriodForm(request.GET)
    choice = form.choice()
    hand_back = HandBackForm(request.POST or None)
    result = None
    if choice and request.method == "POST" and hand_back.is_valid():
        result = _hand_back(choice, hand_back)
    leads = _stopped_list(choice) if choice else []
    context = {
        "nav": "reports",
        "form": form,
        "choice": choice,
        "leads": leads,
        "hand_back": hand_back,
        "result": result,
        "quiet_days": QUIET_DAYS,
        "listed": STOPPED_LISTED,
    }
    return render(request, "cadences/reports_stopped.html", context)


def _stopped_list(choice: Choice) -> list:
    period = Period.of(choice.date_from, choice.date_to)
    leads = stopped_leads(period=period, rep=choice.rep).select_related("owner", "account")
    return list(leads.order_by("last_outbound", "id")[:STOPPED_LISTED])


def _hand_back(choice: Choice, form: HandBackForm) -> dict[str, object]:
    """Enrol the ticked leads that are still stopped; every other one is listed with why."""
    period = Period.of(choice.date_from, choice.date_to)
    chosen = list(form.cleaned_data["leads"])
    still = set(
        stopped_leads(period=period, rep=choice.rep)
        .filter(id__in=[lead.id for lead in chosen])
        .values_list("id", flat=True)
    )
    cadence = form.cleaned_data["cadence"]
    started, refused = enrolment_start_many(
        leads=[lead for lead in chosen if lead.id in still], cadence=cadence, now=timezone.now()
    )
    refused += [
        (lead, "its follow-up is no longer stopped") for lead in chosen if lead.id not in still
    ]
    return {"cadence": cadence, "started": len(started), "refused": refused}
