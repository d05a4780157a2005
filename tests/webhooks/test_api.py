import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import (
    answer_by_link,
    make_api_token,
    make_message,
    make_subscription,
    make_survey,
    take_away,
)
from webhooks import tasks
from webhooks.delivery import deliver_due
from webhooks.models import Delivery, Message, Subscription

pytestmark = pytest.mark.django_db

WEBHOOKS = "/api/v1/webhooks/"
PUBLIC_URL = "https://203.0.113.10/hooks"


@pytest.fixture(autouse=True)
def _public_test_address(settings):
    """203.0.113.0/24 is documentation space, not public; the tests name it as a developer would,
    and the local receiver too."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["203.0.113.10", "localhost"]


@pytest.fixture
def cx_manager(cx_manager):
    """The CX manager, who may manage webhooks too."""
    cx_manager.user_permissions.add(*Permission.objects.filter(content_type__app_label="webhooks"))
    return cx_manager


@pytest.fixture
def token(cx_manager):
    return make_api_token(user=cx_manager, write=True)


@pytest.fixture
def reader(cx_manager):
    return make_api_token(user=cx_manager, write=False, name="dashboard")


def call(client, method, path, token=None, body=None):
    headers = {"Accept-Language": "en", **({"Authorization": f"Bearer {token}"} if token else {})}
    if body is None:
        return getattr(client, method)(path, headers=headers)
    return getattr(client, method)(path, json.dumps(body), content_type="application/json", headers=headers)


def create(client, token, **fields):
    body = {"url": PUBLIC_URL, "events": ["response.created", "response.updated"], **fields}
    return call(client, "post", WEBHOOKS, token, body)


def test_a_subscription_is_created_and_its_secret_shown_in_that_answer_only(client, token, cx_manager):
    answer = create(client, token, description="CRM", include_comments=True)
    assert answer.status_code == 201, answer.content
    data = answer.json()
    subscription = Subscription.objects.get()
    assert data["secret"] == subscription.secret
    assert data["secret"].startswith("whsec_")
    assert (subscription.owner, subscription.url, subscription.description) == (cx_manager, PUBLIC_URL, "CRM")
    assert (subscription.events, subscription.include_comments, subscription.include_personal_data) == (
        ["response.created", "response.updated"],
        True,
        False,
    )
    assert data["active"] is True
    for path in [WEBHOOKS, f"{WEBHOOKS}{subscription.pk}/"]:
        shown = call(client, "get", path, token)
        assert shown.status_code == 200
        assert subscription.secret not in shown.content.decode()


def test_a_read_only_token_cannot_create_and_nothing_is_stored(client, reader):
    answer = create(client, reader)
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "permission_denied"
    assert not Subscription.objects.exists()


def test_a_user_without_the_permissions_for_webhooks_is_refused(client, outsider):
    token = make_api_token(user=outsider, write=True)
    answer = create(client, token)
    assert answer.status_code == 403
    assert call(client, "get", WEBHOOKS, token).status_code == 403
    assert not Subscription.objects.exists()


def test_personal_data_and_responses_go_only_to_users_who_may_view_them(client, cx_manager):
    take_away(cx_manager, "view_contact")
    token = make_api_token(user=cx_manager, write=True)
    answer = create(client, token, include_personal_data=True)
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == (
        "include_personal_data: The owner may not view contacts, so cannot receive their data."
    )
    take_away(cx_manager, "view_response")
    assert (
        create(client, token)
        .json()["error"]["message"]
        .startswith("events: The owner may not view responses")
    )
    assert create(client, token, events=["invitation.bounced"]).status_code == 201


def test_without_a_token_there_is_nothing(client):
    answer = call(client, "get", WEBHOOKS)
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"url": "http://169.254.169.254/latest/meta-data/"}, "url: “169.254.169.254” is 169.254.169.254"),
        ({"url": "http://10.1.2.3/hooks"}, "not a public address"),
        ({"url": "ftp://203.0.113.10/hooks"}, "url:"),
        ({"events": ["response.deleted"]}, "events: 0: Choose one of: response.created"),
        ({"events": []}, "events:"),
        ({"events": ["response.created", "response.created"]}, "events: Name each event once."),
        ({"events": "response.created"}, "events:"),
        ({"description": 42}, "description:"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_nothing_stored(client, token, fields, message):
    answer = create(client, token, **fields)
    assert answer.status_code == 400, answer.content
    assert message in answer.json()["error"]["message"]
    assert not Subscription.objects.exists()


def test_each_token_sees_its_own_users_subscriptions_only(client, token, outsider):
    theirs = make_subscription(owner=outsider)
    assert call(client, "get", WEBHOOKS, token).json()["results"] == []
    for method, path in [
        ("get", f"{WEBHOOKS}{theirs.pk}/"),
        ("delete", f"{WEBHOOKS}{theirs.pk}/"),
        ("get", f"{WEBHOOKS}{theirs.pk}/deliveries/"),
        ("post", f"{WEBHOOKS}{theirs.pk}/rotate-secret/"),
    ]:
        answer = call(client, method, path, token)
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not_found"
    assert Subscription.objects.get() == theirs


def test_a_subscription_is_changed_and_its_url_checked_again(client, token, cx_manager):
    subscription = make_subscription(owner=cx_manager, url=PUBLIC_URL)
    path = f"{WEBHOOKS}{subscription.pk}/"
    answer = call(
        client, "patch", path, token, {"events": ["contact.unsubscribed"], "include_personal_data": True}
    )
    assert answer.status_code == 200
    subscription.refresh_from_db()
    assert (subscription.events, subscription.include_personal_data) == (["contact.unsubscribed"], True)
    assert call(client, "patch", path, token, {"url": "http://[::1]/"}).status_code == 400
    subscription.refresh_from_db()
    assert subscription.url == PUBLIC_URL


def test_switching_active_pauses_and_resumes(client, token, cx_manager):
    subscription = make_subscription(owner=cx_manager, failing_since=timezone.now() - timedelta(days=2))
    path = f"{WEBHOOKS}{subscription.pk}/"
    paused = call(client, "patch", path, token, {"active": False}).json()
    assert paused["active"] is False
    assert paused["paused_at"] is not None
    resumed = call(client, "patch", path, token, {"active": True}).json()
    assert (resumed["active"], resumed["paused_at"]) == (True, None)
    subscription.refresh_from_db()
    assert subscription.failing_since is None


def test_rotating_the_secret_shows_the_new_one_and_keeps_the_old_for_a_day(client, token, reader, cx_manager):
    subscription = make_subscription(owner=cx_manager)
    old = subscription.secret
    path = f"{WEBHOOKS}{subscription.pk}/rotate-secret/"
    assert call(client, "post", path, reader).status_code == 403
    answer = call(client, "post", path, token)
    assert answer.status_code == 200
    subscription.refresh_from_db()
    assert answer.json()["secret"] == subscription.secret != old
    assert subscription.previous_secret == old
    assert subscription.previous_secret_expires_at - timezone.now() == pytest.approx(
        timedelta(hours=24), abs=timedelta(minutes=1)
    )
    assert call(client, "get", path, token).status_code == 405


def test_rotating_the_secret_needs_the_permission_to_change_subscriptions(client, cx_manager):
    take_away(cx_manager, "add_subscription")
    subscription = make_subscription(owner=cx_manager)
    path = f"{WEBHOOKS}{subscription.pk}/rotate-secret/"
    assert call(client, "post", path, make_api_token(user=cx_manager, write=True)).status_code == 200
    take_away(cx_manager, "change_subscription")
    assert call(client, "post", path, make_api_token(user=cx_manager, write=True)).status_code == 403


def test_deleting_a_subscription_deletes_its_messages(client, token, cx_manager):
    subscription = make_subscription(owner=cx_manager)
    answer_by_link(make_survey(), 9, timezone.now())
    assert call(client, "delete", f"{WEBHOOKS}{subscription.pk}/", token).status_code == 204
    assert not Subscription.objects.exists()
    assert not Message.objects.exists()


def test_the_delivery_log_lists_attempts_newest_first_with_a_fixed_number_of_queries(
    client, reader, cx_manager, receiver
):
    receiver.status, receiver.delay = 500, 0.05
    subscription = make_subscription(owner=cx_manager, url=receiver.url())
    receiver.secret = subscription.secret
    answer_by_link(make_survey(), 9, timezone.now())
    deliver_due()
    path = f"{WEBHOOKS}{subscription.pk}/deliveries/"
    call(client, "get", path, reader)  # the token's first use is recorded once
    with CaptureQueriesContext(connection) as few:
        first = call(client, "get", path, reader)
    for _ in range(3):
        answer_by_link(make_survey(), 9, timezone.now())
    deliver_due()
    with CaptureQueriesContext(connection) as many:
        latest = call(client, "get", path, reader)
    assert len(few) == len(many)
    (attempt,) = first.json()["results"]
    message = Message.objects.order_by("id").first()
    assert attempt["webhook_id"] == message.webhook_id
    assert (attempt["type"], attempt["attempt"], attempt["status"], attempt["response_code"]) == (
        "response.created",
        1,
        "failed",
        500,
    )
    assert attempt["duration_ms"] == Delivery.objects.get(pk=attempt["id"]).duration_ms
    assert 50 <= attempt["duration_ms"] < 5000  # the receiver thought for 50 ms before answering
    assert attempt["next_attempt_at"] is not None
    ids = [row["id"] for row in latest.json()["results"]]
    assert ids == sorted(Delivery.objects.values_list("id", flat=True), reverse=True)


def test_the_delivery_log_is_read_only(client, token, cx_manager):
    subscription = make_subscription(owner=cx_manager)
    assert call(client, "post", f"{WEBHOOKS}{subscription.pk}/deliveries/", token, {}).status_code == 405


def state(message: Message) -> tuple:
    message.refresh_from_db()
    return message.status, message.attempts, message.first_attempt_at, message.next_attempt_at


def resend(client, token, subscription, body):
    return call(client, "post", f"{WEBHOOKS}{subscription.pk}/resend/", token, body)


@pytest.fixture
def enqueued(monkeypatch):
    """The ids handed to workers (tests have no broker, so ``tasks.enqueue`` would hand none)."""
    ids = []
    monkeypatch.setattr(tasks, "enqueue", ids.extend)
    return ids


def test_chosen_messages_are_resent_with_their_webhook_id_and_arrive_again(
    client, token, cx_manager, receiver, enqueued
):
    subscription = make_subscription(owner=cx_manager, url=receiver.url())
    receiver.secret = subscription.secret
    answer_by_link(make_survey(), 9, timezone.now())
    answer_by_link(make_survey(), 3, timezone.now())
    assert deliver_due() == {"delivered": 2}
    enqueued.clear()  # the new messages'
    chosen, other = Message.objects.order_by("id")
    answer = resend(client, token, subscription, {"webhook_ids": [chosen.webhook_id]})
    assert answer.status_code == 202, answer.content
    assert answer.json() == {"queued": 1}
    status, attempts, first_attempt_at, next_attempt_at = state(chosen)
    assert (status, attempts, first_attempt_at) == ("pending", 0, None)
    assert next_attempt_at <= timezone.now()
    assert state(other)[:2] == ("delivered", 1)
    assert enqueued == [chosen.pk]
    tasks.deliver_message(chosen.pk)
    assert [request.headers["webhook-id"] for request in receiver.requests] == [
        chosen.webhook_id,
        other.webhook_id,
        chosen.webhook_id,
    ]
    assert receiver.requests[-1].verified
    assert receiver.requests[-1].body == receiver.requests[0].body
    assert state(chosen)[:2] == ("delivered", 1)
    assert Delivery.objects.filter(message=chosen).count() == 2


def test_a_resend_naming_messages_of_another_subscription_or_unknown_ones_resends_nothing(
    client, token, cx_manager, outsider, enqueued
):
    subscription = make_subscription(owner=cx_manager)
    ours = make_message(subscription)
    theirs = make_message(make_subscription(owner=outsider))
    before = state(ours), state(theirs)
    answer = resend(
        client, token, subscription, {"webhook_ids": [ours.webhook_id, theirs.webhook_id, "msg_made_up"]}
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid"
    assert error["message"] == (
        f"webhook_ids: Not among this subscription's messages: {theirs.webhook_id}, msg_made_up."
    )
    assert (state(ours), state(theirs)) == before
    assert enqueued == []


def test_failed_since_resends_only_this_subscriptions_messages_that_failed_since_then(
    client, token, cx_manager, outsider, enqueued
):
    subscription = make_subscription(owner=cx_manager)
    outage = timezone.now() - timedelta(days=3)
    failed = [make_message(subscription, created_at=outage + timedelta(hours=hours)) for hours in (0, 30)]
    left = [
        make_message(subscription, created_at=outage - timedelta(seconds=1)),
        make_message(subscription, status="delivered", created_at=outage + timedelta(hours=1)),
        make_message(subscription, status="pending", created_at=outage + timedelta(hours=2)),
        make_message(subscription, status="sending", created_at=outage + timedelta(hours=3)),
        make_message(make_subscription(owner=outsider), created_at=outage + timedelta(hours=4)),
    ]
    before = [state(message) for message in left]
    answer = resend(client, token, subscription, {"failed_since": outage.isoformat()})
    assert answer.status_code == 202, answer.content
    assert answer.json() == {"queued": 2}
    assert [state(message)[:3] for message in failed] == [("pending", 0, None)] * 2
    assert [state(message) for message in left] == before
    assert sorted(enqueued) == sorted(message.pk for message in failed)


def test_a_large_resend_hands_only_the_first_messages_to_workers_and_queues_all(
    client, token, cx_manager, enqueued, monkeypatch
):
    monkeypatch.setattr(tasks, "ENQUEUE_AT_MOST", 2)
    subscription = make_subscription(owner=cx_manager)
    messages = [make_message(subscription) for _ in range(3)]
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    assert resend(client, token, subscription, {"failed_since": since}).json() == {"queued": 3}
    assert Message.objects.filter(status="pending").count() == 3
    assert len(enqueued) == 2
    assert set(enqueued) < {message.pk for message in messages}


def test_a_message_being_sent_is_left_alone(client, token, cx_manager, enqueued):
    subscription = make_subscription(owner=cx_manager)
    sending, failed = make_message(subscription, status="sending"), make_message(subscription)
    answer = resend(client, token, subscription, {"webhook_ids": [sending.webhook_id, failed.webhook_id]})
    assert answer.json() == {"queued": 1}
    assert state(sending)[0] == "sending"
    assert state(failed)[0] == "pending"
    assert enqueued == [failed.pk]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (lambda webhook_id: {}, "Send exactly one of webhook_ids and failed_since."),
        (
            lambda webhook_id: {"webhook_ids": [webhook_id], "failed_since": "2026-11-22T18:00:00+01:00"},
            "Send exactly one of webhook_ids and failed_since.",
        ),
        (lambda webhook_id: {"webhook_ids": []}, "webhook_ids:"),
        (
            lambda webhook_id: {"webhook_ids": [webhook_id] * 101},
            "webhook_ids: Ensure this field has no more than 100 elements.",
        ),
        (lambda webhook_id: {"webhook_ids": [42]}, "webhook_ids:"),
        (lambda webhook_id: {"failed_since": "2026-11-22T18:00:00"}, "failed_since: This time has no offset"),
        (lambda webhook_id: {"failed_since": "yesterday"}, "failed_since: Send a time in ISO 8601"),
        (lambda webhook_id: {"failed_since": None}, "failed_since:"),
        (lambda webhook_id: {"webhook_id": webhook_id}, "webhook_id: Unknown field."),
        (lambda webhook_id: [webhook_id], "Invalid data."),
    ],
)
def test_bad_resend_requests_are_refused_with_a_message_and_nothing_resent(
    client, token, cx_manager, enqueued, body, message
):
    subscription = make_subscription(owner=cx_manager)
    failed = make_message(subscription, created_at=timezone.now() - timedelta(days=2))
    before = state(failed)
    answer = resend(client, token, subscription, body(failed.webhook_id))
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["code"] == "invalid"
    assert message in answer.json()["error"]["message"]
    assert state(failed) == before
    assert enqueued == []


def test_a_read_only_token_cannot_resend(client, reader, cx_manager):
    subscription = make_subscription(owner=cx_manager)
    failed = make_message(subscription)
    answer = resend(client, reader, subscription, {"webhook_ids": [failed.webhook_id]})
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "permission_denied"
    assert state(failed)[0] == "failed"


@pytest.mark.parametrize("missing", ["change_subscription", "change_message"])
def test_resending_needs_the_permissions_to_change_subscriptions_and_messages(client, cx_manager, missing):
    take_away(cx_manager, missing)
    token = make_api_token(user=cx_manager, write=True)
    subscription = make_subscription(owner=cx_manager)
    failed = make_message(subscription)
    answer = resend(client, token, subscription, {"webhook_ids": [failed.webhook_id]})
    assert answer.status_code == 403
    assert answer.json()["error"]["message"] == "The user of this API token lacks the permission for this."
    assert state(failed)[0] == "failed"


def test_resending_does_not_need_the_permission_to_add_subscriptions(client, cx_manager, enqueued):
    take_away(cx_manager, "add_subscription")
    token = make_api_token(user=cx_manager, write=True)
    subscription = make_subscription(owner=cx_manager)
    failed = make_message(subscription)
    assert resend(client, token, subscription, {"webhook_ids": [failed.webhook_id]}).status_code == 202
    assert state(failed)[0] == "pending"


def test_another_users_subscription_cannot_be_resent(client, token, outsider, enqueued):
    theirs = make_subscription(owner=outsider)
    failed = make_message(theirs)
    for body in [{"webhook_ids": [failed.webhook_id]}, {"failed_since": "2000-01-01T00:00:00Z"}]:
        answer = resend(client, token, theirs, body)
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not_found"
    assert state(failed)[0] == "failed"
    assert enqueued == []


def test_resend_takes_post_only(client, token, cx_manager):
    subscription = make_subscription(owner=cx_manager)
    assert call(client, "get", f"{WEBHOOKS}{subscription.pk}/resend/", token).status_code == 405


def test_a_test_message_is_signed_sent_and_logged(client, token, reader, cx_manager, receiver):
    subscription = make_subscription(owner=cx_manager, url=receiver.url())
    receiver.secret = subscription.secret
    path = f"{WEBHOOKS}{subscription.pk}/test/"
    assert call(client, "post", path, reader).status_code == 403
    answer = call(client, "post", path, token)
    assert answer.status_code == 202, answer.content
    message = Message.objects.get()
    assert answer.json() == {"webhook_id": message.webhook_id}
    assert deliver_due() == {"delivered": 1}
    (request,) = receiver.requests
    assert request.verified
    assert request.headers["webhook-id"] == message.webhook_id
    body = json.loads(request.body)
    assert (body["type"], body["data"]["subscription_id"]) == ("webhook.test", subscription.pk)
    log = call(client, "get", f"{WEBHOOKS}{subscription.pk}/deliveries/", token).json()["results"]
    assert [(attempt["type"], attempt["status"]) for attempt in log] == [("webhook.test", "succeeded")]


def test_a_paused_subscription_sends_no_test_message(client, token, cx_manager):
    subscription = make_subscription(owner=cx_manager)
    Subscription.objects.filter(pk=subscription.pk).pause(now=timezone.now())
    answer = call(client, "post", f"{WEBHOOKS}{subscription.pk}/test/", token)
    assert answer.status_code == 409
    assert (
        answer.json()["error"]["message"] == "The subscription is paused. Resume it to send a test message."
    )
    assert not Message.objects.exists()
