"""Real Celery workers against Redis and PostgreSQL, sending to a real SMTP server."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone

from surveys.email.dispatch import CLAIM_LEASE
from surveys.models import Contact, Invitation
from tests.factories import make_touchpoint
from tests.workers import database_url, flushed_broker, start_worker, use_broker

BROKER = "redis://127.0.0.1:6379/13"


@pytest.fixture
def broker():
    yield from flushed_broker(BROKER)


def _due_invitations(prefix: str, count: int) -> None:
    """``count`` invitations of one touchpoint, due a minute ago, to contacts <prefix><n>@example.com."""
    touchpoint = make_touchpoint()
    now = timezone.now()
    contacts = Contact.objects.bulk_create(Contact(email=f"{prefix}{n}@example.com") for n in range(count))
    Invitation.objects.bulk_create(
        Invitation(
            survey=touchpoint.survey,
            touchpoint=touchpoint,
            contact=contact,
            status=Invitation.Status.SCHEDULED,
            scheduled_for=now - timedelta(minutes=1),
            expires_at=now + timedelta(days=30),
        )
        for contact in contacts
    )


@pytest.mark.django_db(transaction=True)
def test_two_workers_send_a_thousand_due_invitations_exactly_once(broker, smtp_server, tmp_path):
    _due_invitations("c", 1000)
    workers = [
        start_worker(
            f"worker{n}@test",
            tmp_path / f"worker{n}.log",
            broker=broker,
            EMAIL_URL=f"smtp://{smtp_server.host}:{smtp_server.port}",
        )
        for n in (1, 2)
    ]
    try:
        from cxsurvey.celery import app

        use_broker(app, broker_url=broker, task_always_eager=False)
        for _ in range(2):
            app.send_task("surveys.tasks.dispatch", kwargs={"batch_size": 50})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if not Invitation.objects.exclude(status=Invitation.Status.SENT).exists():
                break
            time.sleep(0.5)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
        use_broker(app, broker_url=settings.CELERY_BROKER_URL, task_always_eager=True)

    assert Invitation.objects.filter(status=Invitation.Status.SENT).count() == 1000
    received = [message["Message-ID"] for message in smtp_server.messages]
    assert len(received) == 1000
    assert set(received) == set(Invitation.objects.values_list("message_id", flat=True))
    logs = [(tmp_path / f"worker{n}.log").read_text() for n in (1, 2)]
    assert all("Dispatched: " in log for log in logs), "both workers took part"


@pytest.mark.django_db(transaction=True)
def test_a_sender_killed_mid_batch_leaves_at_most_one_email_in_doubt_and_none_lost_or_doubled(smtp_server):
    if connection.vendor != "postgresql":
        pytest.skip("a sender in another process needs a database server")
    _due_invitations("k", 60)
    smtp_server.delay = 0.02  # a slow mail server: the kill lands in the middle of the batch
    environment = {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": database_url(),
        "EMAIL_URL": f"smtp://{smtp_server.host}:{smtp_server.port}",
    }
    code = "import django; django.setup(); from surveys.email.dispatch import dispatch_due; dispatch_due()"
    sender = subprocess.Popen([sys.executable, "-c", code], cwd=settings.BASE_DIR, env=environment)
    deadline = time.monotonic() + 60
    while len(smtp_server.messages) < 20 and time.monotonic() < deadline:
        time.sleep(0.005)
    sender.send_signal(signal.SIGKILL)
    sender.wait()

    delivered = {message["Message-ID"] for message in smtp_server.messages}
    sent = set(Invitation.objects.filter(status="sent").values_list("message_id", flat=True))
    in_flight = Invitation.objects.filter(status="sending", send_started_at__isnull=False)
    assert 19 <= len(sent) < 60
    assert sent <= delivered and len(delivered - sent) <= 1
    assert in_flight.count() <= 1

    # The lease runs out: the one in doubt goes to review, the rest out through another sender.
    Invitation.objects.filter(status="sending").update(claimed_at=F("claimed_at") - CLAIM_LEASE)
    smtp_server.delay = 0
    assert (
        subprocess.run([sys.executable, "-c", code], cwd=settings.BASE_DIR, env=environment).returncode == 0
    )
    statuses = Counter(Invitation.objects.values_list("status", flat=True))
    assert statuses["review"] <= 1 and statuses["sent"] + statuses["review"] == 60
    received = [message["Message-ID"] for message in smtp_server.messages]
    assert len(received) == len(set(received))  # nothing doubled
    assert set(Invitation.objects.filter(status="sent").values_list("message_id", flat=True)) <= set(received)
