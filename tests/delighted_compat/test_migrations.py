"""An installation whose Admin role exists already gets the new permissions when it migrates."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from surveys import roles

BEFORE = ("delighted_compat", "0002_imported_responses")
AFTER = ("delighted_compat", "0003_let_admins_set_up_projects")


@pytest.mark.django_db(transaction=True)
def test_an_existing_admin_role_may_set_up_projects_after_migrating():
    MigrationExecutor(connection).migrate([BEFORE])
    admins = Group.objects.get(name=roles.ADMIN)
    ours = Permission.objects.filter(content_type__app_label="delighted_compat")
    admins.permissions.remove(*ours)

    MigrationExecutor(connection).migrate([AFTER])

    assert set(admins.permissions.filter(content_type__app_label="delighted_compat")) == set(ours)
    assert {"add_project", "change_project", "view_project", "delete_project"} <= set(
        ours.values_list("codename", flat=True)
    )
