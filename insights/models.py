"""Themes of comments, as a CX manager defines them by rules on terms, and the answers that have them;
the tone of comments and the lexicon it is learned into."""

from datetime import datetime, timedelta

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from insights.rules import Rules, compile_rules, validate_rules
from surveys.models import Response
from surveys.models.tallies import TERM_MAX_LENGTH
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


# How far the background work stays behind the clock: an answer's ``updated_at`` is read before its
# transaction commits, so one committing late is not passed by.
SWEEP_LAG = timedelta(seconds=30)


class ThemeSweep(models.Model):
    """How far the themes and tones have been given to new and changed answers: every answer
    changed up to (``updated_at``, ``response_id``) has them. One row."""

    updated_at = models.DateTimeField()
    response_id = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="theme_sweep_one_row")]

    def __str__(self) -> str:
        return f"{self.updated_at} {self.response_id}"

    @classmethod
    def locked(cls, now: datetime) -> "ThemeSweep":
        """The row, locked for the transaction: the themes' and the tone's background work hold it
        for each batch, so that no two write the same answer at once. The first sweep starts
        ``SWEEP_LAG`` before ``now``: the answers from before get their themes when a theme is
        made, their tone when a lexicon is learned."""
        state, _ = cls.objects.select_for_update().get_or_create(
            pk=1, defaults={"updated_at": now - SWEEP_LAG}
        )
        return state


class ToneLexicon(models.Model):
    """The weights of the terms of one language's comments, learned from the installation's own
    scored comments (``insights.tone``): a term's weight is negative when it is typical of the
    lowest category (detractors, dissatisfied, difficult), positive when typical of the highest.
    Learned again periodically, replacing the last one with its weights.

    It is learned from the training part of the comments (answers whose id is not a multiple of
    ``HOLD_OUT``); on the held-out part's comments in the lowest or highest category,
    ``agreeing`` of ``held_out`` have a tone whose sign agrees with their category and
    ``neutral`` a neutral tone. After learning, every comment of the language gets its tone
    again, ``toned`` of ``to_tone`` so far.
    """

    language = models.CharField(_("language"), max_length=2, unique=True)
    learned_at = models.DateTimeField(_("learned"))
    comments = models.PositiveIntegerField(_("comments learned from"), default=0)
    held_out = models.PositiveIntegerField(default=0)
    agreeing = models.PositiveIntegerField(default=0)
    neutral = models.PositiveIntegerField(default=0)
    to_tone = models.PositiveIntegerField(default=0)
    toned = models.PositiveIntegerField(default=0)
    # The id of the last answer given its tone since learning; None once all have.
    toning_after = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("tone lexicon")
        verbose_name_plural = _("tone lexicons")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(language__in=LANGUAGES), name="tone_lexicon_language_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(agreeing__lte=models.F("held_out"), neutral__lte=models.F("held_out")),
                name="tone_lexicon_agreement_within_held_out",
            ),
            models.CheckConstraint(
                condition=models.Q(toned__lte=models.F("to_tone")), name="tone_lexicon_progress"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.language} {self.learned_at}"


class ToneWeight(models.Model):
    """A term's weight in a lexicon: its log-odds of the highest category over the lowest,
    clipped (``insights.tone.MAX_WEIGHT``). Terms that do not distinguish the two have none."""

    lexicon = models.ForeignKey(ToneLexicon, on_delete=models.CASCADE, related_name="weights")
    term = models.CharField(max_length=TERM_MAX_LENGTH)
    weight = models.FloatField()

    class Meta:
        constraints = [
            # Also the index that joins a comment's terms to their weights.
            models.UniqueConstraint(fields=["lexicon", "term"], name="tone_weight_unique_term"),
            models.CheckConstraint(
                condition=models.Q(weight__gte=-3, weight__lte=3), name="tone_weight_within_bounds"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.term}: {self.weight:+.2f}"


class ResponseTone(models.Model):
    """The tone of an answer's comment (``insights.tone.tone_of``): the mean weight of its terms in
    its language's lexicon. Only answers with a comment that has terms, once a lexicon of their
    language is learned."""

    response = models.OneToOneField(Response, on_delete=models.CASCADE, primary_key=True, related_name="tone")
    value = models.FloatField(_("tone"))

    class Meta:
        verbose_name = _("tone")
        verbose_name_plural = _("tones")

    def __str__(self) -> str:
        return f"{self.response_id}: {self.value:+.2f}"
