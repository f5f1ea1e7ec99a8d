from __future__ import annotations

from django.urls import path

from leads import views

urlpatterns = [
    path("", views.lead_list, name="leads-list"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="leads-unsubscribe"),
]
