"""What the tests of Celery workers in other processes share."""

import os

import pytest
import redis
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
