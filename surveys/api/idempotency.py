"""Safe retries: the first answer to a request with an ``Idempotency-Key`` is replayed to its retries.

A key belongs to one API token and lives for 24 hours. The same key with the same
method, path and body gets the stored answer (``Idempotent-Replayed: true``) and
changes nothing; the same key with another request is a 409.

Only successful (2xx) answers are stored. A refused request changed nothing, so
there is nothing to protect from being repeated, and the client may correct the
body and send it again under the same key. Server errors roll everything back,
the key included, so a retry runs again.
"""

import hashlib
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

from surveys.api.base import Conflict
from surveys.models import ApiToken, IdempotentRequest

KEY_LIFETIME = timedelta(hours=24)
_KEY_SHAPE = re.compile(r"[\x20-\x7e]{1,255}")


def respond_once(request: Request, answer: Callable[[], ApiResponse], *, now: datetime) -> ApiResponse:
    """``answer()``, or the stored answer to an earlier request with the same key.

    Without an ``Idempotency-Key`` header this is just ``answer()``. With one, the key
    is inserted in the same transaction as whatever ``answer()`` writes: a concurrent
    request with the same key waits on the unique constraint until this one commits,
    then replays its answer. An exception from ``answer()`` rolls back both.
    """
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return answer()
    if not _KEY_SHAPE.fullmatch(key):
        raise exceptions.ValidationError(
            {"Idempotency-Key": [_("An idempotency key is 1 to 255 printable ASCII characters.")]}
        )
    token = request.auth
    if not isinstance(token, ApiToken):  # only views behind BearerTokenAuthentication answer once
        raise exceptions.NotAuthenticated
    fingerprint = _fingerprint(request)
    fresh = IdempotentRequest.objects.filter(token=token, key=key, created_at__gt=now - KEY_LIFETIME)
    if stored := fresh.first():
        return _replay(stored, fingerprint)
    with transaction.atomic():
        # An expired key is new again.
        IdempotentRequest.objects.filter(token=token, key=key, created_at__lte=now - KEY_LIFETIME).delete()
        try:
            with transaction.atomic():
                record = IdempotentRequest.objects.create(
                    token=token, key=key, fingerprint=fingerprint, status_code=0, body={}, created_at=now
                )
        except IntegrityError:
            # A concurrent request with this key committed while we waited on the constraint.
            return _replay(IdempotentRequest.objects.get(token=token, key=key), fingerprint)
        response = answer()
        if 200 <= response.status_code < 300:
            IdempotentRequest.objects.filter(pk=record.pk).update(
                status_code=response.status_code, body=response.data
            )
        else:
            record.delete()
    return response


def _fingerprint(request: Request) -> str:
    digest = hashlib.sha256(f"{request.method}\n{request.path}\n".encode())
    digest.update(request.body)
    return digest.hexdigest()


def _replay(stored: IdempotentRequest, fingerprint: str) -> ApiResponse:
    if stored.fingerprint != fingerprint:
        raise Conflict(
            _("This Idempotency-Key was already used for another request. Use a new key for a new request.")
        )
    return ApiResponse(stored.body, status=stored.status_code, headers={"Idempotent-Replayed": "true"})


def purge_idempotency_keys(*, now: datetime) -> int:
    """Delete the keys older than 24 hours (they no longer protect anything); returns how many."""
    deleted, _by_model = IdempotentRequest.objects.filter(created_at__lte=now - KEY_LIFETIME).delete()
    return deleted
