"""Subscriptions in Delighted's payload format, delivered to a real receiver: the bodies Delighted's
webhooks sent, as the compatible API shows the same answer, signed both ways; and the option in
the API and the back office."""

import base64
import hashlib
import hmac
import json
import re

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from delighted_compat.models import Project
from surveys.email.unsubscribe import unsubscribe_token
from surveys.models import ApiToken, Response
from tests.factories import (
    make_api_token,
    make_contact,
    make_invitation,
    make_subscription,
    make_survey,
    make_touchpoint,
)
from webhooks import events
from webhooks.delivery import UNWRITTEN, deliver_due
from webhooks.models import Delivery, Message, Subscription

pytestmark = pytest.mark.django_db

DELIGHTED_EVENTS = ["response.created", "response.updated", "contact.unsubscribed"]


@pytest.fixture(autouse=True)
def _site(settings):
    """Permalinks of webhooks start with SITE_URL, the API's with the host it was asked at."""
    settings.SITE_URL = "http://testserver"


@pytest.fixture
def project(admin_user):
    touchpoint = make_touchpoint(survey=make_survey(kind="nps", name="Shop"), slug="after-delivery")
    token, key = ApiToken.issue(user=admin_user, name="Delighted integration", write=True)
    made = Project.objects.create(token=token, touchpoint=touchpoint)
    made.key = key
    return made


@pytest.fixture
def subscription(admin_user, receiver, allow_localhost):
    made = make_subscription(
        owner=admin_user,
        url=receiver.url(),
        payload_format="delighted",
        events=DELIGHTED_EVENTS,
        include_comments=True,
        include_personal_data=True,
    )
    receiver.secret = made.secret
    return made


def answer(project, *, comment: str | None = None, score: int = 9, contact=None) -> tuple:
    invitation = make_invitation(
        survey=project.touchpoint.survey,
        touchpoint=project.touchpoint,
        contact=contact or make_contact(email="jana@example.com", name="Jana Keßler", language="en"),
    )
    return invitation, invitation.record_answer(
        score=score, comment=comment, language="en", now=timezone.now()
    )


def fetched(client, project, response: Response) -> dict:
    """What Delighted's API answers for the same answer, person expanded."""
    key = base64.b64encode(f"{project.key}:".encode()).decode()
    answer = client.get(
        f"/delighted/v1/survey_responses/{response.pk}.json",
        {"expand[]": "person"},
        HTTP_AUTHORIZATION=f"Basic {key}",
    )
    assert answer.status_code == 200
    return answer.json()


def delighted_signature_verifies(request, secret: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(request.headers["x-delighted-webhook-signature"], expected)


def test_an_answer_arrives_as_survey_response_created_as_the_api_shows_it(
    client, project, subscription, receiver
):
    _invitation, response = answer(project, comment="Fast delivery")
    assert deliver_due() == {"delivered": 1}
    (request,) = receiver.requests
    body = json.loads(request.body)
    assert set(body) == {"event_type", "event_id", "event_data"}
    assert body["event_type"] == "survey_response.created"
    assert re.fullmatch(r"[0-9a-f]{64}", body["event_id"])
    assert body["event_data"] == fetched(client, project, response)
    assert body["event_data"]["person"]["email"] == "jana@example.com"
    assert body["event_data"]["comment"] == "Fast delivery"
    assert request.verified, "the Standard Webhooks headers sign the Delighted body too"
    assert delighted_signature_verifies(request, subscription.secret)
    assert not delighted_signature_verifies(request, "whsec_another")
    assert Message.objects.get().type == "response.created"  # the log tells CXSurvey's event


def test_a_changed_answer_arrives_as_survey_response_updated(client, project, subscription, receiver):
    invitation, response = answer(project)
    deliver_due()
    invitation.record_answer(
        score=10, comment="Even better on second thought", language="en", now=timezone.now()
    )
    assert deliver_due() == {"delivered": 1}
    first, second = (json.loads(request.body) for request in receiver.requests)
    assert (first["event_type"], second["event_type"]) == (
        "survey_response.created",
        "survey_response.updated",
    )
    assert first["event_id"] != second["event_id"]
    assert (second["event_data"]["score"], second["event_data"]["comment"]) == (
        10,
        "Even better on second thought",
    )
    assert second["event_data"] == fetched(client, project, response)
    assert all(delighted_signature_verifies(request, subscription.secret) for request in receiver.requests)


def test_a_retry_carries_the_same_event_id_and_signatures(project, subscription, receiver):
    receiver.failures = 1
    answer(project)
    assert deliver_due() == {"retry": 1}
    Message.objects.filter(status="pending").update(next_attempt_at=timezone.now())
    assert deliver_due() == {"delivered": 1}
    first, second = receiver.requests
    assert json.loads(first.body)["event_id"] == json.loads(second.body)["event_id"]
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.verified and second.verified
    assert delighted_signature_verifies(first, subscription.secret)
    assert delighted_signature_verifies(second, subscription.secret)


def test_without_personal_data_and_comments_the_person_is_reduced_and_the_comment_null(
    project, subscription, receiver
):
    Subscription.objects.filter(pk=subscription.pk).update(
        include_personal_data=False, include_comments=False
    )
    answer(project, comment="My order number is 4711")
    deliver_due()
    data = json.loads(receiver.requests[0].body)["event_data"]
    assert set(data["person"]) == {"id", "created_at"}
    assert (data["comment"], data["person_properties"]) == (None, None)
    assert b"jana@example.com" not in receiver.requests[0].body
    assert b"4711" not in receiver.requests[0].body


def test_an_owner_who_may_not_view_contacts_gets_no_person_even_if_the_subscription_asks(
    project, analyst, receiver, allow_localhost
):
    # Made before the permission was taken, as an Analyst cannot make such a subscription now.
    subscription = make_subscription(
        owner=analyst,
        url=receiver.url(),
        payload_format="delighted",
        events=DELIGHTED_EVENTS,
        include_personal_data=True,
    )
    receiver.secret = subscription.secret
    answer(project, comment="Fine")
    assert deliver_due() == {"delivered": 1}
    data = json.loads(receiver.requests[0].body)["event_data"]
    assert set(data["person"]) == {"id", "created_at"}
    assert data["person_properties"] is None
    assert b"jana@example.com" not in receiver.requests[0].body


def test_an_unsubscription_arrives_as_unsubscribe_created(client, subscription, receiver):
    contact = make_contact(email="anna@example.com", name="Anna")
    client.post(
        f"/u/{unsubscribe_token(contact)}/",
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert deliver_due() == {"delivered": 1}
    (request,) = receiver.requests
    body = json.loads(request.body)
    contact.refresh_from_db()
    assert body["event_type"] == "unsubscribe.created"
    assert re.fullmatch(r"[0-9a-f]{64}", body["event_id"])
    assert body["event_data"] == {
        "person": {
            "id": str(contact.pk),
            "email": "anna@example.com",
            "name": "Anna",
            "created_at": int(contact.created_at.timestamp()),
        },
        "unsubscribed_at": int(contact.unsubscribed_at.timestamp()),
    }
    assert request.verified and delighted_signature_verifies(request, subscription.secret)


def test_a_test_message_is_a_sample_survey_response(client, project, subscription, receiver):
    _invitation, response = answer(project, comment="Real")
    deliver_due()
    events.queue_test(subscription)
    assert deliver_due() == {"delivered": 1}
    request = receiver.requests[-1]
    body = json.loads(request.body)
    assert body["event_type"] == "survey_response.created"
    assert set(body["event_data"]) == set(fetched(client, project, response))
    assert set(body["event_data"]["person"]) == set(fetched(client, project, response)["person"])
    assert request.verified and delighted_signature_verifies(request, subscription.secret)


def test_an_answer_deleted_before_it_is_sent_is_not_sent(project, subscription, receiver):
    _invitation, response = answer(project)
    Response.objects.filter(pk=response.pk).delete()
    assert deliver_due() == {"withheld": 1}
    assert receiver.requests == []
    assert Delivery.objects.get().error == UNWRITTEN


def test_a_cxsurvey_subscription_beside_it_is_unchanged(admin_user, project, subscription, receiver):
    standard = make_subscription(owner=admin_user, url=receiver.url("/standard"), events=["response.created"])
    assert standard.payload_format == "cxsurvey"
    Subscription.objects.filter(pk=standard.pk).update(secret=subscription.secret)  # one receiver
    answer(project)
    assert deliver_due() == {"delivered": 2}
    (request,) = [request for request in receiver.requests if request.path == "/standard"]
    message = Message.objects.get(subscription=standard)
    assert json.loads(request.body) == message.payload
    assert message.payload["type"] == "response.created"
    assert "x-delighted-webhook-signature" not in request.headers
    assert request.verified


def test_the_format_refuses_events_it_cannot_carry(admin_user):
    subscription = Subscription(
        owner=admin_user,
        url="https://203.0.113.10/hooks",
        payload_format="delighted",
        events=["response.created", "invitation.bounced", "case.created"],
    )
    with pytest.raises(ValidationError) as refused:
        subscription.clean()
    assert "invitation.bounced, case.created" in str(refused.value.message_dict["events"])
    subscription.events = DELIGHTED_EVENTS
    subscription.clean()


def test_an_unknown_format_is_refused(admin_user):
    subscription = Subscription(owner=admin_user, url="https://203.0.113.10/hooks", payload_format="zapier")
    subscription.events = ["response.created"]
    with pytest.raises(ValidationError) as refused:
        subscription.full_clean()
    assert "delighted" in str(refused.value.message_dict["payload_format"])


# The option in the API and the back office.


@pytest.fixture
def manager(cx_manager):
    cx_manager.user_permissions.add(*Permission.objects.filter(content_type__app_label="webhooks"))
    return cx_manager


def post(client, token, body):
    return client.post(
        "/api/v1/webhooks/",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
    )


def test_the_api_makes_and_shows_a_delighted_subscription(client, manager, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["203.0.113.10"]
    token = make_api_token(user=manager, write=True)
    made = post(
        client,
        token,
        {"url": "https://203.0.113.10/hooks", "payload_format": "delighted", "events": DELIGHTED_EVENTS},
    )
    assert made.status_code == 201, made.json()
    assert made.json()["payload_format"] == "delighted"
    assert Subscription.objects.get().payload_format == "delighted"
    shown = client.get(f"/api/v1/webhooks/{made.json()['id']}/", headers={"Authorization": f"Bearer {token}"})
    assert shown.json()["payload_format"] == "delighted"
    standard = post(client, token, {"url": "https://203.0.113.10/other", "events": ["invitation.bounced"]})
    assert standard.status_code == 201
    assert standard.json()["payload_format"] == "cxsurvey"


def test_the_api_refuses_an_unknown_format_and_events_the_format_cannot_carry(client, manager, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["203.0.113.10"]
    token = make_api_token(user=manager, write=True)
    unknown = post(
        client,
        token,
        {"url": "https://203.0.113.10/hooks", "payload_format": "zapier", "events": ["response.created"]},
    )
    assert unknown.status_code == 400
    assert "payload_format" in unknown.json()["error"]["fields"]
    uncarried = post(
        client,
        token,
        {
            "url": "https://203.0.113.10/hooks",
            "payload_format": "delighted",
            "events": ["invitation.bounced"],
        },
    )
    assert uncarried.status_code == 400
    assert "invitation.bounced" in str(uncarried.json()["error"]["fields"]["events"])
    assert not Subscription.objects.exists()


def test_the_schema_lists_the_formats(client, admin_user):
    client.force_login(admin_user)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    schemas = schema["components"]["schemas"]
    (reference,) = schemas["Subscription"]["properties"]["payload_format"]["allOf"]
    assert set(schemas[reference["$ref"].rsplit("/", 1)[1]]["enum"]) == {"cxsurvey", "delighted"}


def test_the_back_office_saves_and_shows_the_format(client, manager, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["203.0.113.10"]
    client.force_login(manager)
    form = {
        "owner": manager.pk,
        "url": "https://203.0.113.10/hooks",
        "description": "Old Delighted receiver",
        "payload_format": "delighted",
        "events": ["response.created", "invitation.bounced"],
    }
    refused = client.post(reverse("admin:webhooks_subscription_add"), form)
    assert "invitation.bounced" in str(refused.context["adminform"].form.errors["events"])
    assert not Subscription.objects.exists()
    client.post(reverse("admin:webhooks_subscription_add"), {**form, "events": ["response.created"]})
    subscription = Subscription.objects.get()
    assert subscription.payload_format == "delighted"
    page = client.get(reverse("admin:webhooks_subscription_change", args=[subscription.pk]))
    assert page.context["adminform"].form["payload_format"].value() == "delighted"
    assert 'value="delighted" selected' in page.content.decode()
