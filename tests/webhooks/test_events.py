"""Which changes queue which messages, with what in them, in the transaction of the change."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from surveys.answering.collect import Identity, record_public_answer
from surveys.email.unsubscribe import unsubscribe_token
from surveys.models import Contact, Response
from tests.factories import answer_by_link, make_contact, make_invitation, make_subscription, make_survey
from tests.surveys.email.test_tracking import bounce, post
from webhooks.models import Message

pytestmark = pytest.mark.django_db


def answer_as(contact_email: str, *, comment: str = "Schnell geliefert", score: int = 3) -> Response:
    return record_public_answer(
        survey=make_survey(),
        channel=Response.Channel.WIDGET,
        score=score,
        comment=comment,
        language="de",
        identity=Identity(email=contact_email, name="Anna Schmidt", external_id="C-1001", verified=True),
        properties={"order_id": "10042"},
        now=timezone.now(),
    )


def test_a_new_response_tells_ids_score_and_link_but_no_comment_or_person(admin_user, settings):
    settings.SITE_URL = "https://cx.example.com"
    subscription = make_subscription(owner=admin_user)
    response = answer_as("anna@example.com")
    message = Message.objects.get()
    assert (message.subscription, message.type, message.status) == (
        subscription,
        "response.created",
        "pending",
    )
    assert message.webhook_id.startswith("msg_")
    payload = message.payload
    assert payload["type"] == "response.created"
    assert payload["timestamp"] == timezone.localtime(response.created_at).isoformat()
    assert payload["data"] == {
        "id": str(response.public_id),
        "survey_id": response.survey_id,
        "touchpoint_id": None,
        "invitation_id": None,
        "kind": "nps",
        "score": 3,
        "category": "detractor",
        "channel": "widget",
        "language": "de",
        "created_at": timezone.localtime(response.created_at).isoformat(),
        "updated_at": timezone.localtime(response.updated_at).isoformat(),
        "links": {"response": f"https://cx.example.com/admin/surveys/response/{response.pk}/change/"},
    }
    assert "anna@example.com" not in str(payload)
    assert "Schnell" not in str(payload)


def test_comments_and_personal_data_are_sent_only_where_the_subscription_opts_in(admin_user):
    comments = make_subscription(owner=admin_user, include_comments=True)
    people = make_subscription(owner=admin_user, include_personal_data=True)
    answer_as("anna@example.com", comment="Zu langsam <b>!</b>")
    with_comment = Message.objects.get(subscription=comments).payload["data"]
    assert with_comment["comment"] == "Zu langsam <b>!</b>"
    assert "contact" not in with_comment
    with_person = Message.objects.get(subscription=people).payload["data"]
    assert with_person["contact"] == {
        "id": Contact.objects.get().pk,
        "email": "anna@example.com",
        "name": "Anna Schmidt",
        "external_id": "C-1001",
    }
    assert with_person["properties"] == {"order_id": "10042"}
    assert with_person["claimed_identity"] is None
    assert "comment" not in with_person


def test_an_unsigned_answer_tells_who_it_claims_to_be_apart_from_the_contact(admin_user):
    plain = make_subscription(owner=admin_user)
    people = make_subscription(owner=admin_user, include_personal_data=True)
    claimed = Identity(email="anna@example.com", name="Anna Schmidt", external_id="C-1001")
    answer_by_link(make_survey(), 2, timezone.now(), identity=claimed)
    data = Message.objects.get(subscription=people).payload["data"]
    assert data["contact"] is None
    assert data["claimed_identity"] == {
        "email": "anna@example.com",
        "name": "Anna Schmidt",
        "external_id": "C-1001",
    }
    payload = Message.objects.get(subscription=plain).payload
    assert "claimed_identity" not in payload["data"]
    assert "anna@example.com" not in str(payload)


def test_an_anonymous_answer_has_no_contact_even_with_personal_data(admin_user):
    make_subscription(owner=admin_user, include_personal_data=True)
    answer_by_link(make_survey(), 9, timezone.now())
    assert Message.objects.get().payload["data"]["contact"] is None


def test_an_email_answer_and_its_comment_are_a_creation_and_an_update(admin_user):
    make_subscription(owner=admin_user, include_comments=True)
    invitation = make_invitation()
    now = timezone.now()
    response = invitation.record_answer(score=9, comment=None, language="en", now=now)
    invitation.record_answer(
        score=10, comment="Great", language="en", now=now + timezone.timedelta(minutes=1)
    )
    created, updated = Message.objects.order_by("id")
    assert (created.type, created.payload["data"]["score"]) == ("response.created", 9)
    assert (updated.type, updated.payload["data"]["score"], updated.payload["data"]["comment"]) == (
        "response.updated",
        10,
        "Great",
    )
    assert updated.payload["data"]["id"] == str(response.public_id)
    assert updated.payload["data"]["touchpoint_id"] == invitation.touchpoint_id
    assert updated.payload["data"]["invitation_id"] == invitation.pk


def test_a_revised_widget_answer_is_an_update(admin_user):
    response = answer_by_link(make_survey(), 9, timezone.now())
    make_subscription(owner=admin_user)
    response.revise(score=4, comment="Eigentlich schlecht", now=timezone.now())
    message = Message.objects.get()
    assert (message.type, message.payload["data"]["score"], message.payload["data"]["category"]) == (
        "response.updated",
        4,
        "detractor",
    )


def test_a_change_rolled_back_leaves_no_message(cx_manager):
    """The outbox row is written in the change's transaction: no change, no message."""
    make_subscription(owner=cx_manager)
    with pytest.raises(RuntimeError), transaction.atomic():
        answer_by_link(make_survey(), 9, timezone.now())
        assert Message.objects.count() == 1
        raise RuntimeError("the request failed after the answer")
    assert Response.objects.count() == 0
    assert Message.objects.count() == 0


def test_only_active_subscriptions_of_active_owners_that_want_the_event_get_a_message(admin_user, outsider):
    make_subscription(owner=admin_user, events=["contact.unsubscribed"])
    make_subscription(owner=admin_user, active=False)
    outsider.is_active = False
    outsider.save(update_fields=["is_active"])
    make_subscription(owner=outsider)
    wanted = make_subscription(owner=admin_user, events=["response.updated", "response.created"])
    answer_by_link(make_survey(), 9, timezone.now())
    assert list(Message.objects.values_list("subscription", flat=True)) == [wanted.pk]


def test_without_subscriptions_an_answer_costs_one_query_more():
    survey = make_survey()
    with CaptureQueriesContext(connection) as queries:
        answer_by_link(survey, 9, timezone.now())
    webhook_queries = [query["sql"] for query in queries if "webhooks_" in query["sql"]]
    assert len(webhook_queries) == 1
    assert Message.objects.count() == 0


def test_a_bounce_is_told_once_however_often_the_provider_reports_it(client, settings, admin_user):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "postmark:s3cret-w3bhook"}
    subscription = make_subscription(owner=admin_user, include_personal_data=True)
    invitation = make_invitation(
        contact=make_contact(email="gone@example.com"),
        provider_message_id="883953f4-6105-42a2-a16a-77a8eac79483",
        message_id="<171.42@cx.example.com>",
    )
    assert post(client, bounce(invitation)).status_code == 200
    assert post(client, bounce(invitation)).status_code == 200
    message = Message.objects.get()
    assert (message.subscription, message.type) == (subscription, "invitation.bounced")
    data = message.payload["data"]
    assert (data["id"], data["survey_id"], data["touchpoint_id"]) == (
        invitation.pk,
        invitation.survey_id,
        invitation.touchpoint_id,
    )
    assert data["contact"]["email"] == "gone@example.com"
    assert data["links"]["invitation"].endswith(f"/admin/surveys/invitation/{invitation.pk}/change/")


def test_an_unsubscription_is_told_once(client, admin_user):
    make_subscription(owner=admin_user, events=["contact.unsubscribed"])
    contact = make_contact(email="anna@example.com")
    link = f"/u/{unsubscribe_token(contact)}/"
    for _ in range(2):
        client.post(link, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    message = Message.objects.get()
    contact.refresh_from_db()
    assert message.type == "contact.unsubscribed"
    assert message.payload["data"]["id"] == contact.pk
    assert (
        message.payload["data"]["unsubscribed_at"] == timezone.localtime(contact.unsubscribed_at).isoformat()
    )
    assert "contact" not in message.payload["data"]
    assert "anna@example.com" not in str(message.payload)


def test_an_unsubscription_reported_by_the_mail_provider_is_told_too(admin_user):
    from anymail.signals import AnymailTrackingEvent, EventType

    from surveys.email.tracking import record_tracking_event

    make_subscription(owner=admin_user, events=["contact.unsubscribed"])
    invitation = make_invitation(message_id="<9.1@cx.example.com>")
    event = AnymailTrackingEvent(
        event_type=EventType.UNSUBSCRIBED, message_id="x", metadata={"invitation": invitation.message_id}
    )
    record_tracking_event(None, event=event, esp_name="Postmark")
    record_tracking_event(None, event=event, esp_name="Postmark")
    assert list(Message.objects.values_list("type", "payload__data__id")) == [
        ("contact.unsubscribed", invitation.contact_id)
    ]


def test_more_subscriptions_of_one_owner_do_not_ask_for_the_owners_permissions_again(cx_manager):
    """An answer is queued inside its transaction: each subscription costs one query, to see
    whether its owner may see the survey; the owner's permissions are read once."""
    survey = make_survey()

    def queries_of_an_answer() -> int:
        with CaptureQueriesContext(connection) as queries:
            answer_by_link(survey, 9, timezone.now())
        return len(queries)

    make_subscription(owner=cx_manager, url="https://203.0.113.10/one")
    one = queries_of_an_answer()
    for number in range(2):
        make_subscription(owner=cx_manager, url=f"https://203.0.113.10/more-{number}")
    assert queries_of_an_answer() == one + 2
    assert Message.objects.count() == 1 + 3
