"""Two small partial indexes for the rep's Today page, which runs its reads per rep:

- ``task_pending_auto_email_rep_due``: the rep's automated emails still due today.
  Without it the page intersected every rep's pending automated tasks due by then
  (50,000 rows at 1,000 reps) with the rep's tasks of all time. Its condition names the
  channel (every automated step is an email), so only queries that say so, the page's,
  can use it: the worker's due-email query keeps its own ``task_pending_auto_due``.
- ``outbox_unknown_task``: the rep's emails whose send was interrupted. Without it the
  page probed the outbox once for each of the rep's tasks of all time (7,000 at full
  scale) to find, nearly always, none.

Plain SQL, the same on PostgreSQL and SQLite, in this app's migrations so the page's
indexes ship together (the tables are the cadences app's; their models do not declare
them, so ``makemigrations`` leaves them alone). ``bench/hot_queries.py`` and
``tests/integration/test_query_plans.py`` check that the page's queries use them.
"""

from django.db import migrations

INDEXES = {
    "task_pending_auto_email_rep_due": (
        "cadences_task (rep_id, due_at)"
        " WHERE status = 'pending' AND mode = 'auto' AND channel = 'email'"
    ),
    "outbox_unknown_task": "cadences_outboundemail (task_id) WHERE status = 'unknown'",
}


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0010_lead_first_attempt_connect"),
        ("cadences", "0006_task_created_completed_indexes"),
    ]

    operations = [
        migrations.RunSQL(
            sql=f"CREATE INDEX IF NOT EXISTS {name} ON {target}",
            reverse_sql=f"DROP INDEX IF EXISTS {name}",
        )
        for name, target in INDEXES.items()
    ]
