"""Celery tasks: thin triggers; the work and its bookkeeping live in ``surveys.email.dispatch``."""

from celery import shared_task
from django.utils import timezone

from surveys.api import idempotency
from surveys.email.dispatch import BATCH_SIZE, dispatch_due


@shared_task(ignore_result=True)
def dispatch(batch_size: int = BATCH_SIZE) -> None:
    """Send one batch; while more are due, hand the next batch to another free worker.

    The periodic schedule starts one every few seconds; a full batch starts the
    next one at once, so a backlog spreads over all workers. A lost task loses
    nothing: the invitations stay due in the database.
    """
    report = dispatch_due(batch_size=batch_size, max_batches=1)
    if sum(report.values()) >= batch_size and not dispatch.app.conf.task_always_eager:
        dispatch.delay(batch_size)


@shared_task(ignore_result=True)
def purge_idempotency_keys() -> None:
    idempotency.purge_idempotency_keys(now=timezone.now())
