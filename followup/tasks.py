"""Celery tasks of the follow-up: thin triggers; the work lives in the flows they call."""

from celery import shared_task
from django.utils import timezone

from followup import digests, rechecks


@shared_task(ignore_result=True)
def send_digests() -> None:
    """The digests due now; run every few minutes, each is sent once per period."""
    digests.send_due_digests(now=timezone.now())


@shared_task(ignore_result=True)
def send_rechecks() -> bool:
    """Ask "Was your issue solved?" where it is due; whether more may be due (the batch was full)."""
    report = rechecks.send_due_rechecks(now=timezone.now())
    return sum(report.values()) >= rechecks.BATCH_SIZE
