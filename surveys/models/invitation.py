"""Touchpoint events, and the invitation each one yields: sent, or skipped with its reason."""

from datetime import datetime, timedelta

from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from surveys.models.contact import Contact
from surveys.models.response import Response
from surveys.models.survey import Survey, Touchpoint
from surveys.models.tokens import new_token
from surveys.signals import response_saved
from surveys.terms import comment_fields


class EventSource(models.TextChoices):
    API = "api", _("API")
    UPLOAD = "upload", _("contact upload")


class Event(models.Model):
    """Something that happened to a customer at a touchpoint, as the company's systems reported it."""

    Source = EventSource

    touchpoint = models.ForeignKey(
        Touchpoint, verbose_name=_("touchpoint"), on_delete=models.PROTECT, related_name="events"
    )
    # Empty once the contact was erased: the event still counts in the touchpoint's statistics.
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.CASCADE, null=True, related_name="events"
    )
    properties = models.JSONField(_("event properties"), default=dict, blank=True)
    occurred_at = models.DateTimeField(_("occurred"))
    received_at = models.DateTimeField(_("received"), default=timezone.now, editable=False)
    source = models.CharField(_("source"), max_length=8, choices=Source.choices, default=Source.API)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-received_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(source__in=EventSource.values), name="event_source_valid"
            ),
        ]
        indexes = [
            # Touchpoint statistics: events per touchpoint over a period.
            models.Index(fields=["touchpoint", "received_at"], name="event_touchpoint_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.touchpoint} · {self.contact or '—'}"


class ContactErased(Exception):
    """The contact of an invitation was erased while its answer was being recorded."""


class InvitationStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("scheduled")
    SKIPPED = "skipped", _("skipped")
    SENDING = "sending", _("sending")
    SENT = "sent", _("sent")
    DELIVERED = "delivered", _("delivered")
    OPENED = "opened", _("opened")
    BOUNCED = "bounced", _("bounced")
    COMPLAINED = "complained", _("marked as spam")
    FAILED = "failed", _("failed")
    # The mail server may or may not have taken the message: a person checks before resending.
    REVIEW = "review", _("to review")


class SkipReason(models.TextChoices):
    UNSUBSCRIBED = "unsubscribed", _("contact unsubscribed")
    BOUNCED = "bounced", _("address bounced")
    COMPLAINED = "complained", _("contact marked an email as spam")
    NO_EMAIL = "no_email", _("contact has no email address")
    NO_LEGAL_BASIS = "no_legal_basis", _("no consent and not an existing customer")
    RECENTLY_INVITED = "recently_invited", _("invited within the recontact period")
    NOT_SAMPLED = "not_sampled", _("not in the sample")
    PAUSED = "paused", _("touchpoint or survey paused")
    TOO_LATE = "too_late", _("the event is too old to ask about")
    SUPPRESSED = "suppressed", _("address on the suppression list of erased contacts")
    ERASED = "erased", _("contact erased before it was sent")
    CANCELLED = "cancelled", _("cancelled before it was sent")


class Invitation(models.Model):
    Status = InvitationStatus
    SkipReason = SkipReason

    token = models.CharField(_("token"), max_length=64, unique=True, default=new_token, editable=False)
    survey = models.ForeignKey(
        Survey,
        verbose_name=_("survey"),
        on_delete=models.PROTECT,
        related_name="invitations",
    )
    touchpoint = models.ForeignKey(
        Touchpoint,
        verbose_name=_("touchpoint"),
        on_delete=models.PROTECT,
        related_name="invitations",
    )
    # Empty once the contact was erased: the invitation still counts in response rates and the
    # touchpoint's statistics, and can no longer be answered.
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contact"),
        on_delete=models.CASCADE,
        null=True,
        related_name="invitations",
    )
    event = models.OneToOneField(
        Event,
        verbose_name=_("event"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="invitation",
    )
    properties = models.JSONField(_("event properties"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    skip_reason = models.CharField(
        _("skipped because"), max_length=16, choices=SkipReason.choices, blank=True
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    scheduled_for = models.DateTimeField(_("due"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("send attempts"), default=0)
    claimed_at = models.DateTimeField(_("claimed by a sender"), null=True, blank=True)
    send_started_at = models.DateTimeField(_("handed to the mail server"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True)
    provider_message_id = models.CharField(_("provider message id"), max_length=255, blank=True)
    last_error = models.CharField(_("last error"), max_length=1000, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened"), null=True, blank=True)
    reminder_due_at = models.DateTimeField(_("reminder due"), null=True, blank=True)
    reminder_sent_at = models.DateTimeField(_("reminder sent"), null=True, blank=True)
    expires_at = models.DateTimeField(_("answerable until"))
    answered_at = models.DateTimeField(_("first answered"), null=True, blank=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=InvitationStatus.values),
                name="invitation_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(skip_reason__in=["", *SkipReason.values]),
                name="invitation_skip_reason_valid",
            ),
            # A skipped invitation says why; any other has no skip reason.
            models.CheckConstraint(
                condition=models.Q(status=InvitationStatus.SKIPPED, skip_reason__gt="")
                | (~models.Q(status=InvitationStatus.SKIPPED) & models.Q(skip_reason="")),
                name="invitation_skip_reason_iff_skipped",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=InvitationStatus.SCHEDULED)
                | models.Q(scheduled_for__isnull=False),
                name="invitation_scheduled_has_due_time",
            ),
        ]
        indexes = [
            # The contact's history: recontact protection and the admin's contact view.
            models.Index(fields=["contact", "-created_at"], name="invitation_contact_idx"),
            # The dispatcher: scheduled invitations that are due, oldest first.
            models.Index(
                fields=["scheduled_for"],
                condition=models.Q(status="scheduled"),
                name="invitation_due_idx",
            ),
            # The dispatcher's sweep: sends whose worker stopped (status "sending").
            models.Index(
                fields=["claimed_at"],
                condition=models.Q(status="sending"),
                name="invitation_sending_idx",
            ),
            # The dispatcher: reminders that are due.
            models.Index(
                fields=["reminder_due_at"],
                condition=models.Q(reminder_due_at__isnull=False),
                name="invitation_reminder_due_idx",
            ),
            # Provider tracking webhooks find the invitation by our Message-ID (sent as
            # metadata) or, for providers without metadata, by the provider's message id.
            models.Index(
                fields=["message_id"],
                condition=~models.Q(message_id=""),
                name="invitation_message_id_idx",
            ),
            models.Index(
                fields=["provider_message_id"],
                condition=~models.Q(provider_message_id=""),
                name="invitation_provider_msg_idx",
            ),
            # Touchpoint statistics and response rates over a period.
            models.Index(fields=["touchpoint", "created_at"], name="invitation_touchpoint_time_idx"),
            models.Index(fields=["survey", "created_at"], name="invitation_survey_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.survey} → {self.contact or '—'}"

    def closed_reason(self, now: datetime) -> str | None:
        """Why this invitation can no longer be answered: "erased" (its contact), "inactive",
        "expired" or None."""
        if self.contact_id is None:
            return "erased"
        if not self.survey.active:
            return "inactive"
        if now >= self.expires_at:
            return "expired"
        return None

    def record_answer(self, *, score: int, comment: str | None, language: str, now: datetime) -> "Response":
        """Create this invitation's one response, or change it.

        ``comment=None`` keeps the stored comment (a score-only post from the
        email link). Of two concurrent first answers one inserts; the other hits
        the unique constraint on ``invitation`` and changes the row instead.

        Raises ``ContactErased`` if the response was anonymised since this invitation was read:
        its contact is being erased, and a change must not bring a comment back.
        """
        with transaction.atomic():
            response = None
            if not self._known_unanswered():
                response = Response.objects.select_for_update().filter(invitation=self).first()
            if response is None:
                try:
                    with transaction.atomic():
                        response = Response.objects.create(
                            invitation=self,
                            survey=self.survey,
                            kind=self.survey.kind,
                            touchpoint_id=self.touchpoint_id,
                            contact=self.contact,
                            channel=Response.Channel.EMAIL,
                            score=score,
                            comment=comment or "",
                            **comment_fields(comment or "", language),
                            language=language,
                            contact_properties=self.contact.properties if self.contact else {},
                            event_properties=self.properties,
                            created_at=now,
                            updated_at=now,
                        )
                except IntegrityError:
                    response = Response.objects.select_for_update().get(invitation=self)
                else:
                    Invitation.objects.filter(pk=self.pk, answered_at__isnull=True).update(answered_at=now)
                    response_saved.send(sender=Response, response=response, created=True)
                    return response
            if response.contact_id is None and self.contact_id is not None:
                raise ContactErased
            response.revise(score=score, comment=comment, language=language, now=now)
        return response

    def _known_unanswered(self) -> bool:
        """Whether this invitation was loaded with its response and had none: then a first answer
        inserts at once (the unique constraint still stops a second, concurrent one)."""
        return Invitation.response.is_cached(self) and getattr(self, "response", None) is None

    @staticmethod
    def expiry(survey: Survey, now: datetime) -> datetime:
        return now + timedelta(days=survey.expires_after_days)
