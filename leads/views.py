from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from cadences.outbox import lead_from_unsubscribe_token
from leads.models import Lead
from leads.touches import lead_unsubscribe


@login_required
def lead_list(request: HttpRequest) -> HttpResponse:
    leads = Lead.objects.select_related("account", "owner").filter(owner=request.user)[:100]
    return render(request, "leads/list.html", {"leads": leads, "nav": "leads"})


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
