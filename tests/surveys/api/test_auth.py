import json
from datetime import timedelta

import pytest
from django.utils import timezone

from surveys.models import ApiToken, Event
from surveys.public import server_error
from tests.factories import make_api_token, make_touchpoint

pytestmark = pytest.mark.django_db

SURVEYS = "/api/v1/surveys/"
EVENTS = "/api/v1/events/"


def get(client, path, *, authorization=None):
    headers = {"Accept-Language": "en"}
    if authorization is not None:
        headers["Authorization"] = authorization
    return client.get(path, headers=headers)


def post_event(client, token, body):
    return client.post(
        EVENTS,
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
    )


def assert_unauthorised(answer, code):
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"] == "Bearer"
    error = answer.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["fields"] == {}


def test_a_request_without_a_token_is_unauthorised(client):
    assert_unauthorised(get(client, SURVEYS), "not_authenticated")


@pytest.mark.parametrize(
    "authorization",
    ["Bearer cxs_not-a-real-token", "Bearer ", "Bearer two words", "bearer cxs_\u00e4\u00f6\u00fc"],
)
def test_a_wrong_or_malformed_token_is_unauthorised(client, cx_manager, authorization):
    make_api_token(user=cx_manager)
    assert_unauthorised(get(client, SURVEYS, authorization=authorization), "authentication_failed")


def test_another_scheme_than_bearer_is_unauthorised(client, cx_manager):
    token = make_api_token(user=cx_manager)
    assert_unauthorised(get(client, SURVEYS, authorization=f"Token {token}"), "not_authenticated")


def test_a_valid_token_reads_whatever_its_scope(client, cx_manager):
    token = make_api_token(user=cx_manager, write=False)
    answer = get(client, SURVEYS, authorization=f"Bearer {token}")
    assert answer.status_code == 200
    assert answer.json()["results"] == []


def test_the_scheme_name_is_case_insensitive(client, cx_manager):
    token = make_api_token(user=cx_manager)
    assert get(client, SURVEYS, authorization=f"bearer {token}").status_code == 200


def test_a_read_only_token_cannot_write_and_nothing_is_stored(client, cx_manager):
    touchpoint = make_touchpoint()
    token = make_api_token(user=cx_manager, write=False)
    answer = post_event(client, token, {"touchpoint": touchpoint.slug, "email": "anna@example.com"})
    assert answer.status_code == 403
    error = answer.json()["error"]
    assert error["code"] == "permission_denied"
    assert "write access" in error["message"]
    assert not Event.objects.exists()


def test_a_write_token_can_write(client, cx_manager):
    touchpoint = make_touchpoint()
    token = make_api_token(user=cx_manager, write=True)
    answer = post_event(client, token, {"touchpoint": touchpoint.slug, "email": "anna@example.com"})
    assert answer.status_code == 202
    assert Event.objects.count() == 1


def test_the_token_of_an_inactive_user_is_unauthorised(client, cx_manager):
    token = make_api_token(user=cx_manager)
    cx_manager.is_active = False
    cx_manager.save(update_fields=["is_active"])
    answer = get(client, SURVEYS, authorization=f"Bearer {token}")
    assert_unauthorised(answer, "authentication_failed")
    assert answer.json()["error"]["message"] == "The user of this API token is inactive."


def test_a_deleted_token_no_longer_works(client, cx_manager):
    token = make_api_token(user=cx_manager)
    ApiToken.objects.all().delete()
    assert_unauthorised(get(client, SURVEYS, authorization=f"Bearer {token}"), "authentication_failed")


def test_last_use_is_recorded_at_most_once_a_minute(client, cx_manager):
    token = make_api_token(user=cx_manager)
    api_token = ApiToken.objects.get()
    assert api_token.last_used_at is None
    get(client, SURVEYS, authorization=f"Bearer {token}")
    api_token.refresh_from_db()
    first = api_token.last_used_at
    assert first is not None

    recently = timezone.now() - timedelta(seconds=30)
    ApiToken.objects.update(last_used_at=recently)
    get(client, SURVEYS, authorization=f"Bearer {token}")
    api_token.refresh_from_db()
    assert api_token.last_used_at == recently

    long_ago = timezone.now() - timedelta(minutes=2)
    ApiToken.objects.update(last_used_at=long_ago)
    get(client, SURVEYS, authorization=f"Bearer {token}")
    api_token.refresh_from_db()
    assert api_token.last_used_at > long_ago + timedelta(minutes=1)


def test_a_token_sending_too_many_requests_is_slowed_down_alone(client, cx_manager, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api": 3}
    busy = make_api_token(user=cx_manager, name="busy")
    calm = make_api_token(user=cx_manager, name="calm")
    statuses = [get(client, SURVEYS, authorization=f"Bearer {busy}").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = get(client, SURVEYS, authorization=f"Bearer {busy}")
    assert 1 <= int(limited["Retry-After"]) <= 60
    error = limited.json()["error"]
    assert error["code"] == "throttled"
    assert error["fields"] == {}
    assert get(client, SURVEYS, authorization=f"Bearer {calm}").status_code == 200


def test_the_widget_still_needs_no_token(client):
    answer = client.get("/api/v1/widget/surveys/unknown-key/", headers={"Accept-Language": "en"})
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


def test_errors_outside_the_apis_views_have_its_error_shape(client, rf):
    """An address that is no endpoint, and a server error, answer API callers in JSON too."""
    missing = get(client, "/api/v1/answers/")
    assert (missing.status_code, missing["Content-Type"]) == (404, "application/json")
    assert missing.json() == {
        "error": {"code": "not_found", "message": "There is nothing at this address.", "fields": {}}
    }
    failed = server_error(rf.get("/api/v1/responses/", headers={"Accept-Language": "en"}))
    assert failed.status_code == 500
    assert json.loads(failed.content)["error"] == {
        "code": "server_error",
        "message": "Something went wrong on our side. Please try again later.",
        "fields": {},
    }
    # People get the page.
    page = server_error(rf.get("/dashboard/"))
    assert (page.status_code, page["Content-Type"]) == (500, "text/html; charset=utf-8")
