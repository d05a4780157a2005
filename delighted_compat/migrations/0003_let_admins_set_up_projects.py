"""The Admin role may do everything (``surveys.roles``): a new one gets every permission when
``migrate`` makes it, an existing one gets those of the Delighted compatibility layer here."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant(apps, schema_editor) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    admins = Group.objects.filter(name="Admin").first()
    if admins is None:  # a new installation: ensure_roles creates the role whole after migrate
        return
    # Django creates permissions after all migrations; these are needed now.
    config = apps.get_app_config("delighted_compat")
    config.models_module = True
    create_permissions(config, verbosity=0, apps=apps)
    config.models_module = None
    admins.permissions.add(*Permission.objects.filter(content_type__app_label="delighted_compat"))


class Migration(migrations.Migration):
    dependencies = [
        ("delighted_compat", "0002_imported_responses"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
