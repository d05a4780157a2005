"""A person with data in every place it can be, beside others who stay: the world of the erasure
and the access export's tests."""

import json
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.utils import timezone

from feedback import exports
from feedback.models import ExportRecord
from surveys.answering.collect import Identity
from surveys.models import Contact, Invitation, Response, Survey, Touchpoint
from tests.factories import (
    answer_by_link,
    make_api_token,
    make_contact,
    make_invitation,
    make_subscription,
    make_survey,
    make_touchpoint,
)
from webhooks.models import Delivery, Message

# What names Anna, each unlike anything else in the world: none may be found after her erasure.
EMAIL = "Anna.Quietschgruen@Example.com"
EXTERNAL_ID = "KD-4711-XQZ"
NAME = "Annabella Quietschgrün"
PHONE = "+49 170 5550123"
CUSTOMER_NO = "Vertrag-99887766"
# Her plan is a segment the dashboards count, which others share: it may stay.
PROPERTIES = {"plan": "pro", "phone": PHONE, "contract": CUSTOMER_NO}
TRACES = [EMAIL, EXTERNAL_ID, NAME, "Annabella", "Quietschgrün", PHONE, CUSTOMER_NO]


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    """Files of exports go to the test's own folder, never to the project's media."""
    settings.MEDIA_ROOT = tmp_path


@dataclass
class World:
    survey: Survey
    touchpoint: Touchpoint
    anna: Contact
    others: list[Contact]
    answers: list[Response] = field(default_factory=list)
    claimed: Response | None = None
    pending: Invitation | None = None
    export: ExportRecord | None = None
    token: str = ""


def post_event(client: Client, token: str, body: dict, *, key: str, bulk: bool = False):
    return client.post(
        "/api/v1/events/bulk/" if bulk else "/api/v1/events/",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
    )


def event(email: str, **fields) -> dict:
    return {"touchpoint": "delivery", "email": email, **fields}


@pytest.fixture
def world(admin_user, cx_manager, settings) -> World:
    """Anna: a contact with events (one through the API with an idempotency key, one in a bulk
    request with Bernd), invitations sent, answered, failed and still to be sent, answers with
    comments naming her, an answer by link that claimed her address, webhook messages about her
    (delivered, with a log echoing her address, and pending), a prepared export file and an export
    record filtered by her name, the back office's history of her, and reads of her through the API.
    Bernd and Clara answered too, with Anna's plan."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["203.0.113.10"]
    now = timezone.now()
    survey = make_survey(kind="nps", dashboard_properties=["plan"], name="Lieferung")
    touchpoint = make_touchpoint(survey=survey, slug="delivery", name="Bestellung zugestellt")
    subscription = make_subscription(owner=admin_user, include_comments=True, include_personal_data=True)
    client = Client()
    token = make_api_token(user=admin_user, write=True)

    first = post_event(
        client,
        token,
        event(
            EMAIL,
            external_id=EXTERNAL_ID,
            name=NAME,
            contact_properties=PROPERTIES,
            properties={"order_id": "A-1042", "note": f"für {NAME}"},
        ),
        key="anna-1",
    )
    assert first.status_code == 202, first.content
    bulk = post_event(
        client,
        token,
        {"events": [event(EMAIL, properties={"order_id": "A-2001"}), event("bernd@example.com")]},
        key="anna-and-bernd",
        bulk=True,
    )
    assert bulk.status_code == 200, bulk.content
    anna = Contact.objects.get(external_id=EXTERNAL_ID)
    bernd = Contact.objects.get(email="bernd@example.com")
    clara = make_contact(email="clara@example.com", properties={"plan": "pro"})
    pending = Invitation.objects.filter(contact=anna, status="scheduled").order_by("pk").first()

    world = World(survey=survey, touchpoint=touchpoint, anna=anna, others=[bernd, clara], token=token)
    world.pending = pending
    comments = [
        f"Ich bin {NAME}, erreichbar unter {EMAIL} oder {PHONE}. Kundennummer {EXTERNAL_ID}.",
        "Der Fahrer war freundlich.",
        "",
    ]
    for days, (score, comment) in enumerate(zip((3, 9, 7), comments, strict=True), start=1):
        invitation = make_invitation(
            survey=survey,
            touchpoint=touchpoint,
            contact=anna,
            now=now - timedelta(days=days),
            properties={"order_id": f"A-{days}", "recipient": NAME},
            message_id=f"<{days}.anna@cx.example.com>",
            provider_message_id=f"provider-{days}",
        )
        world.answers.append(
            invitation.record_answer(
                score=score, comment=comment, language="de", now=now - timedelta(days=days)
            )
        )
    make_invitation(
        survey=survey,
        touchpoint=touchpoint,
        contact=anna,
        status=Invitation.Status.FAILED,
        sent_at=None,
        last_error=f"550 5.1.1 <{EMAIL.lower()}>: no such user",
    )
    for other, score in ((bernd, 10), (clara, 6)):
        invitation = make_invitation(
            survey=survey, touchpoint=touchpoint, contact=other, now=now - timedelta(days=2)
        )
        invitation.record_answer(score=score, comment="Gut", language="de", now=now - timedelta(days=2))
    world.claimed = answer_by_link(
        survey,
        2,
        now - timedelta(days=4),
        comment=f"Grüße, {NAME}",
        identity=Identity(email=EMAIL.upper(), external_id=EXTERNAL_ID, name=NAME),
        properties={"plan": "pro", "shop": "Nord"},
    )

    # The webhook messages about her first answer went out; the receiver's answer echoed her address.
    delivered = Message.objects.filter(payload__data__id=str(world.answers[0].public_id)).get()
    Message.objects.filter(pk=delivered.pk).update(status="delivered", next_attempt_at=None, attempts=1)
    Delivery.objects.create(
        subscription=subscription,
        message=delivered,
        attempt=1,
        status="succeeded",
        response_code=200,
        response_body=f'{{"received": "{EMAIL}"}}',
        duration_ms=12,
        attempted_at=now,
    )
    # She unsubscribed at last: the unsubscription is reported to subscribers too.
    unsubscribed = client.post(f"/u/{_unsubscribe_token(anna)}/", {"List-Unsubscribe": "One-Click"})
    assert unsubscribed.status_code == 200

    # A CX manager prepared an export with her rows, and searched for her name in another one.
    export = exports.Export.from_filters({"survey": [str(survey.pk)]}, user=cx_manager, personal=True)
    record = exports.prepared_record(cx_manager, export, "csv", {"survey": [str(survey.pk)]})
    exports.prepare_export(record_id=record.pk)
    world.export = ExportRecord.objects.get(pk=record.pk)
    assert EMAIL.encode() in world.export.file.read()
    ExportRecord.objects.create(
        user=cx_manager,
        username=cx_manager.username,
        format="csv",
        filters={"survey": [str(survey.pk)], "q": ["Quietschgrün"], "category": ["detractor"]},
        personal=True,
        status="done",
    )
    # The back office's history names her; reads through the API are in the audit log.
    for obj in (anna, Invitation.objects.get(response=world.answers[0])):
        LogEntry.objects.create(
            user=admin_user,
            content_type=ContentType.objects.get_for_model(obj),
            object_id=str(obj.pk),
            object_repr=str(obj)[:200],
            action_flag=CHANGE,
            change_message='[{"changed": {"fields": ["Name"]}}]',
        )
    read = client.get("/api/v1/contacts/", {"email": EMAIL}, headers={"Authorization": f"Bearer {token}"})
    assert read.status_code == 200 and read.json()["results"][0]["id"] == anna.pk
    return world


def _unsubscribe_token(contact: Contact) -> str:
    from surveys.email.unsubscribe import unsubscribe_token

    return unsubscribe_token(contact)
