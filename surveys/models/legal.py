"""The installation's legal information: who stands behind the surveys, and where its privacy
notice and Impressum are. Every respondent page, the widget and every survey email name and link
them (German law expects both wherever a company addresses its customers).

One row per installation, edited by Admins in the back office. Each text exists in German and
English; an empty one falls back to the other language's.
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from surveys.scales import LANGUAGES

_WEB_URL = URLValidator(schemes=["http", "https"])


def validate_web_url(value: str) -> None:
    """A page a browser opens: an http or https URL (no mailto:, ftp: or javascript:)."""
    try:
        _WEB_URL(value)
    except ValidationError:
        raise ValidationError(
            _(
                "Enter a web address that starts with https:// or http://, e.g. https://www.example.com/privacy."
            ),
            # Not "invalid": a form's URL field would put its own, vaguer message in its place.
            code="not_a_web_address",
        ) from None


def host_of(url: str) -> str:
    """``https://www.example.com/shop`` → ``www.example.com``; empty for an empty URL."""
    return urlsplit(url).hostname or ""


@dataclass(frozen=True)
class LegalFooter:
    """What a page or email in one language shows: every text is the language's, else the other's."""

    company_name: str = ""
    address: str = ""  # lines joined by line feeds, without empty ones
    privacy_url: str = ""
    impressum_url: str = ""

    def __bool__(self) -> bool:
        return any((self.company_name, self.address, self.privacy_url, self.impressum_url))


class LegalInformationQuerySet(models.QuerySet["LegalInformation"]):
    def current(self) -> "LegalInformation":
        """The installation's legal information; an empty, unsaved one until an Admin saves it."""
        return self.filter(pk=LegalInformation.ONLY_ID).first() or LegalInformation()


def _url_field(verbose_name, help_text="") -> models.URLField:
    return models.URLField(
        verbose_name, max_length=500, blank=True, validators=[validate_web_url], help_text=help_text
    )


class LegalInformation(models.Model):
    """The one row of the installation's legal information (``id`` is always 1)."""

    ONLY_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=ONLY_ID, editable=False)
    company_name_de = models.CharField(
        _("legal name of the company (German)"),
        max_length=200,
        blank=True,
        help_text=_("As in the Impressum, e.g. “Kessler Haustechnik GmbH”."),
    )
    company_name_en = models.CharField(_("legal name of the company (English)"), max_length=200, blank=True)
    address_de = models.TextField(
        _("postal address (German)"),
        max_length=500,
        blank=True,
        help_text=_("Shown in every email. One line per line of the address."),
    )
    address_en = models.TextField(_("postal address (English)"), max_length=500, blank=True)
    privacy_url_de = _url_field(_("privacy notice URL (German)"))
    privacy_url_en = _url_field(_("privacy notice URL (English)"))
    impressum_url_de = _url_field(_("Impressum URL (German)"))
    impressum_url_en = _url_field(_("Impressum URL (English)"))
    return_url = _url_field(
        _("return URL"),
        help_text=_(
            "Where the thank-you pages lead back to, e.g. your shop's home page. A survey may name its own."
        ),
    )
    updated_at = models.DateTimeField(_("updated"), default=timezone.now, editable=False)

    objects = LegalInformationQuerySet.as_manager()

    class Meta:
        verbose_name = _("legal information")
        verbose_name_plural = _("legal information")
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="legal_information_one_row")]

    def __str__(self) -> str:
        return str(_("Legal information"))

    def _text(self, field: str, language: str) -> str:
        """The field in ``language``, else in the other language; stripped."""
        languages = [language, *(other for other in LANGUAGES if other != language)]
        for candidate in languages:
            if value := getattr(self, f"{field}_{candidate}", "").strip():
                return value
        return ""

    def footer(self, language: str) -> LegalFooter:
        address = self._text("address", language)
        return LegalFooter(
            company_name=self._text("company_name", language),
            address="\n".join(line.strip() for line in address.splitlines() if line.strip()),
            privacy_url=self._text("privacy_url", language),
            impressum_url=self._text("impressum_url", language),
        )

    def has_privacy_notice(self) -> bool:
        return any(getattr(self, f"privacy_url_{language}").strip() for language in LANGUAGES)

    def has_impressum(self) -> bool:
        return any(getattr(self, f"impressum_url_{language}").strip() for language in LANGUAGES)
