"""Celery tasks of the follow-up: thin triggers; the work lives in the flows they call."""

from celery import shared_task
from django.utils import timezone

from cxsurvey import handoff
from followup import alerts, digests, rechecks, replies


@shared_task(ignore_result=True)
def send_digests() -> None:
    """The digests due now; run every few minutes, each is sent once per period."""
    digests.send_due_digests(now=timezone.now())


@shared_task(ignore_result=True)
def send_rechecks() -> bool:
    """Ask "Was your issue solved?" where it is due; whether more may be due (the batch was full)."""
    report = rechecks.send_due_rechecks(now=timezone.now())
    return sum(report.values()) >= rechecks.BATCH_SIZE


@shared_task(ignore_result=True)
def send_replies() -> None:
    """Send the replies to customers that wait; the periodic schedule starts one every few seconds.
    A lost task loses nothing: the replies stay queued in the database."""
    replies.send_queued_replies(now=timezone.now())


@shared_task(ignore_result=True)
def send_reply(entry_id: int) -> None:
    """Send a new reply at once instead of at the next sweep; nothing if another worker has it."""
    replies.send_reply(entry_id, now=timezone.now())


def enqueue_reply(entry_id: int) -> None:
    """Hand a queued reply to a worker once its transaction commits. Without a broker nothing is
    enqueued: ``manage.py runtasks`` sends it, outside the request that wrote it."""
    if send_reply.app.conf.task_always_eager:
        return
    handoff.after_commit(send_reply, entry_id)


@shared_task(ignore_result=True)
def evaluate(batch_size: int = alerts.BATCH_SIZE) -> bool:
    """Evaluate one batch of queued answers; whether more may be due (the batch was full). The
    periodic schedule starts one every few seconds; a lost task loses nothing."""
    return alerts.evaluate_due(batch_size=batch_size) >= batch_size


@shared_task(ignore_result=True)
def evaluate_one(evaluation_id: int) -> None:
    """Evaluate a new answer at once instead of at the next sweep; nothing if another worker has it."""
    alerts.evaluate_if_due(evaluation_id)


@shared_task(ignore_result=True)
def deliver_notifications() -> None:
    """Send again the instant emails and chat posts an earlier attempt could not send."""
    alerts.deliver_pending(now=timezone.now())


def enqueue(evaluation_id: int) -> None:
    """Hand an evaluation to a worker once the answer's transaction commits. Without a broker
    nothing is enqueued: ``manage.py runtasks`` sweeps, outside the answering request."""
    if evaluate_one.app.conf.task_always_eager:
        return
    handoff.after_commit(evaluate_one, evaluation_id)
