"""Celery tasks: thin triggers; the work and its bookkeeping live in the flows they call."""

from celery import shared_task
from django.utils import timezone

from followup import rechecks


@shared_task(ignore_result=True)
def send_rechecks() -> bool:
    """Ask "Was your issue solved?" where it is due; whether more may be due (the batch was full)."""
    report = rechecks.send_due_rechecks(now=timezone.now())
    return sum(report.values()) >= rechecks.BATCH_SIZE
