"""Provider reports through anymail's Postmark tracking webhook, with Postmark's documented payloads."""

import base64
from datetime import UTC, datetime

import pytest

from surveys.models import Contact, Invitation
from tests.factories import make_contact, make_invitation

pytestmark = pytest.mark.django_db

WEBHOOK = "/webhooks/email/postmark/tracking/"
SECRET = "postmark:s3cret-w3bhook"
MESSAGE_ID = "883953f4-6105-42a2-a16a-77a8eac79483"


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}


@pytest.fixture
def invitation():
    return make_invitation(
        contact=make_contact(), provider_message_id=MESSAGE_ID, message_id="<171.42@cx.example.com>"
    )


def auth(secret: str = SECRET) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(secret.encode()).decode()}


def post(client, payload: dict, headers: dict | None = None):
    return client.post(
        WEBHOOK, payload, content_type="application/json", headers=auth() if headers is None else headers
    )


def _address(invitation: Invitation) -> str:
    assert invitation.contact is not None
    return invitation.contact.email


def delivery(invitation: Invitation, at: str = "2026-03-02T13:28:10.2735393+01:00") -> dict:
    return {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "outbound",
        "MessageID": MESSAGE_ID,
        "Recipient": _address(invitation),
        "Tag": "invitation",
        "Metadata": {"invitation": invitation.message_id},
        "DeliveredAt": at,
        "Details": "Test delivery webhook details",
    }


def bounce(invitation: Invitation, kind: str = "HardBounce") -> dict:
    return {
        "RecordType": "Bounce",
        "ID": 901542550,
        "Type": kind,
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Tag": "invitation",
        "MessageID": MESSAGE_ID,
        "Metadata": {"invitation": invitation.message_id},
        "ServerID": 23,
        "MessageStream": "outbound",
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": _address(invitation),
        "From": "surveys@cx.example.com",
        "BouncedAt": "2026-03-02T13:30:00Z",
        "DumpAvailable": True,
        "Inactive": kind == "HardBounce",
        "CanActivate": True,
        "Subject": "Acme: a quick question",
    }


def spam_complaint(invitation: Invitation) -> dict:
    return {
        **bounce(invitation),
        "RecordType": "SpamComplaint",
        "Type": "SpamComplaint",
        "TypeCode": 512,
        "Name": "Spam complaint",
        "Details": "Test spam complaint details",
        "BouncedAt": "2026-03-03T08:00:00Z",
    }


def open_event(invitation: Invitation) -> dict:
    return {
        "RecordType": "Open",
        "MessageStream": "outbound",
        "FirstOpen": True,
        "Client": {"Name": "Gmail", "Company": "Google", "Family": "Gmail"},
        "OS": {"Name": "unknown", "Company": "unknown", "Family": "unknown"},
        "Platform": "Unknown",
        "UserAgent": "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0",
        "ReadSeconds": 0,
        "Geo": {},
        "MessageID": MESSAGE_ID,
        "Metadata": {"invitation": invitation.message_id},
        "ReceivedAt": "2026-03-02T14:21:41.2493688Z",
        "Tag": "invitation",
        "Recipient": _address(invitation),
    }


def test_a_delivery_marks_the_invitation_delivered_at_the_reported_time(client, invitation):
    assert post(client, delivery(invitation)).status_code == 200
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.DELIVERED
    assert invitation.delivered_at == datetime(2026, 3, 2, 12, 28, 10, 273539, tzinfo=UTC)


def test_an_open_marks_the_invitation_opened(client, invitation):
    post(client, delivery(invitation))
    assert post(client, open_event(invitation)).status_code == 200
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.OPENED
    assert invitation.opened_at == datetime(2026, 3, 2, 14, 21, 41, 249368, tzinfo=UTC)


def test_a_hard_bounce_marks_the_invitation_and_suppresses_the_contact(client, invitation):
    assert post(client, bounce(invitation)).status_code == 200
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.BOUNCED
    contact = Contact.objects.get(pk=invitation.contact_id)
    assert contact.bounced_at == datetime(2026, 3, 2, 13, 30, tzinfo=UTC)
    assert contact.suppression == "bounced"


def test_a_soft_bounce_counts_for_the_invitation_but_keeps_the_contact(client, invitation):
    post(client, bounce(invitation, "SoftBounce"))
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.BOUNCED
    assert Contact.objects.get(pk=invitation.contact_id).bounced_at is None


def test_a_deferral_the_provider_still_retries_changes_nothing(client, invitation):
    assert post(client, bounce(invitation, "Transient")).status_code == 200
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.SENT
    assert Contact.objects.get(pk=invitation.contact_id).bounced_at is None


def test_a_spam_complaint_marks_the_invitation_and_suppresses_the_contact(client, invitation):
    post(client, delivery(invitation))
    assert post(client, spam_complaint(invitation)).status_code == 200
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.COMPLAINED
    contact = Contact.objects.get(pk=invitation.contact_id)
    assert contact.complained_at == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    assert contact.bounced_at is None


def test_an_address_the_provider_calls_invalid_fails_the_invitation_and_is_suppressed(client, invitation):
    post(client, bounce(invitation, "BadEmailAddress"))
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.FAILED
    assert "invalid" in invitation.last_error
    assert Contact.objects.get(pk=invitation.contact_id).bounced_at is not None


def test_an_unsubscription_at_the_provider_unsubscribes_the_contact(client, invitation):
    payload = {
        "RecordType": "SubscriptionChange",
        "MessageID": MESSAGE_ID,
        "ServerID": 23,
        "MessageStream": "outbound",
        "ChangedAt": "2026-03-04T17:17:32Z",
        "Recipient": _address(invitation),
        "Origin": "Recipient",
        "SuppressSending": True,
        "SuppressionReason": "ManualSuppression",
        "Tag": "invitation",
        "Metadata": {"invitation": invitation.message_id},
    }
    post(client, payload)
    assert Contact.objects.get(pk=invitation.contact_id).unsubscribed_at == datetime(
        2026, 3, 4, 17, 17, 32, tzinfo=UTC
    )


def test_an_event_without_metadata_finds_the_invitation_by_the_provider_message_id(client, invitation):
    payload = delivery(invitation)
    del payload["Metadata"]
    post(client, payload)
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.DELIVERED


def test_a_late_delivery_after_a_bounce_does_not_undo_it(client, invitation):
    post(client, bounce(invitation))
    post(client, delivery(invitation))
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.BOUNCED
    assert invitation.delivered_at is None
    assert Contact.objects.get(pk=invitation.contact_id).bounced_at is not None


def test_a_repeated_report_keeps_the_first_time_and_the_status_never_goes_back(client, invitation):
    post(client, delivery(invitation))
    post(client, open_event(invitation))
    post(client, delivery(invitation, at="2026-03-05T09:00:00Z"))
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.OPENED
    assert invitation.delivered_at == datetime(2026, 3, 2, 12, 28, 10, 273539, tzinfo=UTC)


def test_an_invitation_still_being_sent_keeps_its_status_for_the_sender(client, invitation):
    Invitation.objects.filter(pk=invitation.pk).update(status=Invitation.Status.SENDING)
    post(client, delivery(invitation))
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.SENDING
    assert invitation.delivered_at is not None


def test_an_event_for_an_unknown_message_changes_nothing(client, invitation):
    payload = bounce(invitation)
    payload["MessageID"] = "00000000-0000-0000-0000-000000000000"
    payload["Metadata"] = {"invitation": "<unknown@cx.example.com>"}
    assert post(client, payload).status_code == 200
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.SENT
    assert Contact.objects.get(pk=invitation.contact_id).bounced_at is None


@pytest.mark.parametrize("headers", [{}, auth("postmark:wrong"), {"Authorization": "Bearer s3cret-w3bhook"}])
def test_a_forged_bounce_without_the_secret_is_refused_and_changes_nothing(client, invitation, headers):
    response = post(client, bounce(invitation), headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic ")
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.SENT
    assert Contact.objects.get(pk=invitation.contact_id).bounced_at is None


def test_without_a_configured_secret_the_webhooks_do_not_exist(client, invitation, settings):
    settings.ANYMAIL = {}
    assert post(client, bounce(invitation)).status_code == 404
    assert post(client, bounce(invitation), headers={}).status_code == 404
    assert Contact.objects.get(pk=invitation.contact_id).bounced_at is None


def test_the_inbound_webhooks_are_guarded_by_the_same_secret(client):
    # Received mail is the customers' answers to replies from cases (tests/followup/test_inbound.py).
    inbound = "/webhooks/email/postmark/inbound/"
    assert client.post(inbound, {}, headers=auth("postmark:wrong")).status_code == 401
