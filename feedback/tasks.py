"""Celery tasks of the feedback pages: thin triggers; the work and its bookkeeping live in
``feedback.exports``."""

from celery import shared_task
from django.utils import timezone

from feedback import exports


@shared_task(ignore_result=True)
def prepare_export(record_id: int) -> None:
    """Write a queued export's file. A lost task leaves the export queued until the clean-up
    fails it at its expiry; a task delivered twice writes the file once."""
    exports.prepare_export(record_id=record_id)


@shared_task(ignore_result=True)
def tidy_exports() -> None:
    exports.tidy_exports(now=timezone.now())
