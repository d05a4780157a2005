"""The contacts' API with erasure (DELETE) and the export of everything held about a contact."""

import json
from datetime import datetime

import pytest

from audit.models import AuditEvent
from surveys.models import Contact, Event, Invitation, Response
from tests.factories import make_api_token, make_contact, make_survey
from tests.privacy.conftest import EMAIL, EXTERNAL_ID

pytestmark = pytest.mark.django_db


def call(client, method: str, path: str, token: str, **query):
    suffix = "?" + "&".join(f"{name}={value}" for name, value in query.items()) if query else ""
    return client.generic(
        method, path + suffix, headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"}
    )


@pytest.fixture
def admin_token(admin_user) -> str:
    return make_api_token(user=admin_user, write=True)


def test_deleting_a_contact_erases_it_once(client, admin_token, world):
    path = f"/api/v1/contacts/{world.anna.pk}/"

    erased = call(client, "DELETE", path, admin_token)
    again = call(client, "DELETE", path, admin_token)

    assert (erased.status_code, erased.content) == (204, b"")
    assert again.status_code == 404
    assert again.json() == {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}
    assert not Contact.objects.filter(pk=world.anna.pk).exists()
    assert Response.objects.filter(survey=world.survey).count() == 6
    entry = AuditEvent.objects.get(action="contact_erased")
    assert (entry.via, entry.object_id) == ("api", str(world.anna.pk))


@pytest.mark.parametrize("query", [{"email": EMAIL.upper()}, {"external_id": EXTERNAL_ID}])
def test_a_contact_is_erased_by_its_email_or_external_id(client, admin_token, world, query):
    assert call(client, "DELETE", "/api/v1/contacts/", admin_token, **query).status_code == 204
    assert not Contact.objects.filter(pk=world.anna.pk).exists()
    assert call(client, "DELETE", "/api/v1/contacts/", admin_token, **query).status_code == 404


def test_answers_that_only_claimed_an_address_are_erased_by_it(client, admin_token):
    survey = make_survey()
    claimed = Response.objects.create(
        survey=survey, kind="nps", channel="link", score=4, language="de", claimed_email="eva@example.com"
    )
    assert (
        call(client, "DELETE", "/api/v1/contacts/", admin_token, email="EVA@example.com").status_code == 204
    )
    claimed.refresh_from_db()
    assert (claimed.claimed_email, claimed.score) == ("", 4)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({}, "email: Give the contact's email or external_id (or both)."),
        (
            {"email": "x@example.com", "external_id": "B-2"},
            "email: The email and the external id belong to two contacts.",
        ),
    ],
)
def test_an_erasure_that_names_nobody_or_two_people_is_refused(client, admin_token, query, message):
    make_contact(email="x@example.com")
    make_contact(email="b@example.com", external_id="B-2")
    refused = call(client, "DELETE", "/api/v1/contacts/", admin_token, **query)
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == message
    assert Contact.objects.count() == 2


def test_an_unknown_address_is_not_found(client, admin_token):
    missing = call(client, "DELETE", "/api/v1/contacts/", admin_token, email="nobody@example.com")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "No contact and no answer has this email or external id."


def test_erasing_needs_write_access_and_the_right_to_delete_contacts(client, admin_user, cx_manager):
    contact = make_contact()
    path = f"/api/v1/contacts/{contact.pk}/"
    read_only = make_api_token(user=admin_user)
    manager = make_api_token(user=cx_manager, write=True)

    assert call(client, "DELETE", path, read_only).status_code == 403
    refused = call(client, "DELETE", path, manager)
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "The user of this API token lacks the permission for this."
    assert client.delete(path).status_code == 401
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_the_export_holds_exactly_what_the_database_holds(client, cx_manager, world):
    token = make_api_token(user=cx_manager)

    answer = call(client, "GET", f"/api/v1/contacts/{world.anna.pk}/export/", token)

    assert answer.status_code == 200
    document = json.loads(answer.content)
    anna = Contact.objects.get(pk=world.anna.pk)
    contact = document["contact"]
    assert {
        key: contact[key] for key in ("id", "email", "external_id", "name", "language", "legal_basis")
    } == {
        "id": anna.pk,
        "email": anna.email,
        "external_id": anna.external_id,
        "name": anna.name,
        "language": anna.language,
        "legal_basis": anna.legal_basis,
    }
    assert contact["properties"] == anna.properties
    assert datetime.fromisoformat(contact["unsubscribed_at"]) == anna.unsubscribed_at
    assert contact["suppressed"] is False  # not on the list while she exists
    answers = Response.objects.filter(pk__in=[a.pk for a in world.answers] + [world.claimed.pk]).order_by(
        "pk"
    )
    assert [
        (
            row["id"],
            row["score"],
            row["comment"],
            row["event_properties"],
            datetime.fromisoformat(row["created_at"]),
        )
        for row in document["responses"]
    ] == [(str(r.public_id), r.score, r.comment, r.event_properties, r.created_at) for r in answers]
    assert document["responses"][-1]["claimed_identity"]["name"] == world.claimed.claimed_name
    invitations = Invitation.objects.filter(contact=anna).order_by("pk")
    assert [(row["id"], row["status"], row["properties"]) for row in document["invitations"]] == [
        (i.pk, i.status, i.properties) for i in invitations
    ]
    events = Event.objects.filter(contact=anna).order_by("pk")
    assert [(row["id"], row["properties"]) for row in document["events"]] == [
        (e.pk, e.properties) for e in events
    ]
    assert {row["type"] for row in document["webhook_messages"]} == {
        "response.created",
        "contact.unsubscribed",
    }
    entry = AuditEvent.objects.get(action="access_exported")
    assert (entry.via, entry.object_id, entry.details["counts"]["responses"]) == ("api", str(anna.pk), 4)
    assert not AuditEvent.objects.filter(action="personal_data_read", object_id=str(anna.pk)).exists()


def test_the_export_is_for_who_may_view_contacts(client, analyst):
    contact = make_contact()
    token = make_api_token(user=analyst)
    assert call(client, "GET", f"/api/v1/contacts/{contact.pk}/export/", token).status_code == 403
    assert call(client, "GET", "/api/v1/contacts/0/export/", make_api_token(user=analyst)).status_code == 403


def test_the_export_takes_as_many_queries_for_many_answers_as_for_few(client, cx_manager, world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    token = make_api_token(user=cx_manager)
    path = f"/api/v1/contacts/{world.anna.pk}/export/"
    call(client, "GET", path, token)  # the token's first use is written down
    with CaptureQueriesContext(connection) as few:
        assert call(client, "GET", path, token).status_code == 200
    for number in range(20):
        invitation = Invitation.objects.create(
            survey=world.survey,
            touchpoint=world.touchpoint,
            contact=world.anna,
            status="sent",
            expires_at=world.anna.created_at,
        )
        Response.objects.create(
            survey=world.survey, kind="nps", invitation=invitation, contact=world.anna, channel="email",
            score=number % 11, language="de", touchpoint=world.touchpoint,
        )  # fmt: skip
    with CaptureQueriesContext(connection) as many:
        assert len(call(client, "GET", path, token).json()["responses"]) == 24
    assert len(many) == len(few)
