"""Celery tasks: thin triggers; the work and its bookkeeping live in ``surveys.email.dispatch``."""

from celery import shared_task
from django.utils import timezone

from surveys.api import idempotency
from surveys.email.dispatch import BATCH_SIZE, SERVER_DOWN, dispatch_due
from surveys.models import TermMonth


@shared_task(ignore_result=True)
def dispatch(batch_size: int = BATCH_SIZE) -> bool:
    """Send one batch; whether more may be due (the batch was full), in which case the next batch
    goes to another free worker (without a broker, ``runtasks`` runs it at once).

    The periodic schedule starts one every few seconds; a full batch starts the
    next one at once, so a backlog spreads over all workers. A lost task loses
    nothing: the invitations stay due in the database. An unreachable mail server
    waits for the next periodic turn.
    """
    report = dispatch_due(batch_size=batch_size, max_batches=1)
    more = sum(report.values()) >= batch_size and not report[SERVER_DOWN]
    if more and not dispatch.app.conf.task_always_eager:
        dispatch.delay(batch_size)
    return more


@shared_task(ignore_result=True)
def purge_idempotency_keys() -> None:
    idempotency.purge_idempotency_keys(now=timezone.now())


@shared_task(ignore_result=True)
def roll_up_terms() -> int:
    """Sum the term tally's months that have ended into ``TermMonth``; rows written (none on
    most runs: a month is rolled up once, in the first run three days after its end)."""
    return TermMonth.objects.roll_up()
