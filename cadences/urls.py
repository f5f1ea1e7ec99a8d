from __future__ import annotations

from django.urls import path

from cadences import report_views, views

urlpatterns = [
    path("", views.today, name="cadences-today"),
    path("reports/", report_views.reports, name="cadences-reports"),
    path("reports/follow-up-stops/leads/", report_views.stopped, name="cadences-report-stopped"),
    path("reports/<slug:name>/", report_views.report, name="cadences-report"),
]
