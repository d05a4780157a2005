from django.db import models
from django.utils.translation import gettext_lazy as _

from audit.models import AuditEvent, AuditEventQuerySet


class RetentionRunManager(models.Manager.from_queryset(AuditEventQuerySet)):  # type: ignore[misc]
    def get_queryset(self):
        return super().get_queryset().filter(action=AuditEvent.Action.RETENTION_RUN)


class RetentionRun(AuditEvent):
    """A run of the retention, as the audit log has it: the back office's report of what it cleared."""

    objects = RetentionRunManager()  # type: ignore[misc]  # a narrower manager of the same rows

    class Meta:
        proxy = True
        verbose_name = _("retention run")
        verbose_name_plural = _("retention")
