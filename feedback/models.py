"""What the feedback pages keep: a record of every export (who, when, which filters, how many rows)."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ExportRecord(models.Model):
    """One export of verbatims: kept to answer "who took which answers out, and when"."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"
        JSONL = "jsonl", "JSON Lines"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    # Kept when the user is deleted: the record outlives the account.
    username = models.CharField(_("user name"), max_length=150)
    format = models.CharField(_("format"), max_length=5, choices=Format.choices)
    # The filters as URL parameters ({name: [values]}), enough to run the export again.
    filters = models.JSONField(_("filters"))
    personal = models.BooleanField(_("with personal data"))
    rows = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    created_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["created_at"], name="export_record_created_idx")]

    def __str__(self) -> str:
        return f"{self.username} {self.format} {self.created_at:%Y-%m-%d %H:%M}"
