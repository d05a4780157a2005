"""A real Celery worker against Redis and PostgreSQL: a new answer reaches the receiver at once,
through the task enqueued when its transaction commits, not the periodic sweep."""

import json
import time

import pytest
from django.utils import timezone

from tests.factories import answer_by_link, make_subscription, make_survey
from tests.workers import celery_worker, flushed_broker
from webhooks.models import Message

# Not the invitation workers' database: suites running side by side must not take each other's tasks.
BROKER = "redis://127.0.0.1:6379/12"


@pytest.fixture
def broker():
    yield from flushed_broker(BROKER)


@pytest.mark.django_db(transaction=True)
def test_a_worker_delivers_a_new_answer_right_after_commit(broker, receiver, admin_user, tmp_path):
    subscription = make_subscription(owner=admin_user, url=receiver.url())
    receiver.secret = subscription.secret
    log = tmp_path / "worker.log"
    with celery_worker(broker=broker, name="hooks@test", log=log, WEBHOOK_ALLOWED_HOSTS="localhost"):
        response = answer_by_link(make_survey(), 10, timezone.now())
        deadline = time.monotonic() + 60
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.2)
    assert len(receiver.requests) == 1, log.read_text()[-2000:]
    (request,) = receiver.requests
    assert request.verified
    assert json.loads(request.body)["data"]["id"] == str(response.public_id)
    assert Message.objects.get().status == "delivered"
    assert "webhooks.tasks.deliver_message" in log.read_text()
