from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from followup import views
from followup.api import api
from leads.capture import capture

urlpatterns = [
    path("", include("cadences.urls")),
    path("leads/", include("leads.urls")),
    path("api/", api.urls),
    path("capture/<str:public_key>/", capture, name="leads-capture"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
]

handler404 = "followup.views.page_not_found"
handler500 = "followup.views.server_error"
