"""What the tests of Celery workers in other processes share."""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection


def flushed_broker(url: str):
    """A Redis database, emptied before and after, as the Celery broker of workers in other
    processes; those need a database server, so the test is skipped on SQLite."""
    if connection.vendor != "postgresql":
        pytest.skip("workers in other processes need a database server")
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    except redis.RedisError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("Redis is not running")
    yield url
    client.flushdb()


def use_broker(app, **conf) -> None:
    """Point the test's Celery app at a broker. The app keeps its producers once made, with the
    queues they declared: another test's broker, or its queues flushed since, would swallow tasks."""
    app.conf.update(**conf)
    app._pool = None
    app.amqp._producer_pool = None


def database_url() -> str:
    """The test database, for workers in other processes."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def start_worker(name: str, log: Path, *, broker: str, **environment: str) -> subprocess.Popen:
    """A Celery worker in another process, on the test database and ``broker``, logging to ``log``;
    ``environment`` adds to its settings."""
    command = [sys.executable, "-m", "celery", "-A", "cxsurvey", "worker", "--pool=solo", "-n", name]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO"]
    variables = {**os.environ, "DEBUG": "true", "DATABASE_URL": database_url(), "CELERY_BROKER_URL": broker}
    return subprocess.Popen(
        command,
        cwd=settings.BASE_DIR,
        env={**variables, **environment},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


@contextmanager
def celery_worker(*, broker: str, name: str, log: Path, **environment: str) -> Iterator[subprocess.Popen]:
    """A worker (``start_worker``) with the test's app handing tasks to it; stopped, and the app
    eager again, afterwards."""
    from cxsurvey.celery import app

    worker = start_worker(name, log, broker=broker, **environment)
    try:
        use_broker(app, broker_url=broker, task_always_eager=False)
        yield worker
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        use_broker(app, broker_url=settings.CELERY_BROKER_URL, task_always_eager=True)
