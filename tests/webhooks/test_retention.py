"""Finished messages, with their delivery log, are deleted after the retention period, in batches;
messages still to be delivered stay however old."""

from datetime import timedelta

import pytest
from celery import current_app
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cxsurvey.management.commands import runtasks
from tests import factories
from tests.factories import make_subscription
from webhooks.delivery import delete_old_messages
from webhooks.models import Delivery, Message, Subscription

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _thirty_days(settings):
    settings.WEBHOOK_MESSAGE_RETENTION = timedelta(days=30)


@pytest.fixture
def subscription(admin_user):
    return make_subscription(owner=admin_user)


def make_message(subscription, *, status: str, age: timedelta, now=None) -> Message:
    """A message created ``age`` ago, with one logged attempt unless it is still pending."""
    created_at = (now or timezone.now()) - age
    message = factories.make_message(subscription, status=status, created_at=created_at, attempts=1)
    if status != "pending":
        Delivery.objects.create(
            subscription=subscription,
            message=message,
            attempt=1,
            status="succeeded" if status == "delivered" else "failed",
            duration_ms=12,
            attempted_at=created_at,
        )
    return message


def test_old_finished_messages_are_deleted_with_their_log_and_the_rest_kept(subscription):
    now = timezone.now()
    old = timedelta(days=30, seconds=1)
    deleted = [
        make_message(subscription, status=status, age=old, now=now) for status in ("delivered", "failed")
    ]
    kept = [
        make_message(subscription, status="pending", age=timedelta(days=90), now=now),
        make_message(subscription, status="sending", age=timedelta(days=90), now=now),
        make_message(subscription, status="delivered", age=timedelta(days=30), now=now),
        make_message(subscription, status="failed", age=timedelta(days=29), now=now),
    ]
    assert delete_old_messages(now=now) == 2
    assert set(Message.objects.all()) == set(kept)
    assert not Delivery.objects.filter(message_id__in=[message.pk for message in deleted]).exists()
    assert Delivery.objects.count() == 3
    assert Subscription.objects.get() == subscription
    assert delete_old_messages(now=now) == 0


def test_the_retention_period_is_a_setting(subscription, settings):
    settings.WEBHOOK_MESSAGE_RETENTION = timedelta(days=1)
    yesterdays = make_message(subscription, status="delivered", age=timedelta(days=1, minutes=1))
    todays = make_message(subscription, status="delivered", age=timedelta(hours=23))
    assert delete_old_messages(now=timezone.now()) == 1
    assert list(Message.objects.all()) == [todays]
    assert not Message.objects.filter(pk=yesterdays.pk).exists()


def test_a_backlog_is_deleted_in_batches(subscription):
    old = [make_message(subscription, status="delivered", age=timedelta(days=40)) for _ in range(7)]
    pending = make_message(subscription, status="pending", age=timedelta(days=40))
    with CaptureQueriesContext(connection) as queries:
        assert delete_old_messages(now=timezone.now(), batch_size=3) == len(old)
    assert list(Message.objects.all()) == [pending]
    assert Delivery.objects.count() == 0
    batches = [query for query in queries if "LIMIT 3" in query["sql"]]
    assert len(batches) == 3  # 3, 3 and the last 1


class EndOfLoop(Exception):
    pass


def test_the_hourly_task_runs_in_the_loop_without_a_broker(subscription, settings, monkeypatch):
    """``runtasks`` runs the beat schedule in process, this entry included."""
    entry = settings.CELERY_BEAT_SCHEDULE["delete-old-webhook-messages"]
    assert entry["schedule"] == 3600
    make_message(subscription, status="failed", age=timedelta(days=31))
    kept = make_message(subscription, status="failed", age=timedelta(days=1))

    def stop(seconds):
        raise EndOfLoop

    monkeypatch.setattr(runtasks.time, "sleep", stop)
    with pytest.raises(EndOfLoop):
        runtasks.run_schedule({"delete-old-webhook-messages": entry}, app=current_app)
    assert list(Message.objects.all()) == [kept]
