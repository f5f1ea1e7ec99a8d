from __future__ import annotations

import zoneinfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)

from cadences.models import Enrolment
from cadences.outbox import lead_from_unsubscribe_token
from cadences.services import (
    EnrolmentRefused,
    enrolment_exit,
    enrolment_pause,
    enrolment_resume,
    enrolment_start,
    log_event,
    rep_timezone,
)
from followup.roles import is_manager
from leads import calendar
from leads.forms import (
    ApiTokenForm,
    EnrolForm,
    EnrolmentActionForm,
    LeadFilterForm,
    LeadForm,
    LeadStatusForm,
    RepProfileForm,
    TouchForm,
    lead_initial,
    timezone_names,
)
from leads.models import ApiToken, Lead
from leads.selectors import LeadFilters, can_see_lead, lead_page, leads_visible_to
from leads.selectors import lead_list as select_leads
from leads.services import (
    LeadRefused,
    api_token_create,
    api_token_revoke,
    lead_find_by_email,
    lead_update,
    lead_upsert,
)
from leads.touches import TouchRefused, lead_unsubscribe, touch_log

PAGE_SIZE = 50
CLOSING_STATUSES = ("won", "lost")


def _lead_for_user(request: HttpRequest, pk: int) -> Lead:
    """The lead, if this user may see it; 404 otherwise, so outsiders learn nothing."""
    leads = (
        leads_visible_to(request.user)
        .select_related("account", "owner__rep_profile")
        .prefetch_related("tags")
    )
    return get_object_or_404(leads, pk=pk)


def _user_tz(request: HttpRequest, lead: Lead | None = None) -> str:
    """The signed-in person's time zone, looked up once per request.

    A rep on their own lead's page has their profile loaded already, as its owner's.
    """
    if not hasattr(request, "_followup_tz"):
        me = lead.owner if lead and lead.owner_id == request.user.pk else request.user
        request._followup_tz = rep_timezone(me)
    return request._followup_tz


def _render(request: HttpRequest, template: str, context: dict[str, object]) -> HttpResponse:
    # Times on these pages read in the viewer's zone, as they work in it.
    with timezone.override(zoneinfo.ZoneInfo(_user_tz(request))):
        return render(request, template, context)


def _who(request: HttpRequest, reason: str) -> str:
    name = request.user.get_username()
    return f"by {name}: {reason}" if reason else f"by {name}"


# --- the list --------------------------------------------------------------------------


def _filters(form: LeadFilterForm) -> LeadFilters:
    def pk_of(name: str) -> int | None:
        chosen = form.value_of(name) if name in form.fields else None
        return chosen.pk if chosen else None

    return LeadFilters(
        q=form.value_of("q") or "",
        status=form.value_of("status") or "",
        stage=form.value_of("stage") or "",
        owner_id=pk_of("owner"),
        cadence_id=pk_of("cadence"),
        tag_id=pk_of("tag"),
        overdue=bool(form.value_of("overdue")),
        sort=form.value_of("sort") or "-created",
    )


@login_required
@require_GET
def lead_list(request: HttpRequest) -> HttpResponse:
    form = LeadFilterForm(request.GET, can_filter_owner=is_manager(request.user))
    filters = _filters(form)
    now = timezone.now()
    leads = select_leads(user=request.user, filters=filters, now=now)
    page = Paginator(leads.prefetch_related("tags"), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "sort": filters.sort, "now": now, "nav": "leads"}
    return _render(request, "leads/list.html", context)


# --- add and edit ----------------------------------------------------------------------


def _form_page(request: HttpRequest, form: LeadForm, lead: Lead | None = None) -> HttpResponse:
    context = {"form": form, "lead": lead, "tz_names": timezone_names(), "nav": "leads"}
    return _render(request, "leads/form.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def lead_create(request: HttpRequest) -> HttpResponse:
    form = LeadForm(request.POST or None, can_assign=is_manager(request.user))
    if request.method == "POST" and form.is_valid():
        existing = lead_find_by_email(form.cleaned_data["email"])
        if existing and can_see_lead(request.user, existing):
            messages.info(request, "A lead with this email already exists.")
            return redirect("leads-detail", pk=existing.pk)
        if existing:
            # Say that it exists (or the rep would retry forever), but not whose it is.
            form.add_error("email", "A lead with this email already exists; another rep owns it.")
        else:
            return _create(request, form)
    return _form_page(request, form)


def _create(request: HttpRequest, form: LeadForm) -> HttpResponse:
    owner = form.cleaned_data.get("owner") if is_manager(request.user) else request.user
    try:
        result = lead_upsert(
            values=form.lead_values(),
            now=timezone.now(),
            owner=owner,
            tags=form.tag_names(),
            company=form.cleaned_data["company"],
            cadence=form.cleaned_data.get("cadence"),
        )
    except LeadRefused as exc:
        form.add_service_errors(exc.fields)
        return _form_page(request, form)
    messages.success(request, f"Lead {result.lead} created.")
    if result.refusal:
        messages.warning(request, f"Not enrolled: {result.refusal}.")
    return redirect("leads-detail", pk=result.lead.pk)


@login_required
@require_http_methods(["GET", "POST"])
def lead_edit(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _lead_for_user(request, pk)
    form = LeadForm(
        request.POST or None,
        initial=lead_initial(lead),
        can_assign=is_manager(request.user),
        creating=False,
    )
    if request.method == "POST" and form.is_valid():
        try:
            lead_update(
                lead=lead,
                values=form.lead_values(),
                now=timezone.now(),
                owner=form.cleaned_data.get("owner"),
                tags=form.tag_names(),
                company=form.cleaned_data["company"],
            )
        except LeadRefused as exc:
            form.add_service_errors(exc.fields)
        else:
            messages.success(request, "Lead saved.")
            return redirect("leads-detail", pk=lead.pk)
    return _form_page(request, form, lead)


# --- the lead page ---------------------------------------------------------------------


def _render_detail(request: HttpRequest, lead: Lead, **forms: object) -> HttpResponse:
    now = timezone.now()
    context = {
        "page": lead_page(lead=lead, user=request.user, now=now),
        "lead": lead,
        "touch_form": forms.get("touch_form") or TouchForm(tz=_user_tz(request, lead), now=now),
        "status_form": forms.get("status_form") or LeadStatusForm(initial={"status": lead.status}),
        "enrol_form": forms.get("enrol_form") or EnrolForm(),
        "nav": "leads",
    }
    return _render(request, "leads/detail.html", context)


@login_required
@require_GET
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, _lead_for_user(request, pk))


@login_required
@require_POST
def lead_touch(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _lead_for_user(request, pk)
    now = timezone.now()
    form = TouchForm(request.POST, tz=_user_tz(request, lead), now=now)
    if form.is_valid():
        try:
            touch_log(lead=lead, rep=request.user, now=now, source="ui", **form.cleaned_data)
        except TouchRefused as exc:
            form.add_service_errors(exc.fields)
        else:
            messages.success(request, "Touch logged.")
            return redirect("leads-detail", pk=lead.pk)
    return _render_detail(request, lead, touch_form=form)


@login_required
@require_POST
def lead_status(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _lead_for_user(request, pk)
    form = LeadStatusForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, lead, status_form=form)
    status = form.cleaned_data["status"]
    try:
        lead_update(lead=lead, values={}, now=timezone.now(), status=status)
    except LeadRefused as exc:
        messages.error(request, f"Status not changed: {exc}")
        return redirect("leads-detail", pk=lead.pk)
    done = " Its cadences that stop on it have ended." if status in CLOSING_STATUSES else ""
    messages.success(request, f"Status set to {status}.{done}")
    return redirect("leads-detail", pk=lead.pk)


# --- enrolments ------------------------------------------------------------------------


@login_required
@require_POST
def lead_enrol(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _lead_for_user(request, pk)
    form = EnrolForm(request.POST)
    if form.is_valid():
        now = timezone.now()
        cadence = form.cleaned_data["cadence"]
        try:
            enrolment = enrolment_start(lead=lead, cadence=cadence, now=now)
        except EnrolmentRefused as exc:
            form.add_error("cadence", f"Not enrolled: {exc}.")
        else:
            reason = _who(request, form.cleaned_data["reason"])
            log_event(enrolment, kind="note", message=f"Enrolled {reason}", at=now)
            messages.success(request, f"Enrolled in {cadence.name}.")
            return redirect("leads-detail", pk=lead.pk)
    return _render_detail(request, lead, enrol_form=form)


def _enrolment_action(
    request: HttpRequest, pk: int, enrolment_pk: int, action: str
) -> HttpResponse:
    lead = _lead_for_user(request, pk)
    enrolment = get_object_or_404(lead.enrolments.select_related("cadence"), pk=enrolment_pk)
    form = EnrolmentActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Nothing changed: {form.errors.as_text()}")
        return redirect("leads-detail", pk=lead.pk)
    reason = _who(request, form.cleaned_data["reason"])
    changed = ACTIONS[action](enrolment, reason, timezone.now())
    name = enrolment.cadence.name
    if changed:
        messages.success(request, f"{name}: {PAST[action]}.")
    else:
        messages.warning(request, f"{name} is {enrolment.status}; nothing changed.")
    return redirect("leads-detail", pk=lead.pk)


def _pause(enrolment: Enrolment, reason: str, now: object) -> bool:
    return enrolment_pause(enrolment=enrolment, now=now, reason=reason)


def _resume(enrolment: Enrolment, reason: str, now: object) -> bool:
    resumed = enrolment_resume(enrolment=enrolment, now=now)
    if resumed:
        log_event(enrolment, kind="note", message=f"Resumed {reason}", at=now)
    return resumed


def _remove(enrolment: Enrolment, reason: str, now: object) -> bool:
    return enrolment_exit(enrolment=enrolment, reason=f"removed by rep ({reason})", now=now)


ACTIONS = {"pause": _pause, "resume": _resume, "remove": _remove}
PAST = {"pause": "paused", "resume": "resumed", "remove": "removed"}


@login_required
@require_POST
def enrolment_pause_view(request: HttpRequest, pk: int, enrolment_pk: int) -> HttpResponse:
    return _enrolment_action(request, pk, enrolment_pk, "pause")


@login_required
@require_POST
def enrolment_resume_view(request: HttpRequest, pk: int, enrolment_pk: int) -> HttpResponse:
    return _enrolment_action(request, pk, enrolment_pk, "resume")


@login_required
@require_POST
def enrolment_remove_view(request: HttpRequest, pk: int, enrolment_pk: int) -> HttpResponse:
    return _enrolment_action(request, pk, enrolment_pk, "remove")


# --- the rep's profile, calendar feed and API tokens -------------------------------------


def _profile_page(
    request: HttpRequest, form: RepProfileForm, *, new_key: str = "", token_form=None
) -> HttpResponse:
    profile = form.instance
    feed = reverse("leads-calendar", args=[profile.calendar_token])
    context = {
        "form": form,
        "feed_url": request.build_absolute_uri(feed),
        "tokens": request.user.api_tokens.filter(revoked_at__isnull=True),
        "token_form": token_form or ApiTokenForm(),
        "new_key": new_key,
        "tz_names": timezone_names(),
        "nav": "profile",
    }
    return _render(request, "leads/profile.html", context)


def _profile_form(request: HttpRequest, data: object = None) -> RepProfileForm:
    profile = calendar.rep_profile_for(request.user)
    return RepProfileForm(data, instance=profile, can_set_capacity=is_manager(request.user))


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    form = _profile_form(request, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Settings saved.")
        return redirect("leads-profile")
    return _profile_page(request, form)


@login_required
@require_POST
def calendar_regenerate(request: HttpRequest) -> HttpResponse:
    calendar.calendar_token_regenerate(profile=calendar.rep_profile_for(request.user))
    messages.success(request, "New calendar URL made; the old one no longer works.")
    return redirect("leads-profile")


@never_cache
@login_required
@require_POST
def api_token_new(request: HttpRequest) -> HttpResponse:
    token_form = ApiTokenForm(request.POST)
    if not token_form.is_valid():
        return _profile_page(request, _profile_form(request), token_form=token_form)
    _, key = api_token_create(user=request.user, name=token_form.cleaned_data["name"])
    # Rendered, not redirected: the key must not travel through a cookie or the session.
    return _profile_page(request, _profile_form(request), new_key=key)


@login_required
@require_POST
def api_token_revoke_view(request: HttpRequest, token_pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_pk, user=request.user)
    api_token_revoke(token=token)
    messages.success(request, f"Token {token.prefix}… revoked.")
    return redirect("leads-profile")


@never_cache
@require_safe
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """No login: calendar apps cannot log in, so the secret token is the proof."""
    rep = calendar.rep_for_calendar_token(token)
    if rep is None:
        raise Http404("unknown calendar")

    def lead_url(lead: Lead) -> str:
        return request.build_absolute_uri(reverse("leads-detail", args=[lead.pk]))

    body = calendar.calendar_feed(rep=rep, now=timezone.now(), lead_url=lead_url)
    return HttpResponse(body, content_type="text/calendar; charset=utf-8")


@csrf_exempt  # RFC 8058 one-click: mail clients POST without a session or a token
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """No login: the signed token is the proof. GET asks, POST unsubscribes (idempotent)."""
    lead = lead_from_unsubscribe_token(token)
    if lead is None:
        return render(request, "leads/unsubscribe.html", {"invalid": True}, status=404)
    done = False
    if request.method == "POST":
        lead_unsubscribe(lead=lead, at=timezone.now(), how="link")
        done = True
    return render(request, "leads/unsubscribe.html", {"done": done or bool(lead.unsubscribed_at)})
