"""Delivering queued webhook messages: the database is the queue, any number of workers.

A worker claims a batch of due messages (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a
conditional UPDATE per row on SQLite), posts each one signed and records the attempt.
A failed attempt is tried again after growing waits until a day after the first
attempt, always with the same ``webhook-id``, so that receivers can drop a message they
have already seen: delivery is at least once. A worker that dies while sending loses
nothing; its claim expires and the message is sent again.

A subscription whose attempts have all failed for a day is paused and its owner told
by email. Messages queued for it wait until it is resumed.

Celery's periodic task, the task enqueued for each new message and ``manage.py
deliver_webhooks`` all call these functions. Finished messages are deleted with their
log after ``settings.WEBHOOK_MESSAGE_RETENTION``, by another periodic task.
"""

import logging
from collections import Counter
from datetime import datetime, timedelta
from http import HTTPStatus

from django.conf import settings
from django.db import connection as db
from django.db import transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from surveys.email.messages import render_email
from webhooks import formats, outbound
from webhooks.models import Delivery, Message, Subscription
from webhooks.signing import signed_headers

logger = logging.getLogger(__name__)

BATCH_SIZE = 10  # an attempt may take half a minute against a slow receiver
# A claim older than this belongs to a worker that stopped.
CLAIM_LEASE = timedelta(minutes=10)
# Waits after the 1st, 2nd, … failed attempt; the last one repeats.
RETRY_WAITS = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
)
RETRY_PERIOD = timedelta(hours=24)
PAUSE_AFTER = timedelta(hours=24)
PAUSE_REASON = "Every delivery failed for 24 hours."
GONE_REASON = "The receiver answered 410 Gone."
WITHHELD = "Not sent: the subscription's owner may no longer see what it reports."
UNWRITTEN = "Not sent: its payload format is not installed, or what it reports no longer exists."
# Messages deleted per transaction: a backlog goes in short ones, not in one long lock.
DELETE_BATCH_SIZE = 5000
Status = Message.Status


def deliver_due(*, batch_size: int = BATCH_SIZE, max_batches: int | None = None) -> Counter:
    """Deliver every message that is due now; how many ended how ("delivered", "retry", "failed")."""
    report: Counter = Counter()
    release_stalled_claims(now=timezone.now())
    batches = 0
    while max_batches is None or batches < max_batches:
        claimed = claim_due_messages(now=timezone.now(), limit=batch_size)
        if not claimed:
            break
        for message_id in claimed:
            report[deliver_claimed(message_id)] += 1
        batches += 1
    if report:
        logger.info("Webhooks: %s", ", ".join(f"{count} {outcome}" for outcome, count in report.items()))
    return report


def deliver_if_due(message_id: int) -> str:
    """Deliver one message now if it is still due; "lost" if it is not (another worker has it)."""
    now = timezone.now()
    # The message's own row holds every condition on it, so that PostgreSQL checks them again on
    # the row a concurrent sweep left (a join would compare the message as it was before).
    due = Message.objects.filter(
        pk=message_id,
        status=Status.PENDING,
        next_attempt_at__lte=now,
        subscription__in=Subscription.objects.filter(active=True),
    )
    if not due.update(**_claim(now)):
        return "lost"
    return deliver_claimed(message_id)


def claim_due_messages(*, now: datetime, limit: int) -> list[int]:
    """Mark up to ``limit`` due messages as being sent by this worker; their ids."""
    due = Message.objects.due(now)
    with transaction.atomic():
        if db.features.has_select_for_update_skip_locked:
            locked = due.select_for_update(skip_locked=True, of=("self",))
            ids = list(locked.values_list("pk", flat=True)[:limit])
            Message.objects.filter(pk__in=ids).update(**_claim(now))
            return ids
        # SQLite has one writer at a time; a conditional update per row tells who won.
        candidates = list(due.values_list("pk", flat=True)[:limit])
        return [
            pk
            for pk in candidates
            if Message.objects.filter(pk=pk, status=Status.PENDING).update(**_claim(now))
        ]


def _claim(now: datetime) -> dict:
    return {
        "status": Status.SENDING,
        "claimed_at": now,
        "next_attempt_at": None,
        "attempts": F("attempts") + 1,
        "first_attempt_at": Coalesce(F("first_attempt_at"), Value(now, output_field=DateTimeField())),
    }


def release_stalled_claims(*, now: datetime) -> None:
    """Claims of stopped workers go back to the queue: the message may have arrived, and is sent
    again with the same ``webhook-id``."""
    Message.objects.filter(status=Status.SENDING, claimed_at__lt=now - CLAIM_LEASE).update(
        status=Status.PENDING, next_attempt_at=now, claimed_at=None
    )


def deliver_claimed(message_id: int) -> str:
    """Post one claimed message, as its owner may see it now and written in its subscription's
    payload format, and record the attempt; what happened ("delivered", "retry", "failed",
    "withheld" if the owner may no longer see it or its format cannot write it, or "lost" if its
    subscription was deleted meanwhile)."""
    message = (
        Message.objects.select_related("subscription__owner")
        .filter(pk=message_id, status=Status.SENDING)
        .first()
    )
    if message is None:
        return "lost"
    subscription = message.subscription
    started = timezone.now()
    payload = subscription.visible_payload(message.payload)
    if payload is None:
        return _withhold(message, now=started, error=WITHHELD)
    payload_format = formats.get(subscription.payload_format)
    written = payload_format.write(message, payload, subscription, started) if payload_format else None
    if written is None:
        return _withhold(message, now=started, error=UNWRITTEN)
    headers = written.headers | signed_headers(
        secrets=subscription.signing_secrets(started),
        webhook_id=message.webhook_id,
        timestamp=int(started.timestamp()),
        body=written.body,
    )
    answer = outbound.post(subscription.url, body=written.body, headers=headers)
    return _record(message, answer, started=started, now=timezone.now())


def _record(message: Message, answer: outbound.Answer, *, started: datetime, now: datetime) -> str:
    """Write the attempt to the log and the message's next step; pause a subscription that has
    failed for a day, and tell its owner after the transaction."""
    if answer.ok:
        status, next_attempt_at = Status.DELIVERED, None
    else:
        next_attempt_at = next_attempt(
            first_attempt_at=message.first_attempt_at or started,  # set by the claim
            attempts=message.attempts,
            now=now,
            retry_after=answer.retry_after,
        )
        status = Status.PENDING if next_attempt_at else Status.FAILED
    with transaction.atomic():
        # Only the claim's owner moves the message on; a released claim is someone else's now.
        moved = Message.objects.filter(
            pk=message.pk, status=Status.SENDING, claimed_at=message.claimed_at
        ).update(status=status, next_attempt_at=next_attempt_at, claimed_at=None)
        if moved or _still_there(message):
            _log_attempt(message, answer, started=started, next_attempt_at=next_attempt_at)
        gone = answer.status == HTTPStatus.GONE
        paused = _keep_streak(message.subscription, ok=answer.ok, gone=gone, at=started, now=now)
    if paused:
        _tell_owner_of_pause(
            message.subscription, last_error=answer.error or f"HTTP {answer.status}", gone=gone
        )
    return {Status.DELIVERED: "delivered", Status.PENDING: "retry", Status.FAILED: "failed"}[status]


def _still_there(message: Message) -> bool:
    """Whether the message still exists, locked until the transaction ends: the erasure of a
    contact deletes the messages about it, with their log, also while one is being sent."""
    return Message.objects.select_for_update().filter(pk=message.pk).exists()


def _log_attempt(
    message: Message, answer: outbound.Answer, *, started: datetime, next_attempt_at: datetime | None
) -> None:
    Delivery.objects.create(
        subscription=message.subscription,
        message=message,
        attempt=message.attempts,
        status=Delivery.Status.SUCCEEDED if answer.ok else Delivery.Status.FAILED,
        response_code=answer.status,
        response_body=answer.body,
        error=answer.error,
        duration_ms=answer.duration_ms,
        attempted_at=started,
        next_attempt_at=next_attempt_at,
    )


def _withhold(message: Message, *, now: datetime, error: str) -> str:
    """Fail a message that cannot be sent (its owner may no longer see it, or its format cannot
    write it) without sending it; the log says why."""
    with transaction.atomic():
        moved = Message.objects.filter(
            pk=message.pk, status=Status.SENDING, claimed_at=message.claimed_at
        ).update(status=Status.FAILED, next_attempt_at=None, claimed_at=None)
        if not (moved or _still_there(message)):
            return "withheld"
        Delivery.objects.create(
            subscription=message.subscription,
            message=message,
            attempt=message.attempts,
            status=Delivery.Status.FAILED,
            error=error,
            duration_ms=0,
            attempted_at=now,
        )
    return "withheld"


def next_attempt(
    *, first_attempt_at: datetime, attempts: int, now: datetime, retry_after: timedelta | None = None
) -> datetime | None:
    """When to try again after the ``attempts``-th failed attempt: after its wait in ``RETRY_WAITS``,
    or the longer wait the receiver asked for, but at the latest ``RETRY_PERIOD`` after the first
    attempt, which is the last; None after that."""
    deadline = first_attempt_at + RETRY_PERIOD
    if now >= deadline:
        return None
    wait = RETRY_WAITS[min(attempts, len(RETRY_WAITS)) - 1]
    return min(now + max(wait, retry_after or wait), deadline)


def _keep_streak(subscription: Subscription, *, ok: bool, gone: bool, at: datetime, now: datetime) -> bool:
    """Count the subscription's failures since its last success; True if this one paused it: a
    day of failures, or at once a receiver saying that it is gone (Standard Webhooks' 410)."""
    subscriptions = Subscription.objects.filter(pk=subscription.pk)
    if ok:
        subscriptions.filter(failing_since__isnull=False).update(failing_since=None)
        return False
    subscriptions.filter(failing_since__isnull=True).update(failing_since=at)
    if gone:
        return bool(subscriptions.pause(now=now, reason=GONE_REASON))
    return bool(
        subscriptions.filter(failing_since__lte=now - PAUSE_AFTER).pause(now=now, reason=PAUSE_REASON)
    )


def _tell_owner_of_pause(subscription: Subscription, *, last_error: str, gone: bool) -> None:
    """Email the owner that deliveries stopped. A mail that cannot be sent is logged: the pause stands."""
    subscription.refresh_from_db()
    owner = subscription.owner
    if not owner.email:
        logger.warning("Webhook subscription %s was paused; its owner has no email address", subscription.pk)
        return
    context = {
        "subscription": subscription,
        "hours": int(PAUSE_AFTER.total_seconds() // 3600),
        "error": last_error,
        "gone": gone,
        "link": settings.SITE_URL + reverse("admin:webhooks_subscription_change", args=[subscription.pk]),
    }
    message = render_email(
        "webhooks/email/paused", context, language=settings.LANGUAGE_CODE, to=[owner.email]
    )
    try:
        message.send()
    except Exception:  # the mail server's trouble must not undo the recorded pause
        logger.exception("Could not tell the owner of webhook subscription %s of its pause", subscription.pk)


def delete_old_messages(*, now: datetime, batch_size: int = DELETE_BATCH_SIZE) -> int:
    """Delete the delivered and failed messages created more than ``settings.WEBHOOK_MESSAGE_RETENTION``
    before ``now``, with their delivery log, ``batch_size`` per transaction; how many messages.
    Pending and sending messages stay, however old."""
    old = Message.objects.filter(
        status__in=[Status.DELIVERED, Status.FAILED], created_at__lt=now - settings.WEBHOOK_MESSAGE_RETENTION
    ).order_by("created_at")
    deleted = 0
    while True:
        with transaction.atomic():
            # Locked, so that a message resent meanwhile is either deleted before it is queued
            # again or queued again and kept. Locked ones are left for the next run.
            ids = list(old.select_for_update(skip_locked=True).values_list("pk", flat=True)[:batch_size])
            Message.objects.filter(pk__in=ids).only("pk").delete()  # the payloads need not be read
        deleted += len(ids)
        if len(ids) < batch_size:
            break
    if deleted:
        logger.info("Webhooks: %d old messages deleted", deleted)
    return deleted
