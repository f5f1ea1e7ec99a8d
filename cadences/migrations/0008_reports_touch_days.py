"""The channel mix's summary: touches per day, channel, direction and outcome.

Built here on PostgreSQL in one pass over the touches (seconds at 10M); elsewhere it
starts empty and the report reads touches live until the worker's first refresh
(``cadences.report_summaries.refresh_all``, hourly).
"""

from django.conf import settings
from django.db import migrations, models

SCHEDULE = "followup-report-summaries"

# Writers hold ROW EXCLUSIVE until they commit: SHARE waits for them, so no touch
# below the recorded id can appear later. Held for this migration only.
POSTGRES_BUILD = [
    "lock table leads_touch in share mode",
    """
    insert into cadences_touchday (day, channel, direction, outcome, n)
    select (occurred_at at time zone %(tz)s)::date, channel, direction, outcome, count(*)
    from leads_touch group by 1, 2, 3, 4
    """,
    """
    insert into cadences_reportsummary (name, through_id, time_zone, refreshed_at)
    select 'touch-days', coalesce(max(id), 0), %(tz)s, now() from leads_touch
    """,
]


def build(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for sql in POSTGRES_BUILD:
            cursor.execute(sql, {"tz": settings.TIME_ZONE})


def add_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SCHEDULE,
        defaults={
            "func": "cadences.report_summaries.refresh_all",
            "schedule_type": "H",
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cadences", "0006_task_created_completed_indexes"),
        ("leads", "0010_lead_first_attempt_connect"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReportSummary",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=50, unique=True)),
                ("through_id", models.BigIntegerField(default=0)),
                ("time_zone", models.CharField(blank=True, max_length=64)),
                ("refreshed_at", models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.CreateModel(
            name="TouchDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("channel", models.CharField(max_length=20)),
                ("direction", models.CharField(max_length=10)),
                ("outcome", models.CharField(blank=True, max_length=20)),
                ("n", models.PositiveBigIntegerField(default=0, help_text="How many touches")),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("day", "channel", "direction", "outcome"), name="one_touch_day_row"
                    )
                ],
            },
        ),
        migrations.RunPython(build, migrations.RunPython.noop),
        migrations.RunPython(add_schedule, remove_schedule),
    ]
