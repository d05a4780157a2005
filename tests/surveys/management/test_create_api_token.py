from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from surveys.models import ApiToken

pytestmark = pytest.mark.django_db


def create(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("create_api_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_prints_only_a_token_that_then_authenticates(client, cx_manager):
    out, err = create("manager")
    assert out.count("\n") == 1
    token = out.strip()
    assert token.startswith("cxs_")
    assert len(token) >= 40
    assert err == ""
    api_token = ApiToken.objects.get()
    assert (api_token.user, api_token.name, api_token.write) == (cx_manager, "command line", False)
    assert token not in {api_token.digest, api_token.hint}
    answer = client.get("/api/v1/surveys/", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    refused = client.post(
        "/api/v1/surveys/",
        "{}",
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert refused.status_code == 403


def test_a_write_token_is_named_and_may_write(client, cx_manager):
    out, _err = create("manager", "--name", "shop backend", "--write")
    api_token = ApiToken.objects.get()
    assert (api_token.name, api_token.write) == ("shop backend", True)
    answer = client.post(
        "/api/v1/surveys/",
        '{"name": "NPS", "kind": "nps", "brand": "Acme"}',
        content_type="application/json",
        headers={"Authorization": f"Bearer {out.strip()}"},
    )
    assert answer.status_code == 201


def test_each_call_prints_a_new_token(cx_manager):
    assert create("manager")[0] != create("manager")[0]
    assert ApiToken.objects.count() == 2


def test_an_unknown_user_is_an_error_and_creates_nothing():
    with pytest.raises(CommandError, match="No user is called 'nobody'"):
        create("nobody")
    assert not ApiToken.objects.exists()


def test_an_inactive_user_gets_no_token(cx_manager):
    cx_manager.is_active = False
    cx_manager.save(update_fields=["is_active"])
    with pytest.raises(CommandError, match="inactive"):
        create("manager")
    assert not ApiToken.objects.exists()


def test_a_name_longer_than_the_column_is_refused(cx_manager):
    with pytest.raises(CommandError, match="--name"):
        create("manager", "--name", "x" * 101)
    assert not ApiToken.objects.exists()
