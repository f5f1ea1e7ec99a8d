"""The `managers` group gets the permissions of the report summary tables (cadences 0008),
as leads 0003 gave them for every model then: a model added later needs its grant.
The admin shows these tables read-only; the worker writes them."""

import importlib

from django.conf import settings
from django.db import migrations

first_grant = importlib.import_module("leads.migrations.0003_manager_permissions")
MODELS = ("touchday", "reportsummary")


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
        ("leads", "0011_pages_indexes"),
        ("cadences", "0009_reports_lead_speed_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
