"""Give the roles that an installation already has the theme permissions of their kind: the roles
are created once (``surveys.roles.ensure_roles``) and would otherwise never learn of themes."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from surveys.roles import PERMISSIONS


def grant(apps, schema_editor) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    roles = Group.objects.filter(name__in=PERMISSIONS)
    if not roles.exists():  # a new installation: ensure_roles creates them whole after migrate
        return
    # Django creates permissions after all migrations; these are needed now.
    config = apps.get_app_config("insights")
    config.models_module = True
    create_permissions(config, verbosity=0, apps=apps)
    config.models_module = None
    for role in roles:
        codenames = [
            name.partition(".")[2] for name in PERMISSIONS[role.name] if name.startswith("insights.")
        ]
        role.permissions.add(
            *Permission.objects.filter(content_type__app_label="insights", codename__in=codenames)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0001_themes"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
