"""Celery tasks: thin triggers; the work and its bookkeeping live in ``webhooks.delivery``."""

from datetime import datetime

from celery import shared_task
from django.utils import timezone

from cxsurvey import handoff
from webhooks import delivery
from webhooks.models import Message, MessageQuerySet

ENQUEUE_AT_MOST = 100  # messages handed to workers at once by a resend


@shared_task(ignore_result=True)
def deliver(batch_size: int = delivery.BATCH_SIZE) -> bool:
    """Deliver one batch of due messages; whether more may be due (the batch was full), in which case
    the next batch goes to another free worker (without a broker, ``runtasks`` runs it at once).

    The periodic schedule starts one every few seconds. A lost task loses nothing: the
    messages stay due in the database.
    """
    report = delivery.deliver_due(batch_size=batch_size, max_batches=1)
    more = sum(report.values()) >= batch_size
    if more and not deliver.app.conf.task_always_eager:
        deliver.delay(batch_size)
    return more


@shared_task(ignore_result=True)
def deliver_message(message_id: int) -> None:
    """Deliver a new message at once instead of at the next sweep; nothing if another worker has it."""
    delivery.deliver_if_due(message_id)


@shared_task(ignore_result=True)
def delete_old_messages() -> None:
    """Delete finished messages past their retention; the periodic schedule runs it hourly."""
    delivery.delete_old_messages(now=timezone.now())


def resend(messages: MessageQuerySet, *, now: datetime) -> int:
    """Queue messages again (``MessageQuerySet.resend``) and hand the first of them to workers at
    once; the periodic sweep takes any others a few seconds later, so that a resend of thousands
    does not hold a request up. How many were queued."""
    first = list(
        messages.exclude(status=Message.Status.SENDING).values_list("pk", flat=True)[:ENQUEUE_AT_MOST]
    )
    queued = messages.resend(now=now)
    enqueue(first)
    return queued


def enqueue(message_ids: list[int]) -> None:
    """Hand messages to workers as soon as the transaction that queued them commits.

    Without a broker nothing is enqueued: ``manage.py runtasks`` sends the messages, outside
    the request that made them. Nor does the request wait for the broker (``cxsurvey.handoff``);
    one that is down loses nothing, the periodic sweep finds the messages.
    """
    if deliver_message.app.conf.task_always_eager:
        return
    for message_id in message_ids:
        handoff.after_commit(deliver_message, message_id)
