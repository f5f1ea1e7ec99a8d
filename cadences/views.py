from __future__ import annotations

from django.contrib.auth.decorators import login_required, user_passes_test
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from followup.roles import is_manager


@login_required
def today(request: HttpRequest) -> HttpResponse:
    return render(request, "cadences/today.html", {"nav": "today"})


@login_required
@user_passes_test(is_manager)
def reports(request: HttpRequest) -> HttpResponse:
    return render(request, "cadences/reports.html", {"nav": "reports"})
