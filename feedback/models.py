"""What the feedback pages keep: a record of every export (who, when, which filters, how many rows),
and for exports prepared in the background their progress and file until it expires; and how
often each user opened the dashboard on each survey."""

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections, models, router
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ExportRecordQuerySet(models.QuerySet):
    def prepared(self) -> "ExportRecordQuerySet":
        """The exports prepared in the background, as files to download later."""
        return self.filter(background=True)

    def expired(self, now: datetime) -> "ExportRecordQuerySet":
        return self.filter(expires_at__lte=now)

    def unstarted(self, now: datetime, after: timedelta) -> "ExportRecordQuerySet":
        """Exports queued for ``after`` that no worker started: their task was lost."""
        return self.filter(status=ExportRecord.Status.QUEUED, created_at__lte=now - after)

    def stalled(self, now: datetime, after: timedelta) -> "ExportRecordQuerySet":
        """Running exports that reported no progress for ``after``: their worker stopped."""
        return self.filter(status=ExportRecord.Status.RUNNING, progressed_at__lte=now - after)


class ExportRecord(models.Model):
    """One export of verbatims: kept to answer "who took which answers out, and when".

    A download streams at once (``background`` off) and is done when the last byte
    has left. An export prepared in the background is queued, then written by a worker
    (``rows`` of ``total`` so far), then done with its ``file`` until ``expires_at``;
    or failed with an ``error``. The record outlives the file.
    """

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"
        JSONL = "jsonl", "JSON Lines"

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

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
    background = models.BooleanField(_("prepared in the background"), default=False)
    status = models.CharField(_("status"), max_length=7, choices=Status.choices, default=Status.QUEUED)
    rows = models.PositiveIntegerField(_("rows"), null=True, blank=True)  # written so far
    # Counted when a worker starts; answers arriving meanwhile may make ``rows`` exceed it.
    total = models.PositiveIntegerField(_("rows to write"), null=True, blank=True)
    # Under a random name in the default storage, never served by it: only the download view reads it.
    file = models.FileField(_("file"), blank=True)
    filename = models.CharField(_("file name"), max_length=255, blank=True)  # offered on download
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("started"), default=timezone.now)
    progressed_at = models.DateTimeField(_("last progress"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)  # the file is deleted then

    objects = ExportRecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "running", "done", "failed"]),
                name="export_record_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(background=False) | models.Q(expires_at__isnull=False),
                name="export_record_prepared_expires",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="failed") | ~models.Q(error=""),
                name="export_record_failure_explained",
            ),
        ]
        indexes = [
            models.Index(fields=["created_at"], name="export_record_created_idx"),
            # The clean-up: files whose time is up.
            models.Index(
                fields=["expires_at"], condition=~models.Q(file=""), name="export_record_file_expiry_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.username} {self.format} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def downloadable(self) -> bool:
        """Whether the prepared file is there: done, and not yet deleted at its expiry."""
        return self.status == self.Status.DONE and bool(self.file)

    @property
    def percent(self) -> int | None:
        """Rows written in % of the total, at most 100; None while the total is not yet counted."""
        if self.status == self.Status.DONE:
            return 100
        if self.total is None:
            return None
        return min(100, (self.rows or 0) * 100 // self.total) if self.total else 100


# Django's bulk_create can upsert, but not add to the stored count; SQLite and PostgreSQL share this.
RECORD_VISIT = """
    INSERT INTO feedback_surveyvisit (user_id, survey_id, visits, last_visited_at) VALUES (%s, %s, 1, %s)
    ON CONFLICT (user_id, survey_id)
    DO UPDATE SET visits = feedback_surveyvisit.visits + 1, last_visited_at = excluded.last_visited_at
"""


class SurveyVisitQuerySet(models.QuerySet):
    def record(self, *, user_id: int, survey_id: int, now: datetime) -> None:
        """Count one more opening of the dashboard on this survey by this user: one upsert, so
        that two tabs opening at once both count and neither fails."""
        with connections[router.db_for_write(self.model)].cursor() as cursor:
            cursor.execute(RECORD_VISIT, [user_id, survey_id, now])


class SurveyVisit(models.Model):
    """How often a user opened the dashboard on a survey: the dashboard opens on their most
    visited one when the URL names none."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    survey = models.ForeignKey("surveys.Survey", on_delete=models.CASCADE, related_name="+")
    visits = models.PositiveIntegerField(default=0)
    last_visited_at = models.DateTimeField()

    objects = SurveyVisitQuerySet.as_manager()

    class Meta:
        constraints = [
            # The upsert's conflict target; also the index of the default survey's lookup by user.
            models.UniqueConstraint(fields=["user", "survey"], name="survey_visit_unique_user_survey"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.survey_id}: {self.visits}"
