"""Surveys (the question, its scale and texts) and the touchpoints that trigger them."""

import hashlib
import hmac
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from surveys import roles
from surveys.models.legal import validate_web_url
from surveys.models.tokens import new_identity_secret, new_public_key
from surveys.properties import validate_dashboard_properties
from surveys.scales import DEFAULT_SUBJECT, SCALES, Scale, standard_text
from surveys.schedule import default_send_window, validate_send_window
from surveys.texts import (
    MAX_PAGE_TEXT_LENGTH,
    PAGE_PLACEHOLDERS,
    render_survey_text,
    validate_email_text,
    validate_page_text,
)


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


class SurveyQuerySet(models.QuerySet):
    def visible_to(self, user) -> "SurveyQuerySet":
        """The surveys a user may see and act on (their permissions decide what they may do):
        every survey for superusers and Admins, and while the installation has no teams; else
        those of the user's teams. None for an inactive or anonymous user. One query, no more."""
        if not (user.is_authenticated and user.is_active):
            return self.none()
        if user.is_superuser:
            return self
        from surveys.models.team import Team  # which imports this module

        return self.filter(
            ~models.Exists(Team.objects.all())
            | models.Exists(user.groups.filter(name=roles.ADMIN))
            | models.Exists(Team.objects.filter(surveys=models.OuterRef("pk"), members=user))
        )


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
    brand = models.CharField(_("brand"), max_length=100, help_text=_("Fills {{ brand }} in texts."))
    subject_de = models.CharField(
        _("subject (German)"),
        max_length=200,
        blank=True,
        help_text=_("Fills {{ subject }} in CSAT questions, e.g. “Ihrer Lieferung”."),
    )
    subject_en = models.CharField(
        _("subject (English)"),
        max_length=200,
        blank=True,
        help_text=_("Fills {{ subject }} in CSAT questions, e.g. “your delivery”."),
    )
    question_de = models.CharField(
        _("question (German)"),
        max_length=500,
        blank=True,
        validators=[validate_page_text],
        help_text=_("Empty: the standard text. May use {{ brand }} and {{ subject }}."),
    )
    question_en = models.CharField(
        _("question (English)"),
        max_length=500,
        blank=True,
        validators=[validate_page_text],
        help_text=_("Empty: the standard text. May use {{ brand }} and {{ subject }}."),
    )
    follow_up_de = models.CharField(
        _("follow-up question (German)"),
        max_length=500,
        blank=True,
        validators=[validate_page_text],
        help_text=_("Empty: the standard text. May use {{ brand }} and {{ subject }}."),
    )
    follow_up_en = models.CharField(
        _("follow-up question (English)"),
        max_length=500,
        blank=True,
        validators=[validate_page_text],
        help_text=_("Empty: the standard text. May use {{ brand }} and {{ subject }}."),
    )
    thank_you_de = models.CharField(
        _("thank-you text (German)"),
        max_length=500,
        blank=True,
        validators=[validate_page_text],
        help_text=_("Empty: the standard text. May use {{ brand }} and {{ subject }}."),
    )
    thank_you_en = models.CharField(
        _("thank-you text (English)"),
        max_length=500,
        blank=True,
        validators=[validate_page_text],
        help_text=_("Empty: the standard text. May use {{ brand }} and {{ subject }}."),
    )
    email_subject_de = models.CharField(
        _("email subject (German)"),
        max_length=200,
        blank=True,
        validators=[validate_email_text],
        help_text=_(
            "Empty: the standard text. May use {{ brand }}, {{ subject }}, {{ contact.name }} and "
            "{{ properties.order_id }}."
        ),
    )
    email_subject_en = models.CharField(
        _("email subject (English)"),
        max_length=200,
        blank=True,
        validators=[validate_email_text],
        help_text=_(
            "Empty: the standard text. May use {{ brand }}, {{ subject }}, {{ contact.name }} and "
            "{{ properties.order_id }}."
        ),
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
    # Only the company's servers know it: they sign who a link or the widget is for, so that an
    # answer is attached to a contact only when the company vouches for the address.
    identity_secret = models.CharField(
        _("identity secret"),
        max_length=64,
        default=new_identity_secret,
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
    return_url = models.URLField(
        _("return URL"),
        max_length=500,
        blank=True,
        validators=[validate_web_url],
        help_text=_(
            "Where the thank-you page leads back to. Empty: the return URL of the legal information."
        ),
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
    # How long what customers said and sent is kept before the retention anonymises it; empty: the
    # installation's setting (RETENTION_*_DAYS), 0: for as long as the survey exists.
    comment_retention_days = models.PositiveIntegerField(
        _("keep comments for (days)"),
        null=True,
        blank=True,
        help_text=_("Empty: the installation's setting; 0: always."),
    )
    invitation_retention_days = models.PositiveIntegerField(
        _("keep invitation details for (days)"),
        null=True,
        blank=True,
        help_text=_(
            "Event properties, message ids and errors of invitations. "
            "Empty: the installation's setting; 0: always."
        ),
    )
    event_retention_days = models.PositiveIntegerField(
        _("keep event properties for (days)"),
        null=True,
        blank=True,
        help_text=_("Empty: the installation's setting; 0: always."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    objects = SurveyQuerySet.as_manager()

    class Meta:
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")
        ordering = ["name"]
        permissions = [
            ("send_survey", _("Can send surveys: report events, upload contacts, send test emails"))
        ]
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

    def standard_text(self, text: str, language: str) -> str:
        """The standard wording of ``text`` (``surveys.scales.TEXTS``) for this survey's kind, as written."""
        return standard_text(self.kind, text, language)

    def _text(self, text: str, language: str, properties: dict | None) -> str:
        """The survey's own wording of a page's text (else the standard), {{ brand }},
        {{ subject }} and {{ properties.<name> }} filled (the invitation's event properties; none
        on links and in the widget)."""
        return render_survey_text(
            getattr(self, f"{text}_{language}"),
            self.standard_text(text, language),
            {
                "brand": self.brand,
                "subject": self.subject(language),
                "properties": properties if isinstance(properties, dict) else {},
            },
            max_length=MAX_PAGE_TEXT_LENGTH,
            where=f"{text}_{language} of survey {self.pk}",
            allowed=PAGE_PLACEHOLDERS,
        )

    def subject(self, language: str) -> str:
        """What {{ subject }} stands for in the other texts."""
        return getattr(self, f"subject_{language}") or DEFAULT_SUBJECT[language]

    def question(self, language: str, properties: dict | None = None) -> str:
        return self._text("question", language, properties)

    def follow_up(self, language: str, properties: dict | None = None) -> str:
        return self._text("follow_up", language, properties)

    def thank_you(self, language: str, properties: dict | None = None) -> str:
        return self._text("thank_you", language, properties)

    def email_subject(self, language: str) -> str:
        """The email's subject as written (else the standard) with {{ brand }} and {{ subject }}
        filled; each email fills the contact's placeholders (``surveys.email.messages``)."""
        return self._email_text("email_subject", language)

    def email_intro(self, language: str) -> str:
        return self._email_text("email_intro", language)

    def _email_text(self, text: str, language: str) -> str:
        written = getattr(self, f"{text}_{language}") or self.standard_text(text, language)
        return written.replace("{{ brand }}", self.brand).replace("{{ subject }}", self.subject(language))

    @property
    def on_accent_color(self) -> str:
        """Black or white, whichever contrasts more with the accent colour (WCAG luminance)."""
        channels = [int(self.accent_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
        return "#000000" if (luminance + 0.05) / 0.05 > 1.05 / (luminance + 0.05) else "#ffffff"

    def identity_signature(self, *, email: str, external_id: str) -> str:
        """The signature that vouches for an identity in this survey's links and widget: HMAC-SHA256
        with the identity secret over ``email + "\\n" + external_id``, in lowercase hex."""
        message = f"{email}\n{external_id}".encode()
        return hmac.new(self.identity_secret.encode(), message, hashlib.sha256).hexdigest()

    def signs(self, *, email: str, external_id: str, signature: str) -> bool:
        """Whether ``signature`` is this survey's signature of the identity (hex in either case)."""
        expected = self.identity_signature(email=email, external_id=external_id)
        return hmac.compare_digest(expected.encode(), signature.lower().encode())

    def rotate_identity_secret(self) -> None:
        """A new identity secret: every signature made with the old one is refused from now on."""
        self.identity_secret = new_identity_secret()
        self.save(update_fields=["identity_secret"])

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
    recheck_after_days = models.PositiveSmallIntegerField(
        _("ask again after a case (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_(
            "After a follow-up case of this touchpoint is resolved, ask the customer this many days "
            "later whether their issue was solved; counted apart from the survey. Empty: never."
        ),
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
            models.CheckConstraint(
                condition=models.Q(recheck_after_days__isnull=True) | models.Q(recheck_after_days__gte=1),
                name="touchpoint_recheck_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def answerable_days(self) -> int:
        return self.expires_after_days or self.survey.expires_after_days
