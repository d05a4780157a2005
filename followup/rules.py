"""Whether an answer meets an alert rule, how a rule is checked when it is set up, and how often
it would have fired (the dry run).

Matching is pure: ``Conditions`` holds a rule's conditions, read once per evaluation, and
``Conditions.match`` looks at a response's fields, the customer's previous score and the themes
of the comment, no query. Themes are given in the background (``insights.themes``): a rule with a
theme condition is evaluated once they are (``followup.alerts``).
Words in the comment match their inflections ("Lieferung" finds "Lieferungen", "refund" finds
"refunded"): the rule's words and the comment are stemmed alike with the Snowball stemmer of
the comment's language, and a phrase matches the same stems one after the other. The stemmer
also folds case, umlauts and ß (German "Rückerstattung" finds "Rueckerstattung"); it cannot
find irregular forms ("geliefert").
"""

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import snowballstemmer
from django.db.models import OuterRef, Q, Subquery
from django.utils.translation import gettext as _

from feedback.counts import with_themes
from followup.models import AlertRule
from surveys.models import Response, ResponseQuerySet, Survey
from surveys.properties import is_filterable_property, not_filterable_message
from surveys.scales import SCALES
from webhooks.outbound import RefusedURL, check_url

STEMMERS = {"de": "german", "en": "english"}
MAX_WORDS = 50  # lines of a rule's words
MAX_WORD_LENGTH = 100
DRY_RUN_SAMPLE = 10
_TOKEN = re.compile(r"\w+")


@lru_cache(maxsize=4)
def _stemmer(language: str):
    return snowballstemmer.stemmer(STEMMERS.get(language, "english"))


def stems(text: str, language: str) -> tuple[str, ...]:
    """The stems of the words of ``text`` in ``language`` (de or en; another as English), in order."""
    tokens = _TOKEN.findall(text.casefold())
    if language != "de":  # German's stemmer folds umlauts itself
        tokens = [_without_accents(token) for token in tokens]
    return tuple(_stemmer(language).stemWords(tokens))


def _without_accents(token: str) -> str:
    return "".join(char for char in unicodedata.normalize("NFKD", token) if not unicodedata.combining(char))


def word_lines(words: str) -> tuple[str, ...]:
    """A rule's words and phrases, one per line, blank lines dropped."""
    return tuple(line.strip() for line in words.splitlines() if line.strip())


@lru_cache(maxsize=1024)
def _phrases(lines: tuple[str, ...], language: str) -> tuple[tuple[str, ...], ...]:
    return tuple(phrase for line in lines if (phrase := stems(line, language)))


def mentions(comment: str, lines: tuple[str, ...], language: str) -> bool:
    """Whether the comment contains any of the words or phrases, inflected or not."""
    if not comment or not lines:
        return False
    found = stems(comment, language)
    for phrase in _phrases(lines, language):
        width = len(phrase)
        if any(found[start : start + width] == phrase for start in range(len(found) - width + 1)):
            return True
    return False


@dataclass(frozen=True)
class Conditions:
    """A rule's conditions; an empty one does not restrict."""

    categories: frozenset[str] = frozenset()
    score_min: int | None = None
    score_max: int | None = None
    score_drop: int | None = None
    touchpoints: frozenset[int] = frozenset()
    properties: tuple[tuple[str, frozenset[str]], ...] = ()
    words: tuple[str, ...] = ()
    themes: frozenset[int] = frozenset()  # theme ids: the comment has any of them

    @classmethod
    def of(cls, rule: AlertRule) -> "Conditions":
        """The conditions of a saved rule; its touchpoints and themes are read (or taken from a
        prefetch)."""
        properties = rule.properties if isinstance(rule.properties, dict) else {}
        return cls(
            categories=frozenset(rule.categories or ()),
            score_min=rule.score_min,
            score_max=rule.score_max,
            score_drop=rule.score_drop,
            touchpoints=frozenset(touchpoint.pk for touchpoint in rule.touchpoints.all()),
            properties=tuple(
                (name, frozenset(str(value) for value in values)) for name, values in properties.items()
            ),
            words=word_lines(rule.words),
            themes=frozenset(theme.pk for theme in rule.themes.all()),
        )

    @property
    def needs_previous_score(self) -> bool:
        return self.score_drop is not None

    def match(
        self, response: Response, *, previous_score: int | None, themes: frozenset[int] = frozenset()
    ) -> bool:
        """Whether the answer meets every condition. A score drop needs the same contact's previous
        answer to the survey (``previous_score``): without one, or for an anonymous answer, the
        condition is not met. ``themes`` are the ids of the comment's themes, needed only where the
        rule has a theme condition."""
        score = response.score
        if self.categories and response.category not in self.categories:
            return False
        if self.score_min is not None and score < self.score_min:
            return False
        if self.score_max is not None and score > self.score_max:
            return False
        if self.score_drop is not None and (
            previous_score is None or previous_score - score < self.score_drop
        ):
            return False
        if self.touchpoints and response.touchpoint_id not in self.touchpoints:
            return False
        if self.themes and not self.themes & themes:
            return False
        for name, values in self.properties:
            if response.property_value(name) not in values:
                return False
        return not self.words or mentions(response.comment, self.words, response.language)


def previous_score() -> Subquery:
    """The score of the same contact's latest earlier answer to the same survey, as an annotation;
    NULL for the first and for answers without a contact (a claimed identity is anyone's word)."""
    earlier = Response.objects.filter(
        survey_id=OuterRef("survey_id"),
        contact_id=OuterRef("contact_id"),
        contact_id__isnull=False,
        created_at__lt=OuterRef("created_at"),
    ).order_by("-created_at", "-pk")
    return Subquery(earlier.values("score")[:1])


# Checking a rule where it is set up.


def rule_problems(
    *,
    survey: Survey,
    categories: object,
    score_min: int | None,
    score_max: int | None,
    properties: object,
    words: str,
) -> dict[str, str]:
    """What is wrong with a rule's conditions for its survey, field → message; empty if nothing."""
    scale = SCALES[survey.kind]
    problems = {}
    codes = [category.code for category in scale.categories]
    if not isinstance(categories, list) or any(code not in codes for code in categories):
        problems["categories"] = _("A %(kind)s survey's categories are: %(codes)s.") % {
            "kind": scale.kind.upper(),
            "codes": ", ".join(codes),
        }
    for field, score in (("score_min", score_min), ("score_max", score_max)):
        if score is not None and not scale.low <= score <= scale.high:
            problems[field] = _("Scores of this survey go from %(low)d to %(high)d.") % {
                "low": scale.low,
                "high": scale.high,
            }
    if score_min is not None and score_max is not None and score_min > score_max:
        problems["score_max"] = _("The highest score must not be below the lowest.")
    if problem := properties_problem(properties):
        problems["properties"] = problem
    lines = word_lines(words)
    if len(lines) > MAX_WORDS or any(len(line) > MAX_WORD_LENGTH for line in lines):
        problems["words"] = _("At most %(count)d lines of up to %(length)d characters.") % {
            "count": MAX_WORDS,
            "length": MAX_WORD_LENGTH,
        }
    elif any(not stems(line, "en") for line in lines):
        problems["words"] = _("Each line needs a word (letters or digits).")
    return problems


def properties_problem(properties: object) -> str | None:
    """What is wrong with ``{name: [values]}``, or None."""
    shape = _('Write properties as {"name": ["value", …]}.')
    if not isinstance(properties, Mapping):
        return shape
    for name, values in properties.items():
        if not is_filterable_property(name):
            return not_filterable_message(name)
        if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
            return shape
    return None


def chat_url_problem(url: str) -> str | None:
    """Why a Slack or Teams incoming webhook URL cannot be posted to (``webhooks.outbound``), or None."""
    try:
        check_url(url)
    except RefusedURL as refused:
        return str(refused)
    return None


# The dry run.


@dataclass(frozen=True)
class DryRun:
    """How many answers of the period the rule would have fired for, and the latest of them."""

    count: int
    sample: list[Response]
    since: datetime


def candidates(rule: AlertRule, conditions: Conditions) -> ResponseQuerySet:
    """The survey's answers that its score, category, touchpoint and comment conditions leave, as
    a query (the rest is matched in Python)."""
    answers: ResponseQuerySet = Response.objects.filter(survey_id=rule.survey_id)
    if conditions.categories:
        category = Q(pk__in=[])
        for code in conditions.categories:
            category |= Q(pk__in=Response.objects.in_category(code).values("pk"))
        answers = answers.filter(category)
    if conditions.score_min is not None:
        answers = answers.filter(score__gte=conditions.score_min)
    if conditions.score_max is not None:
        answers = answers.filter(score__lte=conditions.score_max)
    if conditions.touchpoints:
        answers = answers.filter(touchpoint_id__in=conditions.touchpoints)
    if conditions.words:
        answers = answers.exclude(comment="")
    if conditions.themes:
        answers = with_themes(answers, tuple(conditions.themes))
    if conditions.needs_previous_score:
        answers = answers.filter(contact__isnull=False).annotate(previous_score=previous_score())
    return answers


def dry_run(rule: AlertRule, *, now: datetime, days: int = 30) -> DryRun:
    """How often the rule, as it is set up now, would have fired for the answers of the last
    ``days`` days as they are now, and a sample of the latest; whether it is active or not."""
    conditions = Conditions.of(rule)
    since = now - timedelta(days=days)
    answers = candidates(rule, conditions).in_period(since, now).order_by("-created_at", "-pk")
    if conditions.themes:  # read a chunk at a time, as the rows are
        answers = answers.prefetch_related("themes")
    count, sample = 0, list[Response]()
    # Words and properties are matched in Python, a few hundred rows at a time.
    for response in answers.iterator(chunk_size=500):
        themes = (
            frozenset(found.theme_id for found in response.themes.all()) if conditions.themes else frozenset()
        )
        if conditions.match(
            response, previous_score=getattr(response, "previous_score", None), themes=themes
        ):
            count += 1
            if len(sample) < DRY_RUN_SAMPLE:
                sample.append(response)
    return DryRun(count=count, sample=sample, since=since)
