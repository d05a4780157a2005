"""Writing to the audit log: ``record()`` from wherever something is done, and the middleware that
tells it who does it and from where.

The actor and the client come from the request being served (``AuditMiddleware`` keeps it in a
context variable, so that model changes recorded by ``audit.changes`` know it too); commands
and tasks name themselves with ``acting_as()``.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.db import models
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import salted_hmac

from audit.models import AuditEvent
from surveys.ratelimit import client_address

Action = AuditEvent.Action


@dataclass(frozen=True)
class Actor:
    """Who acts outside a request: a command or a task, for a user or for nobody."""

    via: str
    user: object = None


_request: ContextVar[HttpRequest | None] = ContextVar("audit_request", default=None)
_actor: ContextVar[Actor | None] = ContextVar("audit_actor", default=None)


class AuditMiddleware:
    """Keeps the request in reach of ``record()`` while it is served."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


@contextmanager
def acting_as(via: str, user=None) -> Iterator[None]:
    """Record what is done in this block as done by ``via`` ("command", "task") for ``user``."""
    token = _actor.set(Actor(via=via, user=user))
    try:
        yield
    finally:
        _actor.reset(token)


def pseudonymise(value: str, *, purpose: str = "client") -> str:
    """A keyed hash of a client's address (or of another identifier the log must not hold): the
    same for the same value, and no way back to it without the installation's secret key."""
    if not value:
        return ""
    return salted_hmac(f"audit.{purpose}", value, algorithm="sha256").hexdigest()[:16]


# Filters whose values say nothing about a person; any other value (an email, an external id, a
# search text, a property's value) is kept in the log as a keyed hash only, so that the log never
# holds what an erasure must remove.
PLAIN_FILTERS = frozenset(
    {
        "survey",
        "touchpoint",
        "since",
        "until",
        "updated_since",
        "range",
        "period",
        "category",
        "score",
        "has_comment",
        "comment",
        "ordering",
        "format",
        "status",
        "contact",
        "cursor",
        "page_size",
        "language",
        # the audit log's own list
        "action__exact",
        "via__exact",
        "object_type__exact",
        "at__year",
        "at__month",
        "at__day",
    }
)


def filters(parameters: dict[str, list[str]]) -> dict[str, list[str]]:
    """Request parameters as the log keeps them: names as they are, values of personal filters hashed."""
    return {
        name: values
        if name in PLAIN_FILTERS
        else [pseudonymise(str(value), purpose="filter") for value in values]
        for name, values in parameters.items()
    }


def record(
    action: str,
    *,
    request: HttpRequest | None = None,
    user=None,
    target: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    details: dict | None = None,
) -> AuditEvent:
    """Write one event. ``user`` defaults to the request's user; ``target`` names the object
    (its ``str()`` must hold nothing personal of a contact: pass ``object_repr`` instead)."""
    request = request or _request.get()
    actor = _actor.get()
    if user is None:
        user = getattr(request, "user", None) if request is not None else (actor.user if actor else None)
    if target is not None:
        object_type = object_type or target._meta.label_lower
        object_id = object_id or str(target.pk)
        object_repr = object_repr or str(target)
    return AuditEvent.objects.create(
        action=action,
        actor_id=user.pk if user is not None and user.is_authenticated else None,
        actor=user.get_username() if user is not None and user.is_authenticated else "",
        client=pseudonymise(client_address(request)) if request is not None else "",
        via=_via(request, actor),
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr[:200],
        details=details or {},
    )


def _via(request: HttpRequest | None, actor: Actor | None) -> str:
    if request is None:
        return actor.via if actor else "command"
    return "api" if request.path.startswith("/api/") else "web"
