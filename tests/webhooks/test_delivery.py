"""Delivering messages to a real receiver: signed, retried with back-off and the same webhook-id,
logged, and a subscription paused (and its owner told) after a day of failures."""

import json
import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from django.utils.http import http_date

from tests.factories import answer_by_link, make_subscription, make_survey
from tests.threads import at_once
from webhooks import delivery
from webhooks.delivery import RETRY_WAITS, claim_due_messages, deliver_due, next_attempt
from webhooks.models import Delivery, Message, Subscription

pytestmark = pytest.mark.django_db


def answer(score: int = 9) -> None:
    answer_by_link(make_survey(), score, timezone.now(), comment="Fast delivery")


def make_due() -> None:
    """What waiting for the back-off would do."""
    Message.objects.filter(status="pending").update(next_attempt_at=timezone.now())


@pytest.fixture
def subscription(admin_user, receiver, allow_localhost):
    subscription = make_subscription(owner=admin_user, url=receiver.url())
    receiver.secret = subscription.secret
    return subscription


def test_a_message_arrives_signed_with_its_payload(subscription, receiver):
    answer()
    assert deliver_due() == {"delivered": 1}
    message = Message.objects.get()
    (request,) = receiver.requests
    assert request.verified
    assert request.headers["webhook-id"] == message.webhook_id
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.body) == message.payload
    assert message.payload["type"] == "response.created"
    assert message.status == "delivered"
    attempt = Delivery.objects.get()
    assert (attempt.attempt, attempt.status, attempt.response_code) == (1, "succeeded", 204)
    assert attempt.subscription == subscription
    assert attempt.next_attempt_at is None


def test_failed_attempts_are_retried_with_the_same_webhook_id_until_one_succeeds(subscription, receiver):
    receiver.failures = 2
    answer()
    assert deliver_due() == {"retry": 1}
    first = Delivery.objects.get()
    assert (first.status, first.response_code, first.response_body) == ("failed", 500, "try again later")
    assert first.next_attempt_at - first.attempted_at == pytest.approx(
        RETRY_WAITS[0], abs=timedelta(seconds=2)
    )
    assert deliver_due() == {}, "not due before its back-off"
    make_due()
    assert deliver_due() == {"retry": 1}
    make_due()
    assert deliver_due() == {"delivered": 1}
    assert len({request.headers["webhook-id"] for request in receiver.requests}) == 1
    assert all(request.verified for request in receiver.requests)
    assert [request.body for request in receiver.requests] == [receiver.requests[0].body] * 3
    log = Delivery.objects.order_by("id")
    assert [(d.attempt, d.status, d.response_code) for d in log] == [
        (1, "failed", 500),
        (2, "failed", 500),
        (3, "succeeded", 204),
    ]
    subscription.refresh_from_db()
    assert subscription.failing_since is None
    assert Message.objects.get().status == "delivered"


def test_the_wait_grows_with_each_failure_and_stops_a_day_after_the_first_attempt():
    first = timezone.now()
    waits = [next_attempt(first_attempt_at=first, attempts=n, now=first) - first for n in range(1, 12)]
    assert waits[:8] == [
        timedelta(seconds=5),
        timedelta(seconds=30),
        timedelta(minutes=2),
        timedelta(minutes=10),
        timedelta(minutes=30),
        timedelta(hours=1),
        timedelta(hours=2),
        timedelta(hours=4),
    ]
    assert waits[8:] == [timedelta(hours=4)] * 3
    late = first + timedelta(hours=22)
    assert next_attempt(first_attempt_at=first, attempts=12, now=late) == first + timedelta(hours=24)
    assert next_attempt(first_attempt_at=first, attempts=13, now=first + timedelta(hours=24)) is None


def test_a_message_failing_for_a_day_fails_for_good(subscription, receiver):
    receiver.failures = 1000
    answer()
    Message.objects.update(first_attempt_at=timezone.now() - timedelta(hours=24), attempts=12)
    assert deliver_due() == {"failed": 1}
    message = Message.objects.get()
    assert (message.status, message.next_attempt_at, message.attempts) == ("failed", None, 13)


def test_a_subscription_failing_for_a_day_is_paused_and_its_owner_told(subscription, receiver, smtp):
    receiver.status = 503
    answer()
    Subscription.objects.update(failing_since=timezone.now() - timedelta(hours=24, minutes=1))
    assert deliver_due() == {"retry": 1}
    subscription.refresh_from_db()
    assert (subscription.active, subscription.pause_reason) == (False, delivery.PAUSE_REASON)
    assert subscription.paused_at is not None
    (mail,) = smtp.messages
    assert mail["To"] == subscription.owner.email
    assert subscription.url in mail["Subject"]
    text = mail.get_body(("plain",)).get_content()
    assert "HTTP 503" in text
    assert f"/admin/webhooks/subscription/{subscription.pk}/change/" in text
    make_due()
    assert deliver_due() == {}, "a paused subscription's messages wait"
    assert Message.objects.get().status == "pending"


def test_a_receiver_answering_gone_pauses_its_subscription_at_once(subscription, receiver, smtp):
    """Standard Webhooks: 410 means the endpoint no longer wants messages; retrying would only pester it."""
    receiver.status = 410
    answer()
    assert deliver_due() == {"retry": 1}
    subscription.refresh_from_db()
    assert (subscription.active, subscription.pause_reason) == (False, delivery.GONE_REASON)
    (mail,) = smtp.messages
    text = mail.get_body(("plain",)).get_content()
    # In the installation's language, German by default.
    assert f"Der Empfänger unter {subscription.url} hat mit 410 Gone geantwortet" in text
    assert "Stunden" not in text
    make_due()
    assert deliver_due() == {}, "its messages wait for the subscription to be resumed"
    assert Message.objects.get().status == "pending"


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [
        ("120", timedelta(minutes=2)),  # longer than the back-off's 5 seconds: the receiver's wins
        ("1", RETRY_WAITS[0]),  # shorter: the back-off's
        ("soon", RETRY_WAITS[0]),  # malformed: ignored
        ("Sun, 06 Nov 1994 08:49:37 GMT", RETRY_WAITS[0]),  # a date in the past: at once, so the back-off
        ("172800", timedelta(hours=24)),  # beyond the day of retries: the last attempt, at its end
    ],
)
def test_a_receiver_asking_to_wait_is_given_the_time(subscription, receiver, retry_after, wait):
    receiver.status, receiver.headers = 429, {"Retry-After": retry_after}
    answer()
    assert deliver_due() == {"retry": 1}
    attempt = Delivery.objects.get()
    assert attempt.response_code == 429
    assert attempt.next_attempt_at - attempt.attempted_at == pytest.approx(wait, abs=timedelta(seconds=2))


def test_a_retry_after_date_counts_from_now(subscription, receiver):
    later = timezone.now() + timedelta(minutes=10)
    receiver.status, receiver.headers = 503, {"Retry-After": http_date(later.timestamp())}
    answer()
    deliver_due()
    assert Message.objects.get().next_attempt_at == pytest.approx(later, abs=timedelta(seconds=2))


def test_failures_for_less_than_a_day_do_not_pause(subscription, receiver, smtp):
    receiver.status = 503
    answer()
    Subscription.objects.update(failing_since=timezone.now() - timedelta(hours=23))
    deliver_due()
    subscription.refresh_from_db()
    assert subscription.active
    assert smtp.messages == []


def test_the_first_failure_starts_the_streak_and_a_success_ends_it(subscription, receiver):
    receiver.failures = 1
    answer()
    deliver_due()
    subscription.refresh_from_db()
    assert subscription.failing_since == Delivery.objects.get().attempted_at
    make_due()
    deliver_due()
    subscription.refresh_from_db()
    assert subscription.failing_since is None


def test_a_resumed_subscription_delivers_what_waited_and_starts_a_new_streak(subscription, receiver):
    answer()
    Subscription.objects.filter(pk=subscription.pk).pause(now=timezone.now(), reason="test")
    Subscription.objects.update(failing_since=timezone.now() - timedelta(days=2))
    assert deliver_due() == {}
    assert Subscription.objects.filter(pk=subscription.pk).resume() == 1
    subscription.refresh_from_db()
    assert (subscription.paused_at, subscription.pause_reason, subscription.failing_since) == (None, "", None)
    assert deliver_due() == {"delivered": 1}


def test_a_resent_message_keeps_its_webhook_id_and_gets_a_new_day(subscription, receiver):
    answer()
    deliver_due()
    message = Message.objects.get()
    assert Message.objects.resend(now=timezone.now()) == 1
    message.refresh_from_db()
    assert (message.status, message.attempts, message.first_attempt_at) == ("pending", 0, None)
    assert deliver_due() == {"delivered": 1}
    assert [r.headers["webhook-id"] for r in receiver.requests] == [message.webhook_id] * 2


def test_a_claim_of_a_stopped_worker_goes_back_to_the_queue(subscription, receiver):
    answer()
    assert claim_due_messages(now=timezone.now(), limit=10) == [Message.objects.get().pk]
    Message.objects.update(claimed_at=timezone.now() - delivery.CLAIM_LEASE - timedelta(seconds=1))
    assert deliver_due() == {"delivered": 1}
    assert Message.objects.get().attempts == 2


def test_a_fresh_claim_of_a_working_worker_is_left_alone(subscription, receiver):
    answer()
    claim_due_messages(now=timezone.now(), limit=10)
    assert deliver_due() == {}
    assert Message.objects.get().status == "sending"


def test_a_message_of_a_deleted_subscription_is_dropped_quietly(subscription, receiver):
    answer()
    (claimed,) = claim_due_messages(now=timezone.now(), limit=10)
    subscription.delete()
    assert delivery.deliver_claimed(claimed) == "lost"
    assert receiver.requests == []


def test_the_task_for_a_new_message_delivers_it_once(subscription, receiver):
    from webhooks.tasks import deliver_message

    answer()
    message = Message.objects.get()
    deliver_message(message.pk)
    deliver_message(message.pk)
    assert len(receiver.requests) == 1


def test_the_periodic_task_delivers_a_batch(subscription, receiver):
    from webhooks.tasks import deliver

    answer()
    answer()
    deliver(batch_size=10)
    assert Message.objects.filter(status="delivered").count() == 2


def test_the_command_delivers_what_is_due_and_says_so(subscription, receiver):
    answer()
    out = StringIO()
    call_command("deliver_webhooks", stdout=out)
    assert out.getvalue().strip() == "1 delivered"
    call_command("deliver_webhooks", stdout=out)
    assert out.getvalue().strip().endswith("Nothing was due.")


def test_the_beat_schedule_runs_the_sweep(settings):
    from cxsurvey.celery import app

    app.loader.import_default_modules()
    entry = settings.CELERY_BEAT_SCHEDULE["deliver-webhooks"]
    assert entry["task"] in app.tasks
    assert entry["schedule"] <= 10


def test_workers_claim_disjoint_batches(admin_user):
    make_subscription(owner=admin_user)
    for _ in range(7):
        answer()
    now = timezone.now()
    first = claim_due_messages(now=now, limit=4)
    second = claim_due_messages(now=now, limit=4)
    assert set(first).isdisjoint(second)
    assert len(first) + len(second) == 7
    assert claim_due_messages(now=now, limit=4) == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_on_postgresql_never_take_the_same_message(admin_user):
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's")
    make_subscription(owner=admin_user)
    for _ in range(40):
        answer()

    def claim(_) -> list[int]:
        return [pk for _ in range(10) for pk in claim_due_messages(now=timezone.now(), limit=3)]

    claims = [pk for claimed in at_once(claim, range(3)) for pk in claimed]
    assert sorted(claims) == sorted(Message.objects.values_list("pk", flat=True))


@pytest.mark.django_db(transaction=True)
def test_a_message_the_sweep_claims_while_its_hand_off_waits_is_delivered_once(admin_user, receiver):
    """The hand-off's task and the periodic sweep can reach a new message at the same moment.
    The sweep locks and claims it; the task's claim waits for that lock and, once the sweep
    commits, must see the message taken and leave it."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    make_subscription(owner=admin_user, url=receiver.url())
    answer()
    (message,) = Message.objects.all()
    claimed, commit, outcome = threading.Event(), threading.Event(), []

    def sweep():
        with transaction.atomic():
            assert claim_due_messages(now=timezone.now(), limit=10) == [message.pk]
            claimed.set()
            commit.wait(timeout=10)
        connection.close()

    def hand_off():
        claimed.wait(timeout=10)
        timer = threading.Timer(0.5, commit.set)  # the sweep commits while this claim waits
        timer.start()
        outcome.append(delivery.deliver_if_due(message.pk))
        connection.close()

    threads = [threading.Thread(target=sweep), threading.Thread(target=hand_off)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcome == ["lost"]
    assert receiver.requests == []  # the sweep's own delivery is not part of this test
    assert Message.objects.get().status == Message.Status.SENDING
