import pytest
from django.urls import reverse

from surveys.models import ApiToken
from tests.factories import make_api_token

pytestmark = pytest.mark.django_db

ADD = reverse("admin:surveys_apitoken_add")
CHANGELIST = reverse("admin:surveys_apitoken_changelist")


def authenticates(client, token) -> bool:
    return client.get("/api/v1/surveys/", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_new_token_is_shown_once_and_then_authenticates(client, cx_manager):
    client.force_login(cx_manager)
    answer = client.post(ADD, {"user": cx_manager.pk, "name": "shop backend", "write": "on"})
    assert answer.status_code == 200
    assert "no-store" in answer["Cache-Control"]
    api_token = ApiToken.objects.get()
    token = answer.context["token"]
    assert token.startswith(api_token.hint)
    assert token != api_token.digest
    assert f'value="{token}"' in answer.content.decode()
    assert (api_token.user, api_token.name, api_token.write) == (cx_manager, "shop backend", True)
    client.logout()
    assert authenticates(client, token)
    client.force_login(cx_manager)
    for page in [CHANGELIST, reverse("admin:surveys_apitoken_change", args=[api_token.pk])]:
        shown = client.get(page).content.decode()
        assert api_token.hint in shown
        assert token not in shown
        assert api_token.digest not in shown


def test_deleting_a_token_revokes_it(client, cx_manager):
    token = make_api_token(user=cx_manager)
    api_token = ApiToken.objects.get()
    client.force_login(cx_manager)
    answer = client.post(reverse("admin:surveys_apitoken_delete", args=[api_token.pk]), {"post": "yes"})
    assert answer.status_code == 302
    client.logout()
    assert not authenticates(client, token)


def test_staff_see_and_issue_tokens_for_themselves_only(client, cx_manager, admin_user):
    make_api_token(user=admin_user, name="the admin token")
    client.force_login(cx_manager)
    assert "the admin token" not in client.get(CHANGELIST).content.decode()
    answer = client.post(ADD, {"user": admin_user.pk, "name": "borrowed"})
    assert answer.status_code == 200
    assert "user" in answer.context["adminform"].form.errors
    assert not ApiToken.objects.filter(name="borrowed").exists()


def test_a_superuser_issues_tokens_for_anyone(client, cx_manager, admin_user):
    client.force_login(admin_user)
    client.post(ADD, {"user": cx_manager.pk, "name": "for the manager"})
    assert ApiToken.objects.get().user == cx_manager
    assert "for the manager" in client.get(CHANGELIST).content.decode()


def test_users_without_staff_rights_are_sent_to_the_login(client, non_staff):
    client.force_login(non_staff)
    assert client.get(ADD)["Location"].startswith("/admin/login/")


def test_staff_without_permissions_are_refused(client, outsider):
    client.force_login(outsider)
    assert client.get(ADD).status_code == 403
