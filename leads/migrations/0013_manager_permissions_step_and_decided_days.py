"""The `managers` group gets the permissions of the step-results and best-count snapshot
tables (cadences 0011), as leads 0012 did for the first summary tables. The admin shows
them read-only; the worker rebuilds them."""

import importlib

from django.conf import settings
from django.db import migrations

first_grant = importlib.import_module("leads.migrations.0003_manager_permissions")
MODELS = ("stepresultday", "decidedleadday")


def grant(apps, schema_editor):
    managers, _ = apps.get_model("auth", "Group").objects.get_or_create(name="managers")
    models = [apps.get_model("cadences", name) for name in MODELS]
    managers.permissions.add(
        *(
            first_grant._permission(apps, model, action)
            for model in models
            for action in first_grant.ACTIONS
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0012_manager_permissions_report_summaries"),
        ("cadences", "0011_reports_step_result_and_decided_lead_days"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
