"""What the insights API's endpoints share with the metrics API: a token that may read answers, the
survey of one of the user's teams, and bad parameters refused in the API's error shape."""

import pytest

from surveys import roles
from tests.factories import make_api_token, make_staff, make_survey, make_team

pytestmark = pytest.mark.django_db

# Each endpoint and the parameters it needs besides the survey.
ENDPOINTS = {
    "/api/v1/insights/terms/": {"compare": "categories"},
    "/api/v1/insights/themes/": {},
    "/api/v1/insights/tone/": {},
}
LANGUAGES = ("/api/v1/insights/terms/", "/api/v1/insights/tone/")  # those that take a language


def get(client, url, token, **params):
    return client.get(url, params, headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"})


@pytest.fixture
def survey():
    return make_survey(kind="nps")


@pytest.mark.parametrize("url", ENDPOINTS)
def test_it_needs_a_token_that_may_read_answers(client, url, survey, outsider):
    assert client.get(url, {"survey": survey.pk, **ENDPOINTS[url]}).status_code == 401
    refused = get(client, url, make_api_token(user=outsider), survey=survey.pk, **ENDPOINTS[url])
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize("url", ENDPOINTS)
def test_another_teams_survey_is_not_found(client, url, survey):
    reader = make_staff("reader", roles.ANALYST)
    make_team("A", surveys=[make_survey()], members=[reader])
    make_team("B", surveys=[survey])
    answered = get(client, url, make_api_token(user=reader), survey=survey.pk, **ENDPOINTS[url])
    assert answered.status_code == 404
    assert answered.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("url", "params", "field", "message"),
    [
        ("/api/v1/insights/terms/", {"compare": None}, "compare", "This field is required."),
        (
            "/api/v1/insights/terms/",
            {"compare": "themes"},
            "compare",
            "Select a valid choice. themes is not one of the available choices.",
        ),
        ("/api/v1/insights/terms/", {"tag": "Liefer\x00ung"}, "tag", "There is no tag named"),
        ("/api/v1/insights/themes/", {"theme": "Unbekannt"}, "theme", "There is no theme “Unbekannt”"),
        *((url, {"language": "fr"}, "language", "Select a valid choice.") for url in LANGUAGES),
        *((url, {"since": "gestern"}, "since", "Enter a valid date.") for url in ENDPOINTS),
        ("/api/v1/insights/tone/", {"until": "2026-13-01"}, "until", "Enter a valid date."),
    ],
)
def test_bad_parameters_are_refused_in_the_error_shape(
    client, cx_manager, survey, url, params, field, message
):
    given = {name: value for name, value in {**ENDPOINTS[url], **params}.items() if value is not None}
    answered = get(client, url, make_api_token(user=cx_manager), survey=survey.pk, **given)
    assert answered.status_code == 400
    error = answered.json()["error"]
    assert error["code"] == "invalid"
    assert error["fields"][field][0].startswith(message)
