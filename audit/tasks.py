"""Celery tasks of the audit log: thin triggers of ``AuditEvent.objects.purge``."""

import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from audit.models import AuditEvent

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def purge() -> int:
    """Delete the audit events older than ``AUDIT_LOG_RETENTION``; how many."""
    purged = AuditEvent.objects.purge(before=timezone.now() - settings.AUDIT_LOG_RETENTION)
    if purged:
        logger.info("Deleted %d audit events older than the retention period", purged)
    return purged
