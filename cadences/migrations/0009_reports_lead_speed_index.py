"""Speed to lead reads every lead created in the period from one index alone.

A covering index (PostgreSQL ``INCLUDE``) on ``leads_lead``: created here rather than in
``Lead.Meta`` because it serves only this report, and SQLite has no covering indexes
(its ``created_at`` index already serves the same range). Seconds at 1M leads.
"""

from django.db import migrations

CREATE = """
create index if not exists lead_created_speed on leads_lead (created_at)
include (source, owner_id, first_attempt_at, first_connect_at)
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("drop index if exists lead_created_speed")


class Migration(migrations.Migration):
    dependencies = [
        ("cadences", "0008_reports_touch_days"),
    ]

    operations = [migrations.RunPython(create, drop)]
