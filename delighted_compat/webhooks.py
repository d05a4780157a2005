"""Delighted's webhooks, as a payload format of CXSurvey's webhook subscriptions.

A subscription in the "delighted" format gets the requests Delighted's webhooks sent, so
that receivers written for Delighted keep working: ``{"event_type", "event_id",
"event_data"}``, signed in ``X-Delighted-Webhook-Signature``. Queueing, retries, pausing and
the delivery log are the subscription's as for any format (``webhooks.formats``), and so
are its rules: what the owner may see, the comment only with ``include_comments``, who
answered only with ``include_personal_data``.

- ``response.created`` → ``survey_response.created``, ``response.updated`` →
  ``survey_response.updated``; ``event_data`` is the survey response with its person
  expanded, as ``GET /delighted/v1/survey_responses/{id}.json?expand[]=person`` answers for
  the owner. It is read when the message is sent, so a retry tells the answer as it then
  stands (Delighted did not say otherwise); an answer deleted meanwhile is not sent.
- ``contact.unsubscribed`` → ``unsubscribe.created``. Delighted never documented its
  ``event_data``; it is ``{"person": {"id", "email", "name", "created_at"}, "unsubscribed_at"}``
  here, the person as in a survey response and the time in Unix seconds like every other.
- ``event_id`` is 64 hex characters, the SHA-256 of the message's ``webhook-id``: the same on
  every retry and resend of a message, and different for every message.
- A test message is a made-up ``survey_response.created`` of person "0" at example.com.
"""

import hashlib
import hmac
import json
from datetime import datetime

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from delighted_compat.shapes import survey_response, survey_responses, unix
from surveys.models import Contact, Response
from webhooks.formats import PayloadFormat, Written
from webhooks.models import TEST_MESSAGE, EventType, Message, Subscription

NAME = "delighted"
EVENT_TYPES: dict[str, str] = {
    EventType.RESPONSE_CREATED: "survey_response.created",
    EventType.RESPONSE_UPDATED: "survey_response.updated",
    EventType.CONTACT_UNSUBSCRIBED: "unsubscribe.created",
}
SIGNATURE_HEADER = "X-Delighted-Webhook-Signature"
SAMPLE_TIME = 1764576000  # 2025-12-01, in the made-up response of a test message


def payload_format() -> PayloadFormat:
    return PayloadFormat(
        name=NAME,
        label=_("Delighted"),
        events=frozenset(EVENT_TYPES),
        write=write,
    )


def write(message: Message, payload: dict, subscription: Subscription, now: datetime) -> Written | None:
    """The message as Delighted's webhooks sent it; None if it reports something that no longer
    exists, or an event Delighted had no name for."""
    data = payload.get("data", {})
    event_data: dict | None
    if message.type == TEST_MESSAGE:
        event_type, event_data = "survey_response.created", _sample()
    elif (event_type := EVENT_TYPES.get(message.type, "")) == "unsubscribe.created":
        event_data = _unsubscribe(data)
    elif event_type:
        event_data = _response(data, subscription)
    else:
        return None
    if event_data is None:
        return None
    event_id = hashlib.sha256(message.webhook_id.encode()).hexdigest()
    body = json.dumps({"event_type": event_type, "event_id": event_id, "event_data": event_data}).encode()
    return Written(body, {SIGNATURE_HEADER: signature(secret=subscription.secret, body=body)})


def signature(*, secret: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of the body. Delighted keyed it with the project's API
    key, which CXSurvey cannot do: it keeps only a digest of each key. The subscription's secret
    (as the text it is shown as) keys it instead, and receivers verify with that. During a
    rotation only the new secret signs this header; the Standard Webhooks headers carry both."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _response(data: dict, subscription: Subscription) -> dict | None:
    """The survey response, with who answered only if the visible payload still names them and
    the comment only if it still has one (``Subscription.visible_payload``)."""
    answers = Response.objects.filter(public_id=data["id"])
    found = survey_responses(answers, user=subscription.owner).first()
    if found is None:
        return None
    return survey_response(
        found,
        user=subscription.owner,
        site=settings.SITE_URL,
        expand=frozenset({"person"}),
        personal="contact" in data,
        comment="comment" in data,
    )


def _unsubscribe(data: dict) -> dict | None:
    contact = Contact.objects.filter(pk=data["id"]).first()
    if contact is None:
        return None
    who: dict[str, str | None] = {"id": str(contact.pk)}
    if "contact" in data:  # personal data, where the subscription opts in and the owner may see it
        who |= {"email": contact.email or None, "name": contact.name or None}
    unsubscribed_at = data.get("unsubscribed_at")
    return {
        "person": {**who, "created_at": unix(contact.created_at)},
        "unsubscribed_at": unix(datetime.fromisoformat(unsubscribed_at)) if unsubscribed_at else None,
    }


def _sample() -> dict:
    return {
        "id": "0",
        "person": {
            "id": "0",
            "email": "someone@example.com",
            "name": "Someone",
            "phone_number": None,
            "created_at": SAMPLE_TIME,
        },
        "survey_type": "nps",
        "score": 10,
        "comment": None,
        "permalink": settings.SITE_URL,
        "created_at": SAMPLE_TIME,
        "updated_at": SAMPLE_TIME,
        "person_properties": None,
        "notes": [],
        "tags": [],
        "additional_answers": [],
    }
