import os
import socket
import time
from collections.abc import Iterator

import pytest
import redis
from django.urls import reverse

from cxsurvey.probes import READY_TIMEOUT

LIVE_REDIS = "redis://127.0.0.1:6379/14"


def _closed_port() -> int:
    """A loopback port that nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback port that takes connections and never answers, as a frozen server does."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


@pytest.fixture
def live_redis() -> str:
    try:
        redis.Redis.from_url(LIVE_REDIS, socket_connect_timeout=1).ping()
    except redis.RedisError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("Redis is not running")
    return LIVE_REDIS


def _redis_cache(url: str) -> dict:
    return {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}


def _ready(client) -> tuple[int, dict, float]:
    started = time.monotonic()
    response = client.get(reverse("readyz"))
    return response.status_code, response.json(), time.monotonic() - started


def test_healthz_answers_without_asking_the_database(client):
    # No database access is allowed in this test: a query would fail it.
    response = client.get(reverse("healthz"))

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]


def test_probes_answer_a_pods_address_over_plain_http(client, settings, db):
    settings.ALLOWED_HOSTS = ["cx.example.com"]
    settings.SECURE_SSL_REDIRECT = True

    for name in ("healthz", "readyz"):
        assert client.get(reverse(name), headers={"Host": "10.1.2.3:8000"}).status_code == 200
    # Any other page is refused for that host, and redirected to https for the right one.
    assert client.get("/login/", headers={"Host": "10.1.2.3:8000"}).status_code == 400
    assert client.get("/login/", headers={"Host": "cx.example.com"}).status_code == 301


def test_probes_refuse_methods_that_change(client):
    for name in ("healthz", "readyz"):
        assert client.post(reverse(name)).status_code == 405


@pytest.mark.django_db
def test_readyz_names_each_check_with_its_state_and_time(client, settings):
    settings.CELERY_BROKER_URL = ""

    status, body, _elapsed = _ready(client)

    assert status == 200
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache"}  # no broker without Celery
    for check in body["checks"].values():
        assert set(check) == {"state", "seconds"}
        assert check["state"] == "ok"
        assert 0 <= check["seconds"] < READY_TIMEOUT


@pytest.mark.django_db
def test_readyz_asks_the_broker_when_there_is_one(client, settings, live_redis):
    settings.CELERY_BROKER_URL = live_redis

    status, body, _elapsed = _ready(client)

    assert status == 200
    assert body["checks"]["broker"]["state"] == "ok"


@pytest.mark.django_db
def test_readyz_fails_at_once_when_the_broker_refuses_connections(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{_closed_port()}/0"

    status, body, elapsed = _ready(client)

    assert status == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["state"] == "error"
    assert body["checks"]["database"]["state"] == "ok"
    assert elapsed < READY_TIMEOUT


@pytest.mark.django_db
def test_readyz_fails_at_once_when_the_cache_refuses_connections(client, settings):
    settings.CACHES = _redis_cache(f"redis://127.0.0.1:{_closed_port()}/0")

    status, body, elapsed = _ready(client)

    assert status == 503
    assert body["checks"]["cache"]["state"] == "error"
    assert body["checks"]["database"]["state"] == "ok"
    assert elapsed < READY_TIMEOUT


@pytest.mark.django_db
def test_readyz_gives_up_on_a_cache_that_never_answers(client, settings, silent_server):
    settings.CACHES = _redis_cache(f"redis://127.0.0.1:{silent_server}/0")

    status, body, elapsed = _ready(client)

    assert status == 503
    assert body["checks"]["cache"] == {"state": "timeout", "seconds": READY_TIMEOUT}
    assert body["checks"]["database"]["state"] == "ok"
    assert READY_TIMEOUT <= elapsed < READY_TIMEOUT + 1


@pytest.mark.django_db
def test_readyz_shows_no_error_text(client, settings):
    settings.CELERY_BROKER_URL = f"redis://user:secret@127.0.0.1:{_closed_port()}/0"

    response = client.get(reverse("readyz"))

    assert response.status_code == 503
    assert b"secret" not in response.content
    assert b"127.0.0.1" not in response.content
    assert "no-store" in response["Cache-Control"]
