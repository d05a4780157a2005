"""A broker that is down or hangs never holds up a request: tasks go to it from a thread of
the process, after commit, and what they work on waits in the database for the sweeps."""

import socket
import threading
import time

import pytest
from django.conf import settings
from django.urls import reverse

from cxsurvey import handoff
from cxsurvey.celery import app
from tests.factories import make_subscription, make_survey
from tests.workers import use_broker
from webhooks.models import Message

pytestmark = pytest.mark.django_db


class BlackHole:
    """A broker that takes connections and never says a word, as one behind a dead network;
    it hangs up after ``patience`` seconds, so that a request that waits for it fails the test
    instead of hanging it."""

    def __init__(self, patience: float = 20) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        threading.Timer(patience, self.close).start()
        self.port = self.server.getsockname()[1]
        self.connected = threading.Event()
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.connections.append(connection)
            self.connected.set()

    def close(self) -> None:
        for connection in [*self.connections, self.server]:
            connection.close()


@pytest.fixture
def publisher(monkeypatch):
    """A publisher of the test's own, so that a pause does not outlast the test."""
    fresh = handoff.Publisher()
    monkeypatch.setattr(handoff, "publisher", fresh)
    yield fresh
    use_broker(app, broker_url=settings.CELERY_BROKER_URL, task_always_eager=True)


def answer(client, survey, score: int):
    return client.post(
        reverse("surveys:link", args=[survey.public_key]),
        {"score": score},
        headers={"accept": "application/json"},
    )


def test_answers_are_saved_while_the_broker_hangs(
    client, admin_user, publisher, django_capture_on_commit_callbacks
):
    hole = BlackHole()
    make_subscription(owner=admin_user, url="https://hooks.example.com/cx")
    survey = make_survey()
    use_broker(app, broker_url=f"redis://127.0.0.1:{hole.port}/0", task_always_eager=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            first = answer(client, survey, 9)
        assert hole.connected.wait(timeout=10)  # the hand-off thread is stuck on the broker
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            later = [answer(client.__class__(), survey, score) for score in (3, 7, 10)]
        elapsed = time.monotonic() - started
    finally:
        hole.close()
    assert [response.status_code for response in [first, *later]] == [200] * 4
    assert len(callbacks) == 3  # each answer handed its webhook message over after commit
    assert elapsed < 5, "a request waited for the broker"
    # The messages wait in the database, due now, for the periodic sweep.
    assert Message.objects.filter(status=Message.Status.PENDING).count() == 4


def test_a_refused_hand_off_pauses_the_others_and_leaves_the_work_to_the_sweep(
    client, admin_user, publisher, django_capture_on_commit_callbacks
):
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]  # nothing listens here once the socket is closed
    make_subscription(owner=admin_user, url="https://hooks.example.com/cx")
    survey = make_survey()
    use_broker(app, broker_url=f"redis://127.0.0.1:{port}/0", task_always_eager=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert answer(client, survey, 9).status_code == 200
    publisher.wait()
    assert publisher.paused()
    with django_capture_on_commit_callbacks(execute=True):
        assert answer(client.__class__(), survey, 2).status_code == 200
    assert publisher.pending() == 0  # dropped at once, not queued behind the broker
    assert Message.objects.filter(status=Message.Status.PENDING).count() == 2
