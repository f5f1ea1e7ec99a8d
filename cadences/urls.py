from __future__ import annotations

from django.urls import path

from cadences import views

urlpatterns = [
    path("", views.today, name="cadences-today"),
    path("reports/", views.reports, name="cadences-reports"),
]
