"""The load forecast's snapshot: ``ForecastDay`` rows and the day a summary was made for.

It starts empty: the report computes live until the worker's first refresh
(``cadences.report_summaries.refresh_all``, hourly). The `managers` group gets the new
model's permissions, as leads 0012 gave them for the other summary tables (the admin
shows it read-only; the worker writes it).
"""

import importlib

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

first_grant = importlib.import_module("leads.migrations.0003_manager_permissions")


def grant(apps, schema_editor):
    managers, _ = apps.get_model("auth", "Group").objects.get_or_create(name="managers")
    model = apps.get_model("cadences", "forecastday")
    managers.permissions.add(
        *(first_grant._permission(apps, model, action) for action in first_grant.ACTIONS)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("cadences", "0009_reports_lead_speed_index"),
        ("leads", "0012_manager_permissions_report_summaries"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="reportsummary",
            name="as_of_day",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name="ForecastDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("calls", models.PositiveIntegerField(default=0)),
                ("emails", models.PositiveIntegerField(default=0, help_text="Manual emails")),
                ("auto_emails", models.PositiveIntegerField(default=0)),
                ("other", models.PositiveIntegerField(default=0)),
                (
                    "rep",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("rep", "day"), name="one_forecast_day_row")
                ],
            },
        ),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
