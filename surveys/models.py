"""Surveys, touchpoints, contacts, invitations and responses.

Personal data lives in two places only: ``Contact`` (email, name, external id,
properties) and ``Response`` (comment and the property snapshot). Erasure and
access exports start from these two models.
"""

import hashlib
import json
import re
import secrets
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import IntegrityError, connection, models, transaction
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Coalesce, Greatest, Lower, TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from surveys.scales import (
    DEFAULT_EMAIL_INTRO,
    DEFAULT_EMAIL_SUBJECT,
    DEFAULT_FOLLOW_UP,
    DEFAULT_SUBJECT,
    DEFAULT_THANK_YOU,
    LANGUAGES,
    SCALES,
    Scale,
)
from surveys.schedule import default_send_window, validate_send_window
from surveys.signals import response_saved
from surveys.texts import validate_email_text


def new_public_key() -> str:
    """128 bits of randomness, URL-safe: the survey's key for links and the widget."""
    return secrets.token_urlsafe(16)


def new_token() -> str:
    """192 bits of randomness, URL-safe, not derived from any id."""
    return secrets.token_urlsafe(24)


_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Contact and event properties: open-ended, validated where they come in.
PROPERTY_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_PROPERTIES = 50
PROPERTY_VALUE_MAX_LENGTH = 500
MAX_DASHBOARD_PROPERTIES = 10


def is_token_shaped(value: object) -> bool:
    """Whether a value could be one of our keys or tokens; anything else is never looked up.

    PostgreSQL cannot even compare a string holding U+0000, so a NUL in a URL
    would otherwise end as a server error.
    """
    return isinstance(value, str) and _TOKEN_SHAPE.fullmatch(value) is not None


def validate_origins(value: str) -> None:
    for line in value.splitlines():
        if line.strip() and normalise_origin(line) is None:
            raise ValidationError(
                _("“%(origin)s” is not an origin like https://www.example.com (no path)."),
                params={"origin": line.strip()},
            )


def normalise_origin(value: str) -> str | None:
    """``https://Shop.Example.com:443`` → ``https://shop.example.com``; None if not an origin."""
    value = value.strip()
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    default_port = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    suffix = f":{port}" if port and port != default_port else ""
    return f"{parts.scheme}://{host}{suffix}"


def is_filterable_property(name: str) -> bool:
    """Whether a property name is valid and reads as a JSON key in a query, not as a lookup
    (``isnull``, ``a__contains``): the names dashboards can filter and break down by."""
    lookups = KeyTransform.get_lookups().keys() | models.JSONField.get_lookups().keys()
    return (
        bool(PROPERTY_NAME.fullmatch(name))
        and "__" not in name
        and name not in lookups
        and not name.isdigit()
    )


def validate_dashboard_properties(value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ValidationError(_('Enter a list of property names, e.g. ["plan", "region"].'))
    if len(value) > MAX_DASHBOARD_PROPERTIES:
        raise ValidationError(
            _("At most %(limit)d properties can be counted for the dashboard."),
            params={"limit": MAX_DASHBOARD_PROPERTIES},
        )
    for name in value:
        if not PROPERTY_NAME.fullmatch(name):
            raise ValidationError(
                _("“%(name)s” is not a valid property name (letters, digits, _ . - up to 64)."),
                params={"name": name[:80]},
            )
        if not is_filterable_property(name):
            raise ValidationError(
                _("“%(name)s” reads as a database query word; the dashboard cannot filter by it."),
                params={"name": name},
            )
    if len(set(value)) < len(value):
        raise ValidationError(_("Name each property once."))


class Language(models.TextChoices):
    DE = "de", _("German")
    EN = "en", _("English")


class Survey(models.Model):
    class Kind(models.TextChoices):
        NPS = "nps", _("NPS (0–10)")
        CSAT = "csat", _("CSAT (1–5)")
        CES = "ces", _("CES (1–7)")

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(
        _("kind"),
        max_length=4,
        choices=Kind.choices,
        help_text=_("Fixes the scale. It cannot be changed once the survey exists."),
    )
    brand = models.CharField(_("brand"), max_length=100, help_text=_("Fills {brand} in texts."))
    subject_de = models.CharField(
        _("subject (German)"),
        max_length=200,
        blank=True,
        help_text=_("Fills {subject} in CSAT questions, e.g. “Ihrer Lieferung”."),
    )
    subject_en = models.CharField(
        _("subject (English)"),
        max_length=200,
        blank=True,
        help_text=_("Fills {subject} in CSAT questions, e.g. “your delivery”."),
    )
    question_de = models.CharField(
        _("question (German)"),
        max_length=500,
        blank=True,
        help_text=_("Empty: the standard text."),
    )
    question_en = models.CharField(
        _("question (English)"),
        max_length=500,
        blank=True,
        help_text=_("Empty: the standard text."),
    )
    follow_up_de = models.CharField(
        _("follow-up question (German)"),
        max_length=500,
        blank=True,
        help_text=_("Empty: the standard text."),
    )
    follow_up_en = models.CharField(
        _("follow-up question (English)"),
        max_length=500,
        blank=True,
        help_text=_("Empty: the standard text."),
    )
    thank_you_de = models.CharField(
        _("thank-you text (German)"),
        max_length=500,
        blank=True,
        help_text=_("Empty: the standard text."),
    )
    thank_you_en = models.CharField(
        _("thank-you text (English)"),
        max_length=500,
        blank=True,
        help_text=_("Empty: the standard text."),
    )
    email_subject_de = models.CharField(
        _("email subject (German)"),
        max_length=200,
        blank=True,
        validators=[validate_email_text],
        help_text=_("Empty: the standard text. May use {{ contact.name }} and {{ properties.order_id }}."),
    )
    email_subject_en = models.CharField(
        _("email subject (English)"),
        max_length=200,
        blank=True,
        validators=[validate_email_text],
        help_text=_("Empty: the standard text. May use {{ contact.name }} and {{ properties.order_id }}."),
    )
    email_intro_de = models.TextField(
        _("email introduction (German)"),
        max_length=2000,
        blank=True,
        validators=[validate_email_text],
        help_text=_("Shown above the scale. Empty: the standard text. Placeholders as in the subject."),
    )
    email_intro_en = models.TextField(
        _("email introduction (English)"),
        max_length=2000,
        blank=True,
        validators=[validate_email_text],
        help_text=_("Shown above the scale. Empty: the standard text. Placeholders as in the subject."),
    )
    sender_name = models.CharField(
        _("sender name"),
        max_length=100,
        blank=True,
        help_text=_("Shown as the sender of the emails. Empty: the brand."),
    )
    reply_to = models.EmailField(
        _("reply-to address"),
        blank=True,
        help_text=_("Where answers to the email go. Empty: no Reply-To header."),
    )
    accent_color = models.CharField(
        _("accent colour"),
        max_length=7,
        default="#2456a6",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Enter a colour like #2456a6."))],
    )
    public_key = models.CharField(
        _("public key"),
        max_length=32,
        unique=True,
        default=new_public_key,
        editable=False,
    )
    widget_origins = models.TextField(
        _("allowed widget origins"),
        blank=True,
        validators=[validate_origins],
        help_text=_("One per line, e.g. https://www.example.com. Only these sites may embed the widget."),
    )
    expires_after_days = models.PositiveSmallIntegerField(
        _("invitations can be answered for (days)"), default=30
    )
    active = models.BooleanField(_("active"), default=True)
    dashboard_properties = models.JSONField(
        _("properties on the dashboard"),
        default=list,
        blank=True,
        validators=[validate_dashboard_properties],
        help_text=_(
            'Contact or event properties that name segments, e.g. ["plan", "region"] (not identifiers '
            "such as order numbers), counted day by day so that the dashboard filters and breaks down "
            "by them quickly on large surveys. Other properties work too, more slowly."
        ),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=list(SCALES)),
                name="survey_kind_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(accent_color__regex=r"^#[0-9a-fA-F]{6}$"),
                name="survey_accent_color_hex",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def scale(self) -> Scale:
        return SCALES[self.kind]

    def _text(self, field: str, language: str, default: str) -> str:
        custom = getattr(self, f"{field}_{language}")
        return (
            (custom or default)
            .replace("{brand}", self.brand)
            .replace(
                "{subject}",
                getattr(self, f"subject_{language}") or DEFAULT_SUBJECT[language],
            )
        )

    def question(self, language: str) -> str:
        return self._text("question", language, self.scale.question[language])

    def follow_up(self, language: str) -> str:
        return self._text("follow_up", language, DEFAULT_FOLLOW_UP[language])

    def thank_you(self, language: str) -> str:
        return self._text("thank_you", language, DEFAULT_THANK_YOU[language])

    def email_subject(self, language: str) -> str:
        """The subject as a template: {{ contact.name }} and {{ properties.… }} are filled per mail."""
        return self._text("email_subject", language, DEFAULT_EMAIL_SUBJECT[language])

    def email_intro(self, language: str) -> str:
        return self._text("email_intro", language, DEFAULT_EMAIL_INTRO[language])

    @property
    def on_accent_color(self) -> str:
        """Black or white, whichever contrasts more with the accent colour (WCAG luminance)."""
        channels = [int(self.accent_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
        return "#000000" if (luminance + 0.05) / 0.05 > 1.05 / (luminance + 0.05) else "#ffffff"

    def allowed_origins(self) -> set[str]:
        return {
            origin
            for origin in (normalise_origin(line) for line in self.widget_origins.splitlines())
            if origin
        }


class Touchpoint(models.Model):
    """A moment in the customer journey that the company's systems report as events.

    Its rules decide, in this order, whether and when an event's contact is asked:
    suppression, legal basis, recontact protection, sampling, delay, send window.
    """

    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    name = models.CharField(_("name"), max_length=200)
    survey = models.ForeignKey(
        Survey,
        verbose_name=_("survey"),
        on_delete=models.PROTECT,
        related_name="touchpoints",
    )
    active = models.BooleanField(
        _("active"), default=True, help_text=_("Events of a paused touchpoint are stored, nobody is asked.")
    )
    delay_seconds = models.PositiveIntegerField(
        _("delay (seconds)"),
        default=0,
        help_text=_("How long after the event the survey is sent, e.g. 172800 for two days."),
    )
    sample_percent = models.PositiveSmallIntegerField(
        _("sample (%)"),
        default=100,
        validators=[MaxValueValidator(100)],
        help_text=_("Share of events whose contact is asked. The same event always decides the same."),
    )
    recontact_days = models.PositiveSmallIntegerField(
        _("recontact protection (days)"),
        default=30,
        help_text=_("Nobody invited by any survey within this many days is asked again."),
    )
    send_window = models.JSONField(
        _("send window"),
        default=default_send_window,
        null=True,
        blank=True,
        validators=[validate_send_window],
        help_text=_(
            'Weekdays (0 = Monday) and local hours when emails go out, e.g. {"days": [0, 1, 2, 3, 4], '
            '"start": "09:00", "end": "18:00"}. Empty: any time.'
        ),
    )
    expires_after_days = models.PositiveSmallIntegerField(
        _("answerable for (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Empty: the survey's setting."),
    )
    reminder_after_days = models.PositiveSmallIntegerField(
        _("reminder after (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("One reminder to those who have not answered. Empty: no reminder."),
    )
    require_consent = models.BooleanField(
        _("require a legal basis"),
        default=False,
        help_text=_(
            "Ask only contacts who consented or are existing customers (§ 7(3) UWG). German courts "
            "treat satisfaction surveys by email as advertising."
        ),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("touchpoint")
        verbose_name_plural = _("touchpoints")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(sample_percent__lte=100), name="touchpoint_sample_percent_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(expires_after_days__isnull=True) | models.Q(expires_after_days__gte=1),
                name="touchpoint_expiry_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(reminder_after_days__isnull=True) | models.Q(reminder_after_days__gte=1),
                name="touchpoint_reminder_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def answerable_days(self) -> int:
        return self.expires_after_days or self.survey.expires_after_days


class LegalBasis(models.TextChoices):
    NONE = "none", _("none recorded")
    CONSENT = "consent", _("consent")
    CUSTOMER = "customer", _("existing customer (§ 7(3) UWG)")


class ContactQuerySet(models.QuerySet):
    def matching(self, *, email: str = "", external_id: str = "") -> "ContactQuerySet":
        """Contacts with this email (any case) or this external id; none if both are empty."""
        condition = models.Q(pk__in=[])
        if email:
            condition |= models.Q(email_lower=email.lower())
        if external_id:
            condition |= models.Q(external_id=external_id)
        return self.alias(email_lower=Lower("email")).filter(condition).order_by("pk")


class Contact(models.Model):
    email = models.EmailField(_("email"), blank=True)
    external_id = models.CharField(_("external id"), max_length=200, blank=True)
    name = models.CharField(_("name"), max_length=200, blank=True)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices, blank=True)
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    legal_basis = models.CharField(
        _("legal basis for asking"),
        max_length=8,
        choices=LegalBasis.choices,
        default=LegalBasis.NONE,
    )
    unsubscribed_at = models.DateTimeField(_("unsubscribed"), null=True, blank=True)
    bounced_at = models.DateTimeField(_("bounced"), null=True, blank=True)
    complained_at = models.DateTimeField(_("marked as spam"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now, editable=False)

    LegalBasis = LegalBasis
    objects = ContactQuerySet.as_manager()

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["-created_at"]
        constraints = [
            # One contact per address, whatever its case: Anna@X.de is anna@x.de.
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="contact_email_ci_unique",
            ),
            models.UniqueConstraint(
                fields=["external_id"],
                condition=~models.Q(external_id=""),
                name="contact_external_id_unique",
            ),
            models.CheckConstraint(
                condition=~models.Q(email="", external_id=""),
                name="contact_has_identity",
            ),
            models.CheckConstraint(
                condition=models.Q(language__in=["", *LANGUAGES]),
                name="contact_language_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(legal_basis__in=LegalBasis.values),
                name="contact_legal_basis_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.email or self.external_id

    @property
    def suppression(self) -> str | None:
        """Why this contact must never be emailed ("unsubscribed", "bounced", "complained"), or None."""
        for reason in ("complained", "bounced", "unsubscribed"):
            if getattr(self, f"{reason}_at"):
                return reason
        return None


class EventSource(models.TextChoices):
    API = "api", _("API")
    UPLOAD = "upload", _("contact upload")


class Event(models.Model):
    """Something that happened to a customer at a touchpoint, as the company's systems reported it."""

    Source = EventSource

    touchpoint = models.ForeignKey(
        Touchpoint, verbose_name=_("touchpoint"), on_delete=models.PROTECT, related_name="events"
    )
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="events"
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
        return f"{self.touchpoint} · {self.contact}"


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
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contact"),
        on_delete=models.CASCADE,
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
        return f"{self.survey} → {self.contact}"

    def closed_reason(self, now: datetime) -> str | None:
        """Why this invitation can no longer be answered: "inactive", "expired" or None."""
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
        """
        with transaction.atomic():
            response = Response.objects.select_for_update().filter(invitation=self).first()
            if response is None:
                try:
                    with transaction.atomic():
                        response = Response.objects.create(
                            invitation=self,
                            survey=self.survey,
                            kind=self.survey.kind,
                            touchpoint=self.touchpoint,
                            contact=self.contact,
                            channel=Response.Channel.EMAIL,
                            score=score,
                            comment=comment or "",
                            language=language,
                            contact_properties=self.contact.properties,
                            event_properties=self.properties,
                            created_at=now,
                            updated_at=now,
                        )
                except IntegrityError:
                    response = Response.objects.select_for_update().get(invitation=self)
                else:
                    response.tally(score=score, change=+1)
                    Invitation.objects.filter(pk=self.pk, answered_at__isnull=True).update(answered_at=now)
                    response_saved.send(sender=Response, response=response, created=True)
                    return response
            response.revise(score=score, comment=comment, language=language, now=now)
        return response

    @staticmethod
    def expiry(survey: Survey, now: datetime) -> datetime:
        return now + timedelta(days=survey.expires_after_days)


def _score_in_scale() -> models.Q:
    condition = models.Q()
    for scale in SCALES.values():
        condition |= models.Q(kind=scale.kind, score__gte=scale.low, score__lte=scale.high)
    return condition


class ResponseChannel(models.TextChoices):
    EMAIL = "email", _("email")
    LINK = "link", _("link")
    WIDGET = "widget", _("widget")


class Response(models.Model):
    Channel = ResponseChannel

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    survey = models.ForeignKey(
        Survey,
        verbose_name=_("survey"),
        on_delete=models.PROTECT,
        related_name="responses",
    )
    # A copy of survey.kind, so that the database can check the score against its scale.
    kind = models.CharField(_("kind"), max_length=4, choices=Survey.Kind.choices, editable=False)
    touchpoint = models.ForeignKey(
        Touchpoint,
        verbose_name=_("touchpoint"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="responses",
    )
    invitation = models.OneToOneField(
        Invitation,
        verbose_name=_("invitation"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="response",
    )
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contact"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="responses",
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    score = models.SmallIntegerField(_("score"))
    comment = models.TextField(_("comment"), blank=True, max_length=5000)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    contact_properties = models.JSONField(_("contact properties"), default=dict, blank=True)
    event_properties = models.JSONField(_("event properties"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("response")
        verbose_name_plural = _("responses")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=_score_in_scale(), name="response_score_in_scale"),
            models.CheckConstraint(
                condition=models.Q(channel__in=ResponseChannel.values),
                name="response_channel_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(language__in=LANGUAGES),
                name="response_language_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(updated_at__gte=models.F("created_at")),
                name="response_updated_after_created",
            ),
        ]
        indexes = [
            # Dashboards: one survey over a period, counting scores (index-only scans).
            models.Index(
                fields=["survey", "created_at"],
                include=["score"],
                name="response_survey_time_idx",
            ),
            # Dashboards split by touchpoint over a period.
            models.Index(
                fields=["touchpoint", "created_at"],
                include=["score"],
                name="response_touchpoint_time_idx",
            ),
            # Exports and API sync: "what changed since".
            models.Index(fields=["updated_at"], name="response_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.survey}: {self.score}"

    @property
    def category(self) -> str:
        return SCALES[self.kind].category(self.score)

    def revise(self, *, score: int | None, comment: str | None, now: datetime, language: str = "") -> None:
        """Change the score, comment or language; None (or "") leaves a field as it is.

        A changed score moves the response from its old score to the new one in the
        daily tallies, with the row locked so that two changes cannot both move it.
        Subscribers hear of the change (``response_saved``) in the same transaction.
        """
        changes: dict = {}
        if comment is not None:
            changes["comment"] = comment
        if language:
            changes["language"] = language
        with transaction.atomic():
            if score is not None:
                changes["score"] = score
                stored = Response.objects.select_for_update().only("score").get(pk=self.pk).score
            # A concurrent first answer may have been created a moment after our clock read.
            Response.objects.filter(pk=self.pk).update(
                **changes, updated_at=Greatest(models.F("created_at"), models.Value(now))
            )
            if score is not None and score != stored:
                self.tally(score=stored, change=-1)
                self.tally(score=score, change=+1)
            for field, value in changes.items():
                setattr(self, field, value)
            self.updated_at = max(now, self.created_at)
            response_saved.send(sender=Response, response=self, created=False)

    def tally(self, *, score: int, change: int) -> None:
        """Count this response in (+1) or out of (−1) the daily tallies of scores and of properties."""
        DailyScore.objects.tally(self, score=score, change=change)
        PropertyScore.objects.tally(self, score=score, change=change)

    def property_value(self, name: str) -> str | None:
        """The value of a property as dashboards count it: the event's if the event has the
        property, else the contact's (as ``PropertyValue`` in SQL).

        None if neither has it, or if the value is not text of 1 to PROPERTY_VALUE_MAX_LENGTH
        characters: the events API also takes numbers, true, false and null, which are not counted.
        """
        for properties in (self.event_properties, self.contact_properties):
            if isinstance(properties, dict) and name in properties:
                value = properties[name]
                counted = isinstance(value, str) and 0 < len(value) <= PROPERTY_VALUE_MAX_LENGTH
                return value if counted else None
        return None


class DailyScoreQuerySet(models.QuerySet):
    def tally(self, response: "Response", *, score: int, change: int) -> None:
        """Count a response in (+1) or out of (−1) its local day and score, atomically.

        In: an upsert. Out: an update of the row that counted it (the check constraint
        would refuse the negative row an upsert proposes before it meets the conflict).
        """
        key = {"survey_id": response.survey_id, "touchpoint_key": response.touchpoint_id or 0, "score": score}
        if change < 0:
            self.filter(**key, day=timezone.localdate(response.created_at)).update(
                responses=models.F("responses") + change
            )
            return
        table = self.model._meta.db_table
        day = connection.ops.adapt_datefield_value(timezone.localdate(response.created_at))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (survey_id, touchpoint_key, day, score, responses) "  # noqa: S608
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (survey_id, day, touchpoint_key, score) "
                f"DO UPDATE SET responses = {table}.responses + excluded.responses",
                [response.survey_id, response.touchpoint_id or 0, day, score, change],
            )

    def rebuild(self) -> int:
        """Count every response afresh, after bulk loads or to repair; returns the rows written."""
        zone = timezone.get_current_timezone()
        counts = (
            Response.objects.annotate(day=TruncDate("created_at", tzinfo=zone))
            .values("survey_id", "touchpoint_id", "day", "score")
            .annotate(responses=models.Count("pk"))
            .order_by()
        )
        with transaction.atomic():
            self.all().delete()
            rows = self.bulk_create(
                (
                    DailyScore(
                        survey_id=row["survey_id"],
                        touchpoint_key=row["touchpoint_id"] or 0,
                        day=row["day"],
                        score=row["score"],
                        responses=row["responses"],
                    )
                    for row in counts.iterator()
                ),
                batch_size=5000,
            )
        return len(rows)


class DailyScore(models.Model):
    """How many responses each survey got per local day, touchpoint and score.

    Kept in step with every response written or changed, so that dashboards count
    thousands of tally rows instead of millions of responses. Derived data: it holds
    nothing personal and ``DailyScore.objects.rebuild()`` recreates it.
    """

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="+")
    # The touchpoint's id, 0 for answers without one (link, widget): a unique key needs no NULL.
    touchpoint_key = models.PositiveIntegerField()
    day = models.DateField()  # in the installation's time zone
    score = models.SmallIntegerField()
    responses = models.IntegerField()

    objects = DailyScoreQuerySet.as_manager()

    class Meta:
        constraints = [
            # The upsert's conflict target; also the dashboards' index: one survey over a period.
            models.UniqueConstraint(
                fields=["survey", "day", "touchpoint_key", "score"], name="daily_score_unique_key"
            ),
            models.CheckConstraint(condition=models.Q(responses__gte=0), name="daily_score_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.survey_id} {self.day} {self.score}: {self.responses}"


class PropertyValue(models.Func):
    """``Response.property_value(name)`` in SQL: the text a dashboard counts, or NULL.

    Written out for each database: Django's key transforms cannot tell text from other
    JSON values (on SQLite they even read the string "5" as the number 5). The event's
    property is taken whenever the event has the key, as in the Python version.
    """

    output_field = models.TextField()

    def __init__(self, name: str) -> None:
        super().__init__(models.F("event_properties"), models.F("contact_properties"))
        self.name = name

    def as_postgresql(self, compiler, connection):
        return self._compile(
            compiler,
            self.name,
            has="({} -> %s) IS NOT NULL",
            kind="jsonb_typeof({} -> %s)",
            text="({} ->> %s)",
        )

    def as_sqlite(self, compiler, connection):
        # A JSON path, quoted so that a name with a dot stays one key.
        return self._compile(
            compiler,
            f"$.{json.dumps(self.name)}",
            has="json_type({}, %s) IS NOT NULL",
            kind="json_type({}, %s)",
            text="json_extract({}, %s)",
            string="text",
        )

    def _compile(self, compiler, key: str, *, has: str, kind: str, text: str, string: str = "string"):
        event, contact = (compiler.compile(column)[0] for column in self.get_source_expressions())

        def text_of(column: str) -> str:
            return (
                f"CASE WHEN {kind.format(column)} = '{string}' AND length({text.format(column)}) "
                f"BETWEEN 1 AND {PROPERTY_VALUE_MAX_LENGTH} THEN {text.format(column)} END"
            )

        sql = f"(CASE WHEN {has.format(event)} THEN {text_of(event)} ELSE {text_of(contact)} END)"
        return sql, [key] * sql.count("%s")  # the columns take no parameters; every %s is the key


class PropertyScoreQuerySet(models.QuerySet):
    def tally(self, response: "Response", *, score: int, change: int) -> None:
        """Count a response in (+1) or out of (−1) its local day, score and the value of each of
        its survey's dashboard properties that it has, atomically, as ``DailyScore.objects.tally``.

        The survey's list is read with a share lock: a change of the list, which rebuilds these
        rows, waits for this answer's transaction, and this answer waits for the change's; so
        no answer is counted under a list that the rebuild did not see.
        """
        values = {
            name: value
            for name in _locked_dashboard_properties(response.survey_id)
            if (value := response.property_value(name)) is not None
        }
        if not values:
            return
        key = {"survey_id": response.survey_id, "touchpoint_key": response.touchpoint_id or 0, "score": score}
        day = timezone.localdate(response.created_at)
        if change < 0:
            counted = models.Q()
            for name, value in values.items():
                counted |= models.Q(name=name, value=value)
            self.filter(counted, **key, day=day).update(responses=models.F("responses") + change)
            return
        table = self.model._meta.db_table
        day = connection.ops.adapt_datefield_value(day)
        rows = sorted(values.items())  # one order for every writer: no deadlocks between two answers
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (survey_id, name, day, touchpoint_key, value, score, responses) "  # noqa: S608
                f"VALUES {', '.join(['(%s, %s, %s, %s, %s, %s, %s)'] * len(rows))} "
                "ON CONFLICT (survey_id, name, day, touchpoint_key, value, score) "
                f"DO UPDATE SET responses = {table}.responses + excluded.responses",
                [
                    field
                    for name, value in rows
                    for field in (key["survey_id"], name, day, key["touchpoint_key"], value, score, change)
                ],
            )

    def rebuild(self, survey: Survey | None = None) -> int:
        """Count every response of one survey (or of all) afresh for its survey's dashboard
        properties, with one grouped INSERT … SELECT per property name; returns the rows written."""
        surveys = Survey.objects.all() if survey is None else Survey.objects.filter(pk=survey.pk)
        surveys_by_name = defaultdict(list)
        for survey_id, names in surveys.values_list("pk", "dashboard_properties"):
            for name in names:
                surveys_by_name[name].append(survey_id)
        zone = timezone.get_current_timezone()
        table = self.model._meta.db_table
        written = 0
        with transaction.atomic(), connection.cursor() as cursor:
            self.filter(survey__in=surveys).delete()
            for name, survey_ids in sorted(surveys_by_name.items()):
                counts, parameters = (
                    Response.objects.filter(survey_id__in=survey_ids)
                    .annotate(
                        day=TruncDate("created_at", tzinfo=zone),
                        touchpoint_key=Coalesce("touchpoint_id", 0),
                        value=PropertyValue(name),
                    )
                    .values("survey_id", "day", "touchpoint_key", "value", "score")
                    .annotate(responses=models.Count("pk"))
                    .order_by()
                    .query.sql_with_params()
                )
                # Into the table in the same statement: a property with a few values has rows by
                # the hundred thousand on a large survey, too many to carry through Python.
                cursor.execute(
                    f"INSERT INTO {table} (survey_id, name, day, touchpoint_key, value, score, responses) "  # noqa: S608
                    "SELECT survey_id, %s, day, touchpoint_key, value, score, responses "
                    f"FROM ({counts}) AS counts WHERE value IS NOT NULL",
                    [name, *parameters],
                )
                written += cursor.rowcount
        return written


def _locked_dashboard_properties(survey_id: int) -> list[str]:
    """The survey's dashboard properties, share-locked until the transaction ends where the
    database has row locks (SQLite has one writer at a time and needs none)."""
    lock = " FOR SHARE" if connection.features.has_select_for_update else ""
    table = Survey._meta.db_table
    query = f"SELECT id, dashboard_properties FROM {table} WHERE id = %s{lock}"  # noqa: S608
    return Survey.objects.raw(query, [survey_id])[0].dashboard_properties


class PropertyScore(models.Model):
    """How many responses each survey got per local day, touchpoint, score and value of each
    of its dashboard properties (``Survey.dashboard_properties``).

    The property filters and breakdowns of large surveys count these rows instead of
    reading the properties of every response. Kept in step with every response written or
    changed. Derived data: counts per segment (plan, region), nothing personal, no contact;
    ``PropertyScore.objects.rebuild()`` recreates it.
    """

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=64)
    day = models.DateField()  # in the installation's time zone
    # The touchpoint's id, 0 for answers without one (link, widget): a unique key needs no NULL.
    touchpoint_key = models.PositiveIntegerField()
    value = models.CharField(max_length=PROPERTY_VALUE_MAX_LENGTH)
    score = models.SmallIntegerField()
    responses = models.IntegerField()

    objects = PropertyScoreQuerySet.as_manager()

    class Meta:
        constraints = [
            # The upsert's conflict target; also the dashboards' index: one survey's property over a period.
            models.UniqueConstraint(
                fields=["survey", "name", "day", "touchpoint_key", "value", "score"],
                name="property_score_unique_key",
            ),
            models.CheckConstraint(condition=models.Q(responses__gte=0), name="property_score_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.survey_id} {self.name}={self.value} {self.day} {self.score}: {self.responses}"


def rebuild_tallies() -> None:
    """Count every response afresh into both daily tallies, after bulk loads or to repair."""
    with transaction.atomic():
        DailyScore.objects.rebuild()
        PropertyScore.objects.rebuild()


TOKEN_PREFIX = "cxs_"  # noqa: S105 - a marker that secret scanners can match, not a secret


def digest_token(token: str) -> str:
    """API tokens are stored as SHA-256 digests: 256 random bits need no slow hash."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the REST API, acting as its user. Only the digest is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="api_tokens",
    )
    name = models.CharField(_("name"), max_length=100, help_text=_("What uses it, e.g. “shop backend”."))
    digest = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters, so that a token can be recognised in the list without being stored.
    hint = models.CharField(_("starts with"), max_length=12, editable=False)
    write = models.BooleanField(
        _("write access"), default=False, help_text=_("Without it the token can only read.")
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @classmethod
    def issue(cls, *, user, name: str, write: bool = False) -> tuple["ApiToken", str]:
        """A new token for ``user``; the plain token is returned once and never stored."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        api_token = cls.objects.create(
            user=user, name=name, write=write, digest=digest_token(token), hint=token[:10]
        )
        return api_token, token


class IdempotentRequest(models.Model):
    """The first answer to a request sent with an ``Idempotency-Key``, replayed to its retries."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="idempotent_requests")
    key = models.CharField(max_length=255)
    # SHA-256 of method, path and body: the same key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="idempotent_request_unique_key"),
        ]
        indexes = [
            # The clean-up of keys older than a day.
            models.Index(fields=["created_at"], name="idempotent_request_age_idx"),
        ]

    def __str__(self) -> str:
        return self.key
