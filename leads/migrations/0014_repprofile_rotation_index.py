"""The routing rotation walks reps' profiles by ``routing_seq``: its index, and a profile
for every rep who has none (the rotation only sees reps with one)."""

from django.conf import settings
from django.db import migrations, models


def give_every_rep_a_profile(apps, schema_editor):
    User = apps.get_model(settings.AUTH_USER_MODEL)
    RepProfile = apps.get_model("leads", "RepProfile")
    missing = User.objects.filter(groups__name="reps", rep_profile__isnull=True)
    RepProfile.objects.bulk_create(
        [RepProfile(user_id=user_id) for user_id in missing.values_list("id", flat=True)]
    )


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0013_manager_permissions_step_and_decided_days"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="repprofile",
            index=models.Index(fields=["routing_seq", "user"], name="repprofile_rotation"),
        ),
        migrations.RunPython(give_every_rep_a_profile, migrations.RunPython.noop),
    ]
