from __future__ import annotations

from django.urls import path

from leads import exports, import_views, views

urlpatterns = [
    path("", views.lead_list, name="leads-list"),
    path("new/", views.lead_create, name="leads-create"),
    path("export.csv", exports.export_leads, name="leads-export"),
    path("touches.csv", exports.export_touches, name="leads-export-touches"),
    path("import/", import_views.import_new, name="leads-import"),
    path("import/<int:pk>/", import_views.import_detail, name="leads-import-detail"),
    path("import/<int:pk>/map/", import_views.import_map, name="leads-import-map"),
    path("import/<int:pk>/progress/", import_views.import_progress, name="leads-import-progress"),
    path(
        "import/<int:pk>/bad-rows.csv", import_views.import_bad_rows, name="leads-import-bad-rows"
    ),
    path("<int:pk>/", views.lead_detail, name="leads-detail"),
    path("<int:pk>/edit/", views.lead_edit, name="leads-edit"),
    path("<int:pk>/touch/", views.lead_touch, name="leads-touch"),
    path("<int:pk>/status/", views.lead_status, name="leads-status"),
    path("<int:pk>/enrol/", views.lead_enrol, name="leads-enrol"),
    path(
        "<int:pk>/enrolments/<int:enrolment_pk>/pause/",
        views.enrolment_pause_view,
        name="leads-enrolment-pause",
    ),
    path(
        "<int:pk>/enrolments/<int:enrolment_pk>/resume/",
        views.enrolment_resume_view,
        name="leads-enrolment-resume",
    ),
    path(
        "<int:pk>/enrolments/<int:enrolment_pk>/remove/",
        views.enrolment_remove_view,
        name="leads-enrolment-remove",
    ),
    path("me/", views.profile, name="leads-profile"),
    path("me/calendar/regenerate/", views.calendar_regenerate, name="leads-calendar-regenerate"),
    path("me/tokens/", views.api_token_new, name="leads-token-create"),
    path(
        "me/tokens/<int:token_pk>/revoke/", views.api_token_revoke_view, name="leads-token-revoke"
    ),
    path("calendar/<str:token>.ics", views.calendar_feed, name="leads-calendar"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="leads-unsubscribe"),
]
