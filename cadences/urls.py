from __future__ import annotations

from django.urls import path

from cadences import mail_batch_views, report_views, views

urlpatterns = [
    path("", views.today, name="cadences-today"),
    path("today/hot/", views.hot, name="cadences-hot"),
    path("today/hot/badge/", views.hot_badge, name="cadences-hot-badge"),
    path("today/auto/<int:task_id>/cancel/", views.auto_cancel, name="cadences-auto-cancel"),
    path(
        "today/emails/<int:email_id>/resolve/",
        views.outbox_resolve,
        name="cadences-outbox-resolve",
    ),
    path("work/", views.work_start, name="cadences-work-start"),
    path("work/<int:task_id>/", views.work, name="cadences-work"),
    path("work/<int:task_id>/log/", views.work_log, name="cadences-work-log"),
    path("work/<int:task_id>/email/", views.work_email, name="cadences-work-email"),
    path("work/<int:task_id>/snooze/", views.work_snooze, name="cadences-work-snooze"),
    path("work/<int:task_id>/skip/", views.work_skip, name="cadences-work-skip"),
    path("mail/", mail_batch_views.batch_page, name="cadences-mail-batch"),
    path("mail/batch.csv", mail_batch_views.batch_csv, name="cadences-mail-batch-csv"),
    path("mail/labels/", mail_batch_views.batch_labels, name="cadences-mail-batch-labels"),
    path("mail/posted/", mail_batch_views.batch_posted, name="cadences-mail-batch-posted"),
    path("reports/", report_views.reports, name="cadences-reports"),
    path("reports/follow-up-stops/leads/", report_views.stopped, name="cadences-report-stopped"),
    path("reports/<slug:name>/", report_views.report, name="cadences-report"),
]
