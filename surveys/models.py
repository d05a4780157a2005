"""Surveys, touchpoints, contacts, invitations and responses.

Personal data lives in two places only: ``Contact`` (email, name, external id,
properties) and ``Response`` (comment and the property snapshot). Erasure and
access exports start from these two models.
"""

import re
import secrets
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import IntegrityError, models, transaction
from django.db.models.functions import Greatest, Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from surveys.scales import (
    DEFAULT_FOLLOW_UP,
    DEFAULT_SUBJECT,
    DEFAULT_THANK_YOU,
    LANGUAGES,
    SCALES,
    Scale,
)


def new_public_key() -> str:
    """128 bits of randomness, URL-safe: the survey's key for links and the widget."""
    return secrets.token_urlsafe(16)


def new_token() -> str:
    """192 bits of randomness, URL-safe, not derived from any id."""
    return secrets.token_urlsafe(24)


_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,64}")


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
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    name = models.CharField(_("name"), max_length=200)
    survey = models.ForeignKey(
        Survey,
        verbose_name=_("survey"),
        on_delete=models.PROTECT,
        related_name="touchpoints",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("touchpoint")
        verbose_name_plural = _("touchpoints")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


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
    unsubscribed_at = models.DateTimeField(_("unsubscribed"), null=True, blank=True)
    bounced_at = models.DateTimeField(_("bounced"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now, editable=False)

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
        ]

    def __str__(self) -> str:
        return self.email or self.external_id


class InvitationStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("scheduled")
    SKIPPED = "skipped", _("skipped")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")


class Invitation(models.Model):
    Status = InvitationStatus

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
    properties = models.JSONField(_("event properties"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
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
        ]
        indexes = [
            # The contact's history: recontact protection and the admin's contact view.
            models.Index(fields=["contact", "-created_at"], name="invitation_contact_idx"),
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
                    Invitation.objects.filter(pk=self.pk, answered_at__isnull=True).update(answered_at=now)
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
        """Change the score, comment or language; None (or "") leaves a field as it is."""
        changes: dict = {}
        if score is not None:
            changes["score"] = score
        if comment is not None:
            changes["comment"] = comment
        if language:
            changes["language"] = language
        # A concurrent first answer may have been created a moment after our clock read.
        Response.objects.filter(pk=self.pk).update(
            **changes, updated_at=Greatest(models.F("created_at"), models.Value(now))
        )
        for field, value in changes.items():
            setattr(self, field, value)
        self.updated_at = max(now, self.created_at)
