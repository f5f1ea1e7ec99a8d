"""Speed to lead on the lead: the first outbound touch and the first connecting touch
made at or after the lead's creation, backfilled from the touches."""

from django.db import migrations, models
from django.db.models import Min, OuterRef, Q, Subquery

CONNECT_OUTCOMES = ("connected", "replied", "meeting_booked")

# One pass over the touches, one update of the leads: about a minute at 10M touches.
POSTGRES_BACKFILL = """
update leads_lead l
set first_attempt_at = f.attempt_at, first_connect_at = f.connect_at
from (
    select t.lead_id,
           min(t.occurred_at) filter (where t.direction = 'outbound') as attempt_at,
           min(t.occurred_at) filter (
               where t.outcome in ('connected', 'replied', 'meeting_booked')
           ) as connect_at
    from leads_touch t join leads_lead c on c.id = t.lead_id
    where t.occurred_at >= c.created_at
    group by t.lead_id
) f
where l.id = f.lead_id
"""


def backfill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_BACKFILL)
        return
    Lead = apps.get_model("leads", "Lead")
    Touch = apps.get_model("leads", "Touch")

    def first(condition: Q) -> Subquery:
        touches = Touch.objects.filter(
            condition, lead=OuterRef("pk"), occurred_at__gte=OuterRef("created_at")
        )
        return Subquery(touches.values("lead").annotate(at=Min("occurred_at")).values("at"))

    Lead.objects.update(
        first_attempt_at=first(Q(direction="outbound")),
        first_connect_at=first(Q(outcome__in=CONNECT_OUTCOMES)),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0009_email_and_account_name_upper_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="lead",
            name="first_attempt_at",
            field=models.DateTimeField(
                blank=True, help_text="First outbound touch at or after creation", null=True
            ),
        ),
        migrations.AddField(
            model_name="lead",
            name="first_connect_at",
            field=models.DateTimeField(
                blank=True, help_text="First connecting touch at or after creation", null=True
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
