"""The Delighted-compatible API's doors and errors, asked as Delighted's clients ask: the key as
HTTP Basic user name, Delighted's error bodies, its parameters in the query or a JSON or form body."""

import base64

import pytest

from audit.models import AuditEvent
from delighted_compat.models import Project
from surveys import roles
from surveys.models import ApiToken, Contact, Invitation, Response
from tests.factories import make_contact, make_response, make_staff, make_survey, make_team, make_touchpoint

pytestmark = pytest.mark.django_db
BASE = "/delighted/v1"


def basic(key: str) -> dict:
    return {
        "Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(),
        "Accept-Language": "en",
    }


def key_for(user, project_or_touchpoint, *, write: bool = True) -> str:
    touchpoint = getattr(project_or_touchpoint, "touchpoint", project_or_touchpoint)
    token, key = ApiToken.issue(user=user, name="integration", write=write)
    Project.objects.create(token=token, touchpoint=touchpoint)
    return key


def test_paths_answer_with_and_without_json_and_errors_have_delighted_bodies(client, project):
    make_response(survey=project.touchpoint.survey, score=9)
    for path in (f"{BASE}/metrics.json", f"{BASE}/metrics"):
        assert client.get(path, headers=basic(project.key)).json()["response_count"] == 1

    refused = client.get(f"{BASE}/metrics.json")
    assert refused.status_code == 401
    assert refused.json()["status"] == 401 and refused.json()["message"] == "Unauthorized"
    assert refused.headers["WWW-Authenticate"].startswith("Basic")
    assert client.get(f"{BASE}/metrics.json", headers=basic("wrong")).status_code == 401
    assert client.get(f"{BASE}/metrics.json", headers={"Authorization": "Basic %%%"}).status_code == 401

    invalid = client.post(
        f"{BASE}/people.json",
        {"email": "not an address", "delay": -1},
        content_type="application/json",
        headers=basic(project.key),
    )
    assert invalid.status_code == 422
    assert invalid.json() == {
        "status": 422,
        "message": "Unprocessable Entity",
        "errors": {"email": ["is invalid"]},
    }
    missing = client.get(f"{BASE}/survey_responses/999999.json", headers=basic(project.key))
    assert (missing.status_code, missing.json()["status"]) == (404, 404)
    not_json = client.post(
        f"{BASE}/people.json", "{", content_type="application/json", headers=basic(project.key)
    )
    assert (not_json.status_code, list(not_json.json()["errors"])) == (422, ["body"])
    assert not Contact.objects.exists()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=yesterday", "since"),
        ("until=-5", "until"),
        ("per_page=101", "per_page"),
        ("per_page=0", "per_page"),
        ("page=0", "page"),
        ("order=newest", "order"),
        ("expand[]=survey", "expand"),
        ("person_id=x", "person_id"),
        ("trend=abc", "trend"),
    ],
)
def test_bad_parameters_are_named(client, project, query, field):
    answer = client.get(f"{BASE}/survey_responses.json?{query}", headers=basic(project.key))
    assert answer.status_code == 422
    assert list(answer.json()["errors"]) == [field]


def test_an_unknown_trend_is_not_found(client, project):
    foreign_touchpoint = make_touchpoint()
    answer = client.get(f"{BASE}/metrics.json?trend={foreign_touchpoint.pk}", headers=basic(project.key))
    assert answer.status_code == 404


def test_form_fields_are_taken_as_delighted_took_them(client, project):
    answer = client.post(
        f"{BASE}/people.json",
        "email=form%40example.com&name=Form&properties[Filiale]=K%C3%B6ln&send=false",
        content_type="application/x-www-form-urlencoded",
        headers=basic(project.key),
    )
    assert answer.status_code == 200, answer.content
    contact = Contact.objects.get(email="form@example.com")
    assert (contact.name, contact.properties) == ("Form", {"Filiale": "Köln"})
    assert not Invitation.objects.exists()


def test_the_rate_is_limited_per_key_with_retry_after(client, project, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api": 2}
    for _ in range(2):
        assert client.get(f"{BASE}/metrics.json", headers=basic(project.key)).status_code == 200
    limited = client.get(f"{BASE}/metrics.json", headers=basic(project.key))
    assert limited.status_code == 429
    assert limited.json()["status"] == 429 and int(limited.headers["Retry-After"]) > 0


def test_a_key_acts_within_its_users_roles_and_teams(client, project):
    survey = project.touchpoint.survey
    manager = make_staff("manager", roles.CX_MANAGER)
    analyst = make_staff("analyst", roles.ANALYST)
    foreign = make_staff("foreign", roles.CX_MANAGER)
    make_team("A", surveys=[survey], members=[manager, analyst])
    make_team("B", surveys=[make_survey()], members=[foreign])
    make_response(survey=survey, score=9, contact=make_contact(email="jana@example.com"), comment="Gut")
    body = {"email": "new@example.com"}

    # Another team's survey is not for this key.
    foreign_key = key_for(foreign, project)
    assert client.get(f"{BASE}/metrics.json", headers=basic(foreign_key)).status_code == 403
    # A CX manager asks people and reads metrics; adding answers by hand is the Admin's.
    manager_key = key_for(manager, project)
    assert (
        client.post(
            f"{BASE}/people.json", body, content_type="application/json", headers=basic(manager_key)
        ).status_code
        == 200
    )
    created = client.post(
        f"{BASE}/survey_responses.json",
        {"person": Contact.objects.first().pk, "score": 3},
        content_type="application/json",
        headers=basic(manager_key),
    )
    assert created.status_code == 403
    # A read-only key reads, and changes nothing.
    reader = key_for(manager, project, write=False)
    assert client.get(f"{BASE}/metrics.json", headers=basic(reader)).status_code == 200
    assert (
        client.post(
            f"{BASE}/unsubscribes.json",
            {"person_email": "jana@example.com"},
            content_type="application/json",
            headers=basic(reader),
        ).status_code
        == 403
    )
    # The product team reads answers with a pseudonymous person only, and never people.
    analyst_key = key_for(analyst, project)
    listed = client.get(f"{BASE}/survey_responses.json?expand[]=person", headers=basic(analyst_key)).json()
    assert listed[0]["person"].keys() == {"id", "created_at"}
    assert listed[0]["person_properties"] is None and listed[0]["comment"] == "Gut"
    assert client.get(f"{BASE}/people.json", headers=basic(analyst_key)).status_code == 403
    assert Response.objects.count() == 1


def test_reading_people_is_written_to_the_audit_log(client, project):
    make_contact(email="jana@example.com")
    client.get(f"{BASE}/people.json?email=jana@example.com", headers=basic(project.key))
    event = AuditEvent.objects.get(action="personal_data_read")
    assert event.details["count"] == 1 and event.details["path"] == f"{BASE}/people.json"
