"""Payload formats: how a subscription's messages are written on the wire.

Every message is stored as CXSurvey's own payload (``{"type", "timestamp", "data"}``, see
``webhooks.events``), and the rules of its subscription are applied to that payload when it
is queued and again when it is sent (``Subscription.visible_payload``). A format then writes
the request's body and any headers of its own from that visible payload, at each attempt;
the Standard Webhooks headers sign whatever body it wrote. The built-in "cxsurvey" format
sends the payload as it is.

Other apps register a format in their ``AppConfig.ready()``: a name (stored on the
subscription), a label, the CXSurvey events it can carry and the function that writes a
message. This module knows none of them.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from webhooks.models import Message, Subscription

DEFAULT = "cxsurvey"


@dataclass(frozen=True)
class Written:
    """A message as one attempt sends it: the body, and headers beside the signature's."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


# (message, its payload as the owner may see it now, the subscription, the attempt's time) →
# what to send, or None if the message cannot be written (what it reports no longer exists).
Writer = Callable[["Message", dict, "Subscription", datetime], Written | None]


@dataclass(frozen=True)
class PayloadFormat:
    name: str
    label: str | Promise
    events: frozenset[str]
    write: Writer


_formats: dict[str, PayloadFormat] = {}


def register(payload_format: PayloadFormat) -> None:
    """Make a format available to subscriptions; registering a name twice replaces the first."""
    _formats[payload_format.name] = payload_format


def get(name: str) -> PayloadFormat | None:
    """The format of this name; None if no installed app registers it."""
    return _formats.get(name)


def choices() -> list[tuple[str, str]]:
    """(name, label) of every registered format, the built-in one first."""
    return [(name, str(payload_format.label)) for name, payload_format in _formats.items()]


def _write_as_is(message: "Message", payload: dict, subscription: "Subscription", now: datetime) -> Written:
    return Written(json.dumps(payload).encode())


def register_default() -> None:
    from webhooks.models import EventType

    register(
        PayloadFormat(
            name=DEFAULT,
            label=_("CXSurvey (Standard Webhooks)"),
            events=frozenset(EventType.values),
            write=_write_as_is,
        )
    )
