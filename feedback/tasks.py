"""Celery tasks of the feedback pages: thin triggers; the work and its bookkeeping live in
``feedback.exports``."""

from datetime import timedelta
from functools import partial

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from cxsurvey import handoff
from feedback import exports
from feedback.models import ExportRecord

# A queued export that no worker started this long after it was queued is handed over again:
# the broker may have been down when the request tried.
HAND_OVER_AGAIN_AFTER = timedelta(minutes=1)


@shared_task(ignore_result=True)
def prepare_export(record_id: int) -> None:
    """Write a queued export's file. A lost task leaves the export queued until the clean-up
    fails it at its expiry; a task delivered twice writes the file once."""
    exports.prepare_export(record_id=record_id)


@shared_task(ignore_result=True)
def tidy_exports() -> None:
    """The clean-up, and a second hand-over of exports whose task the broker did not take."""
    now = timezone.now()
    exports.tidy_exports(now=now)
    for pk in ExportRecord.objects.unstarted(now, HAND_OVER_AGAIN_AFTER).values_list("pk", flat=True):
        prepare_export.delay(pk)


def start(record: ExportRecord) -> None:
    """Hand a queued export to a worker once the transaction that queued it commits.

    Without a broker the task runs right then, in the request. Nor does the request wait for
    a broker (``cxsurvey.handoff``); one that is down fails nothing: the periodic clean-up
    hands the export over again, and fails it if no worker starts it within the hour.
    """
    if prepare_export.app.conf.task_always_eager:
        transaction.on_commit(partial(prepare_export.delay, record.pk), robust=True)
    else:
        handoff.after_commit(prepare_export, record.pk)
