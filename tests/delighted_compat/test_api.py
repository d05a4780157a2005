"""The Delighted-compatible API's doors and errors, asked as Delighted's clients ask: the key as
HTTP Basic user name, Delighted's error bodies, its parameters in the query or a JSON or form body."""

import base64
from datetime import UTC, datetime

import pytest
from django.utils import timezone

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
        ("person_email=a%00@example.com", "person_email"),
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


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("people.json", {"email": "a@example.com", "properties": ["x"]}, "properties"),
        ("people.json", {"email": "a@example.com", "properties": {"x": {"nested": 1}}}, "properties"),
        ("people.json", {"email": "a@example.com", "name": 42}, "name"),
        ("people.json", {"email": "a@example.com", "send": "maybe"}, "send"),
        ("people.json", {"email": "a@example.com", "delay": "soon"}, "delay"),
        ("people.json", {"phone_number": "+4915112345678"}, "channel"),
        ("people.json", {"email": "a@example.com", "channel": "sms"}, "channel"),
        ("people.json", {"email": ["a@example.com"]}, "email"),
        ("survey_responses.json", {"person": "abc", "score": 9}, "person"),
        ("survey_responses.json", {"person": "999999", "score": 9}, "person"),
        ("survey_responses.json", {"person": "{contact}", "score": "ten"}, "score"),
        ("survey_responses.json", {"person": "{contact}", "score": -1}, "score"),
        ("survey_responses.json", {"person": "{contact}"}, "score"),
        ("survey_responses.json", {"person": "{contact}", "score": 9, "comment": "x" * 5001}, "comment"),
        (
            "survey_responses.json",
            {"person": "{contact}", "score": 9, "created_at": 4102444800},
            "created_at",
        ),
        ("people.json", {"email": "a@example.com", "name": "Jana\x00"}, "name"),
        ("people.json", {"email": "a@example.com", "properties": {"plan": "pro\ud800"}}, "properties"),
        ("survey_responses.json", {"person": "{contact}", "score": 9, "comment": "gut\x00"}, "comment"),
        ("unsubscribes.json", {}, "person_email"),
        ("unsubscribes.json", {"person_email": "nope"}, "person_email"),
    ],
)
def test_bad_bodies_are_refused_by_field_and_store_nothing(client, project, path, body, field):
    contact = make_contact(email="jana@example.com")
    body = {name: str(contact.pk) if value == "{contact}" else value for name, value in body.items()}
    answer = client.post(f"{BASE}/{path}", body, content_type="application/json", headers=basic(project.key))
    assert answer.status_code == 422, answer.content
    assert list(answer.json()["errors"]) == [field]
    assert Contact.objects.count() == 1 and not Response.objects.exists() and not Invitation.objects.exists()
    assert Contact.objects.get().unsubscribed_at is None


def test_a_person_gets_a_new_address(client, project):
    make_contact(email="old@example.com", name="Jana")
    moved = client.post(
        f"{BASE}/people.json",
        {"email": "old@example.com", "email_update": "new@example.com", "send": False},
        content_type="application/json",
        headers=basic(project.key),
    )
    assert moved.json()["email"] == "new@example.com"
    assert Contact.objects.get().email == "new@example.com"
    make_contact(email="taken@example.com")
    taken = client.post(
        f"{BASE}/people.json",
        {"email": "new@example.com", "email_update": "taken@example.com", "send": False},
        content_type="application/json",
        headers=basic(project.key),
    )
    assert (taken.status_code, list(taken.json()["errors"])) == (422, ["email_update"])
    assert Contact.objects.filter(email="new@example.com").exists()


def test_unknown_people_and_platforms_are_not_found(client, project):
    headers = basic(project.key)
    assert client.delete(f"{BASE}/people/phone_number:+4915112345678", headers=headers).status_code == 404
    assert client.delete(f"{BASE}/people/99999999999999999999", headers=headers).status_code == 404
    pending = f"{BASE}/people/nobody@example.com/survey_requests/pending"
    assert client.delete(pending, headers=headers).status_code == 404
    assert client.get(f"{BASE}/autopilot/sms.json", headers=headers).status_code == 404
    assert client.get(f"{BASE}/autopilot/sms/memberships.json", headers=headers).status_code == 404


def test_unsubscribes_come_in_numbered_pages_oldest_first(client, project):
    for day in (3, 1, 2):
        make_contact(email=f"day{day}@example.com", unsubscribed_at=datetime(2026, 5, day, tzinfo=UTC))
    first = client.get(f"{BASE}/unsubscribes.json?per_page=2", headers=basic(project.key))
    assert [row["email"] for row in first.json()] == ["day1@example.com", "day2@example.com"]
    assert 'rel="next"' in first.headers["Link"] and "page=2" in first.headers["Link"]
    second = client.get(f"{BASE}/unsubscribes.json?per_page=2&page=2", headers=basic(project.key))
    assert [row["email"] for row in second.json()] == ["day3@example.com"] and "Link" not in second.headers
    since = int(datetime(2026, 5, 2, tzinfo=UTC).timestamp())
    later = client.get(f"{BASE}/unsubscribes.json?since={since}", headers=basic(project.key))
    assert [row["email"] for row in later.json()] == ["day2@example.com", "day3@example.com"]


def test_property_names_are_spelled_as_the_importer_spells_them(client, project):
    properties = {"Purchase Experience": "Mobile App", "Größe": "L", "locale": "en_GB"}
    answer = client.post(
        f"{BASE}/people.json",
        {"email": "jana@example.com", "properties": properties, "send": False},
        content_type="application/json",
        headers=basic(project.key),
    )
    stored = {"Purchase_Experience": "Mobile App", "Groesse": "L", "locale": "en_GB"}
    assert answer.json()["properties"] == stored
    contact = Contact.objects.get()
    assert (contact.properties, contact.language) == (stored, "en")
    clash = client.post(
        f"{BASE}/people.json",
        {"email": "jana@example.com", "properties": {"A B": 1, "A_B": 2}},
        content_type="application/json",
        headers=basic(project.key),
    )
    assert (clash.status_code, list(clash.json()["errors"])) == (422, ["properties"])


def test_a_person_is_asked_within_the_touchpoints_send_window(client, project):
    touchpoint = project.touchpoint
    touchpoint.send_window = {"days": [0, 1, 2, 3, 4, 5, 6], "start": "09:00", "end": "09:01"}
    touchpoint.save()
    answer = client.post(
        f"{BASE}/people.json",
        {"email": "jana@example.com"},
        content_type="application/json",
        headers=basic(project.key),
    )
    invitation = Invitation.objects.get()
    local = timezone.localtime(invitation.scheduled_for)
    assert (local.hour, local.minute) == (9, 0)
    assert answer.json()["survey_scheduled_at"] == int(invitation.scheduled_for.timestamp())


def test_text_no_database_can_store_is_refused_everywhere(client, project):
    response = make_response(survey=project.touchpoint.survey, score=9)
    headers = basic(project.key)
    people = client.get(f"{BASE}/people.json?email=jana%00@example.com", headers=headers)
    assert (people.status_code, list(people.json()["errors"])) == (422, ["email"])
    changed = client.put(
        f"{BASE}/survey_responses/{response.pk}.json",
        {"score": 5, "expand": [{}]},
        content_type="application/json",
        headers=headers,
    )
    assert (changed.status_code, list(changed.json()["errors"])) == (422, ["expand"])
    response.refresh_from_db()
    assert response.score == 9


def test_a_query_no_database_can_store_is_refused_whatever_the_method(client, project):
    response = make_response(survey=project.touchpoint.survey, score=9)
    headers = basic(project.key)
    changed = client.put(
        f"{BASE}/survey_responses/{response.pk}.json?note=a%00b",
        {"score": 5},
        content_type="application/json",
        headers=headers,
    )
    assert (changed.status_code, list(changed.json()["errors"])) == (422, ["note"])
    assert client.delete(f"{BASE}/people/email:jana%00@example.com", headers=headers).status_code == 404
    pending = client.delete(f"{BASE}/people/jana%00@example.com/survey_requests/pending", headers=headers)
    assert pending.status_code == 404
    response.refresh_from_db()
    assert response.score == 9
