"""Celery tasks of the follow-up: thin triggers; the work lives in ``followup.digests``."""

from celery import shared_task
from django.utils import timezone

from followup import digests


@shared_task(ignore_result=True)
def send_digests() -> None:
    """The digests due now; run every few minutes, each is sent once per period."""
    digests.send_due_digests(now=timezone.now())
