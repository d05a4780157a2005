"""Contacts and invitations through the API: permissions, the table's rules as 400s, no tokens shown."""

import pytest

from surveys.models import Contact, Invitation
from tests.factories import make_api_token, make_contact, make_invitation, make_survey, take_away

pytestmark = pytest.mark.django_db

CONTACTS, INVITATIONS = "/api/v1/contacts/", "/api/v1/invitations/"


def call(client, token, method, url, body=None, **params):
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
    if method == "get":
        return client.get(url, params, headers=headers)
    return getattr(client, method)(url, body, content_type="application/json", headers=headers)


@pytest.fixture
def writer(cx_manager):
    return make_api_token(user=cx_manager, write=True)


def test_contacts_need_the_contact_permissions(client, cx_manager):
    take_away(cx_manager, "view_contact", "add_contact")
    token = make_api_token(user=cx_manager, write=True)
    assert call(client, token, "get", CONTACTS).status_code == 403
    refused = call(client, token, "post", CONTACTS, {"email": "a@example.com"})
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "The user of this API token lacks the permission for this."
    assert not Contact.objects.exists()


def test_a_read_only_token_cannot_create(client, cx_manager):
    token = make_api_token(user=cx_manager)
    assert call(client, token, "post", CONTACTS, {"email": "a@example.com"}).status_code == 403


def test_create_find_and_update_a_contact(client, writer):
    created = call(
        client,
        writer,
        "post",
        CONTACTS,
        {
            "email": "Eva@Example.com",
            "name": "Eva",
            "language": "de",
            "legal_basis": "consent",
            "properties": {"plan": "pro"},
        },
    )
    assert created.status_code == 201, created.content
    contact = Contact.objects.get()
    assert created.json()["id"] == contact.pk
    assert (contact.email, contact.properties, contact.legal_basis) == (
        "Eva@Example.com",
        {"plan": "pro"},
        "consent",
    )
    found = call(client, writer, "get", CONTACTS, email="eva@example.com").json()["results"]
    assert [item["id"] for item in found] == [contact.pk]

    before = contact.updated_at
    changed = call(
        client,
        writer,
        "patch",
        f"{CONTACTS}{contact.pk}/",
        {"properties": {"plan": "basic"}, "email": "eva@example.com"},
    )
    assert changed.status_code == 200, changed.content
    contact.refresh_from_db()
    assert contact.properties == {"plan": "basic"} and contact.email == "eva@example.com"
    assert contact.updated_at > before


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"email": "TAKEN@example.com"}, "email", "Another contact has this email address."),
        (
            {"email": "b@example.com", "external_id": "K-1"},
            "external_id",
            "Another contact has this external id.",
        ),
        ({"name": "Nobody"}, "non_field_errors", "Give the contact's email or external_id (or both)."),
        ({"email": "a@example.com", "language": "fr"}, "language", "Choose one of: , de, en."),
        (
            {"email": "a@example.com", "legal_basis": "maybe"},
            "legal_basis",
            "Choose one of: none, consent, customer.",
        ),
        ({"email": "not an address"}, "email", "Enter a valid email address."),
        ({"email": "a@example.com", "unknown": 1}, None, None),
    ],
)
def test_the_tables_rules_are_400s_naming_the_field(client, writer, body, field, message):
    make_contact(email="taken@example.com", external_id="K-1")
    answer = call(client, writer, "post", CONTACTS, body)
    if field is None:  # unknown fields are ignored by model serializers; the contact is created
        assert answer.status_code == 201
        return
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid"
    assert message in str(error["fields"][field])
    assert Contact.objects.count() == 1


@pytest.mark.parametrize("parameter", ["email", "external_id"])
def test_a_nul_in_a_filter_is_a_400_not_a_server_error(client, writer, parameter):
    """PostgreSQL cannot even compare a text holding a NUL."""
    make_contact(email="anna@example.com", external_id="K-1")
    answer = call(client, writer, "get", CONTACTS, **{parameter: "anna\x00@example.com"})
    assert answer.status_code == 400
    assert answer.json()["error"]["fields"] == {parameter: ["Null characters are not allowed."]}


def test_invitations_are_read_without_their_token(client, cx_manager):
    survey = make_survey()
    sent = make_invitation(survey=survey)
    make_invitation(survey=survey, status=Invitation.Status.BOUNCED)
    make_invitation()
    token = make_api_token(user=cx_manager)
    listed = call(client, token, "get", INVITATIONS, survey=survey.pk, status="sent").json()["results"]
    assert [item["id"] for item in listed] == [sent.pk]
    assert "token" not in listed[0]
    assert sent.token not in call(client, token, "get", f"{INVITATIONS}{sent.pk}/").content.decode()
    assert (
        call(client, make_api_token(user=cx_manager, write=True), "post", INVITATIONS, {}).status_code == 405
    )
    refused = call(client, token, "get", INVITATIONS, status="lost")
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"]["status"] == [
        "Choose one of: " + ", ".join(Invitation.Status.values) + "."
    ]
