"""Give the `managers` group what it needs to run the team in Django admin.

Managers are staff, not superusers: they shape cadences, fix leads, set reps'
capacity and time off, and issue API tokens. So the group gets view/add/change/
delete on every model of `leads` and `cadences`, except deleting API tokens
(they are revoked, and kept for the audit trail), plus view/add/change on
users, so a manager can add a rep and edit the rep's settings inline; the user
admin stops a manager from granting superuser or arbitrary permissions.

Permissions are normally created after `migrate` (post_migrate), too late for a
fresh database, so the rows are made here with the same names Django would give
them; Django's own pass then finds them and adds nothing.

A model added to `leads` or `cadences` later needs its own migration granting
its permissions (copy `grant` below): tests/integration/test_admin.py fails
until it has one.
"""

from django.conf import settings
from django.db import migrations

APPS = ("leads", "cadences")
ACTIONS = ("view", "add", "change", "delete")
WITHHELD = {("leads", "delete_apitoken")}
USER_ACTIONS = ("view", "add", "change")


def _permission(apps, model, action):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    opts = model._meta
    content_type, _ = ContentType.objects.get_or_create(
        app_label=opts.app_label, model=opts.model_name
    )
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type,
        codename=f"{action}_{opts.model_name}",
        defaults={"name": f"Can {action} {opts.verbose_name_raw}"[:255]},
    )
    return permission


def grant(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    managers, _ = Group.objects.get_or_create(name="managers")
    permissions = []
    for app_label in APPS:
        for model in apps.get_app_config(app_label).get_models():
            for action in ACTIONS:
                if (app_label, f"{action}_{model._meta.model_name}") not in WITHHELD:
                    permissions.append(_permission(apps, model, action))
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    permissions += [_permission(apps, user_model, action) for action in USER_ACTIONS]
    managers.permissions.add(*permissions)


def revoke(apps, schema_editor):
    for managers in apps.get_model("auth", "Group").objects.filter(name="managers"):
        managers.permissions.clear()


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0002_groups"),
        ("cadences", "0003_heartbeat_delete_queueitem"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(grant, revoke)]
