"""A real Celery worker against Redis and PostgreSQL: an answer that fires a rule is evaluated
through the task handed off when its transaction commits, not the periodic sweep."""

import time

import pytest
from django.utils import timezone

from followup.models import AlertRule, Case, Evaluation
from tests.factories import answer_by_link, make_survey
from tests.workers import celery_worker, flushed_broker

# Not the webhooks workers' database: their tests must not take each other's tasks.
BROKER = "redis://127.0.0.1:6379/10"


@pytest.fixture
def broker():
    yield from flushed_broker(BROKER)


@pytest.mark.django_db(transaction=True)
def test_a_worker_evaluates_a_new_answer_right_after_commit(broker, chat_receiver, tmp_path):
    survey = make_survey(kind="nps")
    AlertRule.objects.create(
        survey=survey,
        name="Detractors",
        active=True,
        categories=["detractor"],
        slack_url=chat_receiver.url("/s"),
    )
    log = tmp_path / "worker.log"
    with celery_worker(broker=broker, name="rules@test", log=log, WEBHOOK_ALLOWED_HOSTS="localhost"):
        response = answer_by_link(survey, 2, timezone.now())
        deadline = time.monotonic() + 60
        while not chat_receiver.posts and time.monotonic() < deadline:
            time.sleep(0.2)
    assert len(chat_receiver.posts) == 1, log.read_text()[-2000:]
    assert Case.objects.filter(response=response).exists()
    assert not Evaluation.objects.exists()
    assert "followup.tasks.evaluate_one" in log.read_text()
