from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from leads.models import Lead


@login_required
def lead_list(request: HttpRequest) -> HttpResponse:
    leads = Lead.objects.select_related("account", "owner").filter(owner=request.user)[:100]
    return render(request, "leads/list.html", {"leads": leads, "nav": "leads"})
