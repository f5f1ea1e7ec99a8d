"""Web form capture: a plain HTML form on any site posts leads to /capture/<public key>/.

For sites without a backend (a landing page, a static site), an embeddable snippet
(shown in admin) posts straight here. The same rules as the API apply: a lead is
matched by email (never duplicated), a new one is owned and enrolled through routing
in one transaction, a suppressed address is not added back. A person already known
who fills a form again is an intent signal (``form_submitted``): a hot call for the
owner, not a second cadence.

Bots are kept out by a honeypot field (``website``, hidden from people) and a per-IP
rate limit; both answer like a success or a plain 429, so a bot learns little.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from leads.lead_csv import check_row
from leads.models import CaptureForm, Lead
from leads.routing import route_lead
from leads.services import lead_find_by_email, lead_upsert
from leads.suppression import is_suppressed
from leads.touches import signal_record

FORM_FIELDS = ("email", "first_name", "last_name", "phone", "company", "title", "timezone", "tags")
HONEYPOT = "website"
RATE_LIMIT = 10  # posts per IP per minute: a person sends one, a bot sends hundreds


@dataclass
class Captured:
    lead: Lead | None
    created: bool = False
    reason: str = ""  # why nothing was stored, for the log; never shown to the sender


def capture_submit(*, form: CaptureForm, posted: QueryDict, now: dt.datetime) -> Captured:
    """Create or match the lead a form post describes. Raises ValueError for bad input."""
    cells = [posted.get(name, "") for name in FORM_FIELDS]
    row = check_row(0, cells, list(FORM_FIELDS), owner_for=lambda _: None)
    if isinstance(row, str):
        raise ValueError(row)
    if row.email and is_suppressed(row.email):
        return Captured(lead=None, reason="suppressed")
    source = form.source or f"form: {form.name}"
    with transaction.atomic():
        existing = lead_find_by_email(row.email)
        if existing is not None:
            _known_lead_again(existing, form=form, posted=posted, now=now)
            return Captured(lead=existing)
        owner, cadence = route_lead(source=source, tags=row.tags, now=now)
        result = lead_upsert(
            values={**row.values, "source": source, "notes": _message(posted)},
            now=now,
            owner=owner,
            tags=row.tags,
            company=row.company,
            cadence=cadence or form.cadence,
        )
    return Captured(lead=result.lead, created=True)


def _message(posted: QueryDict) -> str:
    return posted.get("message", "").strip()[:5000]


def _known_lead_again(
    lead: Lead, *, form: CaptureForm, posted: QueryDict, now: dt.datetime
) -> None:
    signal_record(
        kind="form_submitted",
        occurred_at=now,
        lead=lead,
        data={"form": form.name, "message": _message(posted)},
        now=now,
    )


# --- the view ---------------------------------------------------------------------


def _client_ip(request: HttpRequest) -> str:
    # REMOTE_ADDR, not X-Forwarded-For: a bot can write any X-Forwarded-For it likes.
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def rate_limited(request: HttpRequest) -> int:
    """Seconds to wait when this IP has posted too often this minute, else 0."""
    now = time.time()
    window = int(now // 60)
    key = f"capture-rate:{_client_ip(request)}:{window}"
    cache.add(key, 0, timeout=90)
    try:
        count = cache.incr(key)
    except ValueError:  # the key expired between add and incr
        count = 1
    return 0 if count <= RATE_LIMIT else max(1, int((window + 1) * 60 - now))


def safe_next(request: HttpRequest) -> str | None:
    """``next`` when it points to this site or to the site whose page posted the form."""
    target = request.POST.get("next", "").strip()
    if not target:
        return None
    hosts = {request.get_host()}
    for header in ("HTTP_ORIGIN", "HTTP_REFERER"):
        host = urlsplit(request.META.get(header, "")).netloc
        if host:
            hosts.add(host)
    ok = url_has_allowed_host_and_scheme(target, allowed_hosts=hosts)
    return target if ok else None


def _thanks(request: HttpRequest, form: CaptureForm) -> HttpResponse:
    target = safe_next(request)
    if target:
        return HttpResponseRedirect(target)
    return render(request, "leads/capture_thanks.html", {"form": form})


# CSRF-exempt: the form is posted from other sites' pages, which cannot carry our CSRF
# token. That is safe here because the view acts for nobody: it reads no session or
# cookie, so a forged post can do no more than any visitor filling the form, which
# the honeypot and the rate limit already bound.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def capture(request: HttpRequest, public_key: str) -> HttpResponse:
    form = get_object_or_404(CaptureForm, public_key=public_key, is_active=True)
    if request.method == "GET":
        return render(request, "leads/capture_form.html", {"form": form, "snippet": snippet(form)})
    wait = rate_limited(request)
    if wait:
        response = render(request, "leads/capture_error.html", {"busy": True}, status=429)
        response["Retry-After"] = str(wait)
        return response
    if request.POST.get(HONEYPOT, "").strip():
        return _thanks(request, form)  # a bot: answer as if it worked, store nothing
    try:
        capture_submit(form=form, posted=request.POST, now=timezone.now())
    except ValueError as exc:
        context = {"problem": str(exc), "form": form}
        return render(request, "leads/capture_error.html", context, status=400)
    return _thanks(request, form)


def capture_url(form: CaptureForm) -> str:
    return f"{settings.SITE_URL}/capture/{form.public_key}/"


def snippet(form: CaptureForm) -> str:
    """The HTML a site owner pastes into a page."""
    context = {"action": capture_url(form), "honeypot": HONEYPOT}
    return render_to_string("leads/capture_snippet.html", context).strip()
