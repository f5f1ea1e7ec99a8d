"""The worker's schedules, by fixed name, so migrating twice never makes two."""

from django.db import migrations

SCHEDULES = [
    # name, func, schedule_type, minutes
    ("followup-tick", "cadences.tasks.tick", "I", 1),
    ("followup-repair", "cadences.tasks.repair", "H", None),
    ("followup-trim-task-history", "cadences.tasks.trim_task_history", "D", None),
]


def ensure_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, func, schedule_type, minutes in SCHEDULES:
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": schedule_type, "minutes": minutes, "repeats": -1},
        )


def remove_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name__in=[s[0] for s in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cadences", "0003_heartbeat_delete_queueitem"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(ensure_schedules, remove_schedules)]
