"""The four roles that `migrate` leaves in every installation."""

import pytest
from django.contrib.auth.models import Group, Permission

from surveys import roles

pytestmark = pytest.mark.django_db


def names(group: Group) -> set[str]:
    return {
        f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")
    }


def test_migrate_leaves_the_four_roles_with_their_permissions():
    assert set(Group.objects.values_list("name", flat=True)) >= {
        roles.ADMIN,
        roles.CX_MANAGER,
        roles.ANALYST,
        roles.AGENT,
    }
    assert Group.objects.get(name=roles.ADMIN).permissions.count() == Permission.objects.count()
    for role, permissions in roles.PERMISSIONS.items():
        assert names(Group.objects.get(name=role)) == set(permissions), role


def test_the_analyst_and_the_agent_may_write_nothing_nor_see_contacts():
    for role in (roles.ANALYST, roles.AGENT):
        granted = names(Group.objects.get(name=role))
        assert "surveys.view_contact" not in granted
        assert not {name for name in granted if name.startswith("surveys.")} - {
            "surveys.view_survey",
            "surveys.view_touchpoint",
            "surveys.view_response",
            "surveys.export_response",
            "surveys.add_apitoken",
            "surveys.view_apitoken",
            "surveys.delete_apitoken",
        }


def test_a_missing_role_is_created_again_and_an_edited_one_left_as_it_is():
    Group.objects.get(name=roles.AGENT).delete()
    manager = Group.objects.get(name=roles.CX_MANAGER)
    manager.permissions.remove(Permission.objects.get(codename="send_survey"))

    roles.ensure_roles()

    assert names(Group.objects.get(name=roles.AGENT)) == set(roles.PERMISSIONS[roles.AGENT])
    assert "surveys.send_survey" not in names(Group.objects.get(name=roles.CX_MANAGER))
