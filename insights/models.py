"""Themes of comments, as a CX manager defines them by rules on terms, and the answers that have them."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from insights.rules import Rules, compile_rules, validate_rules
from surveys.models import Response
from surveys.scales import LANGUAGES


class Theme(models.Model):
    """A subject customers write about ("Lieferung", "Hotline"), found in comments by its rules
    (``insights.rules``) in one language or both. Every survey's comments are matched against it.

    Answers get their themes in the background (``insights.themes``): new and changed answers a few
    seconds after they are stored, and all comments again when the rules change; ``matched`` and
    ``to_match`` say how far that has come.
    """

    class Language(models.TextChoices):
        BOTH = "", _("German and English")
        GERMAN = "de", _("German")
        ENGLISH = "en", _("English")

    name = models.CharField(_("name"), max_length=100, unique=True)
    include = models.TextField(
        _("rules"),
        validators=[validate_rules],
        help_text=_(
            "Words or two-word phrases, separated by commas or lines; a * at the end finds every "
            "word that begins so (liefer* finds Lieferung and liefern)."
        ),
    )
    exclude = models.TextField(
        _("exclusions"),
        blank=True,
        validators=[validate_rules],
        help_text=_("An answer whose comment has one of these does not get the theme."),
    )
    language = models.CharField(_("language"), max_length=2, choices=Language.choices, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    # When the rules last changed: every comment is matched again, ``matched`` of ``to_match`` so far.
    rules_changed_at = models.DateTimeField(default=timezone.now, editable=False)
    to_match = models.PositiveIntegerField(default=0, editable=False)
    matched = models.PositiveIntegerField(default=0, editable=False)
    # The id of the last answer matched since the rules changed; None once all are.
    matching_after = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("theme")
        verbose_name_plural = _("themes")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(language__in=("", *LANGUAGES)), name="theme_language_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(matched__lte=models.F("to_match")), name="theme_progress"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def rules(self, language: str) -> Rules | None:
        """The rules for comments in ``language``; None if the theme is for the other language."""
        if self.language and self.language != language:
            return None
        return compile_rules(self.include, self.exclude, language)


class ResponseTheme(models.Model):
    """An answer whose comment has a theme."""

    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="themes")
    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["response", "theme"], name="response_theme_unique"),
        ]
        indexes = [
            # A theme's answers, for its figures and as a filter: the answers of a theme.
            models.Index(fields=["theme", "response"], name="response_theme_theme_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.response_id}: {self.theme_id}"


class ThemeSweep(models.Model):
    """How far the themes have been given to new and changed answers: every answer changed up to
    (``updated_at``, ``response_id``) has them. One row."""

    updated_at = models.DateTimeField()
    response_id = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="theme_sweep_one_row")]

    def __str__(self) -> str:
        return f"{self.updated_at} {self.response_id}"
