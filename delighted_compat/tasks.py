"""Celery tasks: thin triggers; the work lives in ``delighted_compat.autopilot``."""

from celery import shared_task
from django.utils import timezone

from delighted_compat.autopilot import BATCH_SIZE, run_due


@shared_task(ignore_result=True)
def run_autopilot(batch_size: int = BATCH_SIZE) -> bool:
    """Report one batch of Autopilot's surveys that are due; whether more may be due (the batch was
    full), in which case the next batch goes to another free worker (``runtasks`` runs it at once)."""
    more = run_due(now=timezone.now(), batch_size=batch_size) >= batch_size
    if more and not run_autopilot.app.conf.task_always_eager:
        run_autopilot.delay(batch_size)
    return more
