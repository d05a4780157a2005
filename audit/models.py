"""The audit log: one row per thing done that an installation must be able to account for.

Append-only: the application never changes or deletes a row, except the retention's purge of
rows older than ``AUDIT_LOG_RETENTION_DAYS``. On PostgreSQL a trigger (migration 0001) refuses
any other UPDATE or DELETE, from the application or a console. A row names its actor by id and
name at the time (no foreign key: deleting a user must not touch the log) and its client by a
keyed hash of the address, never the address itself.
"""

from datetime import datetime

from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# The PostgreSQL setting that lets the trigger allow the purge's DELETE, in its transaction only.
PURGE_SETTING = "cxsurvey.audit_purge"


class AppendOnly(Exception):
    """An attempt to change or delete a row of the audit log."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs) -> int:
        raise AppendOnly("The audit log is append-only.")

    def delete(self):
        raise AppendOnly("The audit log is append-only; only the retention purges it.")

    def purge(self, *, before: datetime, batch_size: int = 10_000) -> int:
        """Delete the rows older than ``before``, in batches; how many."""
        purged = 0
        while True:
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT set_config(%s, 'on', true)", [PURGE_SETTING])
                ids = list(
                    self.filter(at__lt=before).order_by("pk").values_list("pk", flat=True)[:batch_size]
                )
                if not ids:
                    return purged
                count, _deleted = models.QuerySet.delete(self.filter(pk__in=ids))
                purged += count


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        SIGNED_IN = "signed_in", _("signed in")
        SIGN_IN_FAILED = "sign_in_failed", _("sign-in failed")
        SIGNED_OUT = "signed_out", _("signed out")
        EXPORT_CREATED = "export_created", _("export created")
        EXPORT_DOWNLOADED = "export_downloaded", _("export downloaded")
        PERSONAL_DATA_READ = "personal_data_read", _("personal data read through the API")
        CONTACT_ERASED = "contact_erased", _("contact erased")
        ACCESS_EXPORTED = "access_exported", _("contact's data exported (right of access)")
        ROLES_CHANGED = "roles_changed", _("roles changed")
        TEAM_CHANGED = "team_changed", _("team changed")
        API_TOKEN_CREATED = "api_token_created", _("API token created")
        API_TOKEN_DELETED = "api_token_deleted", _("API token deleted")
        SECRET_CREATED = "secret_created", _("secret created")
        SURVEY_CHANGED = "survey_changed", _("survey changed")
        SETTINGS_CHANGED = "settings_changed", _("settings changed")
        RETENTION_RUN = "retention_run", _("retention run")
        DATA_IMPORTED = "data_imported", _("data imported")

    at = models.DateTimeField(_("when"), default=timezone.now, editable=False)
    action = models.CharField(_("what"), max_length=40, choices=Action.choices)
    actor_id = models.BigIntegerField(_("user id"), null=True, blank=True)
    # As the user was called then: the log outlives renamed and deleted users.
    actor = models.CharField(_("who"), max_length=150, blank=True)
    # A keyed hash of the client's address: the same client reads the same, the address never.
    client = models.CharField(_("from (pseudonymised)"), max_length=16, blank=True)
    via = models.CharField(_("via"), max_length=20, blank=True)  # web, api, command, task
    object_type = models.CharField(_("object type"), max_length=100, blank=True)
    object_id = models.CharField(_("object id"), max_length=100, blank=True)
    # What it was called (a survey's name, a token's name), never a contact's personal data.
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit log")
        ordering = ["-at", "-pk"]
        indexes = [
            # The log's list, newest first, and the retention's purge of the oldest.
            models.Index(fields=["at"], name="audit_event_at"),
            # The list filtered by what was done, or by whom.
            models.Index(fields=["action", "at"], name="audit_event_action_at"),
            models.Index(fields=["actor_id", "at"], name="audit_event_actor_at"),
            # Everything done to one object (a survey, a contact).
            models.Index(fields=["object_type", "object_id"], name="audit_event_object"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor or '—'}: {self.get_action_display()}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnly("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("The audit log is append-only; only the retention purges it.")
