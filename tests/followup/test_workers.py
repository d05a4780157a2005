"""A real Celery worker against Redis and PostgreSQL: an answer that fires a rule is evaluated
through the task handed off when its transaction commits, not the periodic sweep."""

import os
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.utils import timezone

from followup.models import AlertRule, Case, Evaluation
from tests.factories import answer_by_link, make_survey
from tests.workers import database_url, flushed_broker, use_broker

BROKER = "redis://127.0.0.1:6379/12"


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
    environment = {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker,
        "WEBHOOK_ALLOWED_HOSTS": "localhost",
    }
    command = [sys.executable, "-m", "celery", "-A", "cxsurvey", "worker", "--pool=solo", "-n", "rules@test"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO"]
    worker = subprocess.Popen(
        command, cwd=settings.BASE_DIR, env=environment, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    from cxsurvey.celery import app

    try:
        use_broker(app, broker_url=broker, task_always_eager=False)
        response = answer_by_link(survey, 2, timezone.now())
        deadline = time.monotonic() + 60
        while not chat_receiver.posts and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        use_broker(app, broker_url=settings.CELERY_BROKER_URL, task_always_eager=True)
    assert len(chat_receiver.posts) == 1, log.read_text()[-2000:]
    assert Case.objects.filter(response=response).exists()
    assert not Evaluation.objects.exists()
    assert "followup.tasks.evaluate_one" in log.read_text()
