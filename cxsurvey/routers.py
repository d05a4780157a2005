"""The read replica (``DATABASE_REPLICA_URL``): which reads may go there, and the router that
sends them.

Reads go to the replica only where code asks for it, by running them inside
``replica_reads(user)``: the dashboards, the comment explorer, exports and the metrics and
responses API. Everything else reads from the primary: answering, the back office, the API's
writes and whatever a request with POST, PUT, PATCH or DELETE reads. Writes always go to the
primary, inside ``replica_reads`` too.

A replica is a little behind. So that people see what they just did, a user who sent such a
request (signed in or by API token) reads from the primary for ``REPLICA_PIN_SECONDS``; and
everyone does while the replica is more than ``REPLICA_MAX_LAG_SECONDS`` behind or cannot be
reached, as checked at most every few seconds.
"""

import logging
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.http import HttpRequest
from django.http.response import HttpResponseBase

logger = logging.getLogger(__name__)

AnyUser = AbstractBaseUser | AnonymousUser

REPLICA = "replica"
CHECK_SECONDS = 5  # how long one look at the replica's lag holds, in every process
_USABLE_KEY = "replica:usable"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}

# Seconds the replica is behind: none when it has replayed all it received (an idle primary
# writes nothing, so the last replayed commit may be old), else the age of the last commit it
# replayed. A server that is not in recovery is a primary: nothing to wait for.
LAG_SQL = """
    SELECT CASE
        WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
        ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)
    END
"""

_reading_replica: ContextVar[bool] = ContextVar("reading_replica", default=False)
_writing_request: ContextVar[bool] = ContextVar("writing_request", default=False)


class ReplicaRouter:
    """Reads inside ``replica_reads`` go to the replica, unless a transaction is open on the
    primary (its reads must see its own writes); every other read and every write goes to
    the primary. Only the primary is migrated; the replica holds the same rows."""

    def db_for_read(self, model, **hints) -> str:
        # Explicit, never None: Django would otherwise read an object's relations from the
        # database the object came from, the replica, outside replica_reads too.
        if _reading_replica.get() and not connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return REPLICA
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool | None:
        databases = {DEFAULT_DB_ALIAS, REPLICA}
        return True if {obj1._state.db, obj2._state.db} <= databases else None

    def allow_migrate(self, db: str, app_label: str, **hints) -> bool:
        return db == DEFAULT_DB_ALIAS


def pin_writers(get_response: Callable[[HttpRequest], HttpResponseBase]) -> Callable:
    """Middleware: a request that may change something reads from the primary only, and its
    user (signed in, or the API token's, which DRF sets on the request) reads from the
    primary for REPLICA_PIN_SECONDS after it."""

    def middleware(request: HttpRequest) -> HttpResponseBase:
        if request.method in SAFE_METHODS:
            return get_response(request)
        before = _writing_request.get()
        _writing_request.set(True)
        try:
            response = get_response(request)
        finally:
            _writing_request.set(before)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and settings.REPLICA_PIN_SECONDS:
            cache.set(_pin_key(user.pk), True, settings.REPLICA_PIN_SECONDS)
        return response

    return middleware


def use_replica(user: AnyUser | None = None) -> bool:
    """Whether reads for ``user`` (or for no one in particular) may come from the replica now:
    False without a replica, in a request that may write, for a pinned user, and while the
    replica lags too far behind or cannot be reached."""
    if REPLICA not in connections.settings or _writing_request.get():
        return False
    pin = _pin_key(user.pk) if user is not None and user.is_authenticated else None
    found = cache.get_many([_USABLE_KEY, pin] if pin else [_USABLE_KEY])
    if pin in found:
        return False
    usable = found.get(_USABLE_KEY)
    if usable is None:
        usable = _replica_usable()
        cache.set(_USABLE_KEY, usable, CHECK_SECONDS)
    return usable


@contextmanager
def replica_reads(user: AnyUser | None = None) -> Iterator[None]:
    """Reads inside come from the replica if ``use_replica(user)``; writes still go to the primary."""
    before = _reading_replica.get()
    _reading_replica.set(use_replica(user))
    try:
        yield
    finally:
        # Not ContextVar.reset: a generator may run this in another context than it started in.
        _reading_replica.set(before)


def replica_chunks(chunks: Iterable[bytes], user: AnyUser | None = None) -> Iterator[bytes]:
    """``chunks`` of a streamed response, each read from the replica if ``use_replica(user)``.

    Only while a chunk is being made: between chunks the server writes, and no other code may
    find the replica chosen for it.
    """
    replica = use_replica(user)
    iterator = iter(chunks)
    try:
        while True:
            before = _reading_replica.get()
            _reading_replica.set(replica)
            try:
                chunk = next(iterator, None)
            finally:
                _reading_replica.set(before)
            if chunk is None:
                return
            yield chunk
    finally:
        if isinstance(iterator, Generator):  # a download cut short closes what makes it
            iterator.close()


def _pin_key(user_id: object) -> str:
    return f"replica:pin:{user_id}"


def _replica_usable() -> bool:
    try:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute(LAG_SQL)
            lag = float(cursor.fetchone()[0])
    except DatabaseError as error:
        logger.warning("reading from the primary: the replica cannot be reached (%s)", error)
        with suppress(DatabaseError):
            connections[REPLICA].close()
        return False
    if lag > settings.REPLICA_MAX_LAG_SECONDS:
        logger.warning("reading from the primary: the replica is %.1f s behind", lag)
        return False
    return True
