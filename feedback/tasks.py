"""Celery tasks of the feedback pages: thin triggers; the work and its bookkeeping live in
``feedback.exports``."""

from functools import partial

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from feedback import exports
from feedback.models import ExportRecord


@shared_task(ignore_result=True)
def prepare_export(record_id: int) -> None:
    """Write a queued export's file. A lost task leaves the export queued until the clean-up
    fails it at its expiry; a task delivered twice writes the file once."""
    exports.prepare_export(record_id=record_id)


@shared_task(ignore_result=True)
def tidy_exports() -> None:
    exports.tidy_exports(now=timezone.now())


def start(record: ExportRecord) -> None:
    """Hand a queued export to a worker once the transaction that queued it commits.

    Without a broker the task runs right then, in the request. A broker that is down fails
    nothing: the export waits, and the clean-up fails it if no worker starts it in time.
    """
    transaction.on_commit(partial(prepare_export.delay, record.pk), robust=True)
