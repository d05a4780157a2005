"""The tone of comments, learned from the installation's own scored comments.

The scores label the comments: per language, a term's weight is its log-odds of the highest
category (promoters, satisfied, easy) over the lowest (detractors, dissatisfied, difficult) across
all surveys (``insights.logodds.score_terms``, terms in at least ``MIN_COUNT`` comments), δ clipped
to ±``MAX_WEIGHT``, kept only where |z| > 1.96. The weights are learned from the answers whose id is
not a multiple of ``HOLD_OUT``; the others are held out, and the share of their comments in the
lowest or highest category whose tone agrees with the category is stored with the lexicon, so that
nobody trusts the tone blindly.

A comment's tone is the mean weight of its terms in the lexicon of its language (0 when none has
one): positive above ``POSITIVE``, negative below ``NEGATIVE``, neutral between. Answers get their
tone in the background (``insights.themes.sweep`` for new and changed answers, ``tone_again`` for
all comments after learning), never on the answering path.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from django.db import connection, models, transaction
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Abs
from django.utils.translation import gettext_lazy as _

from feedback.metrics import Z_95, proportion_interval
from insights.counts import count_terms
from insights.logodds import TermScore, score_terms
from insights.models import ResponseTone, ThemeSweep, ToneLexicon, ToneWeight
from surveys.models import Response
from surveys.models.tallies import COMMENTS
from surveys.scales import LANGUAGES, SCALES

POSITIVE = 0.5  # a tone above is positive: on average its terms are typical of the highest category
NEGATIVE = -0.5  # a tone below is negative, typical of the lowest; between the two, neutral
MAX_WEIGHT = 3.0  # δ beyond (a term 20 times as typical of one side) says no more, and one such word
# would outweigh every other of the comment
MIN_COUNT = 5  # comments a term must be in (both categories together) to get a weight
HOLD_OUT = 5  # answers whose id is a multiple of it are held out of learning, to measure agreement
BATCH_SIZE = 2000

Answers = TypeVar("Answers", bound=QuerySet[Response])

LOWEST = tuple(scale.categories[0].code for scale in SCALES.values())
HIGHEST = tuple(scale.categories[-1].code for scale in SCALES.values())


class Tone(models.TextChoices):
    POSITIVE = "positive", _("positive")
    NEGATIVE = "negative", _("negative")
    NEUTRAL = "neutral", _("neutral")


def tone_of(terms: Iterable[str], weights: Mapping[str, float]) -> float:
    """The mean weight of the terms that have one; 0.0 when none has (or there are no terms)."""
    found = [weights[term] for term in terms if term in weights]
    return sum(found) / len(found) if found else 0.0


def tone_label(tone: float) -> Tone:
    """Positive above ``POSITIVE``, negative below ``NEGATIVE``, else neutral (the bounds too)."""
    if tone > POSITIVE:
        return Tone.POSITIVE
    if tone < NEGATIVE:
        return Tone.NEGATIVE
    return Tone.NEUTRAL


def lexicon_weights(scores: Iterable[TermScore]) -> dict[str, float]:
    """term → weight from the log-odds of the highest category (group a) over the lowest: δ
    clipped to ±``MAX_WEIGHT``, for the terms with |z| > 1.96 only."""
    return {
        score.term: max(-MAX_WEIGHT, min(MAX_WEIGHT, score.delta)) for score in scores if abs(score.z) > Z_95
    }


@dataclass(frozen=True)
class Agreement:
    """How often the tone agrees with the score on held-out comments of the lowest or highest
    category: ``share`` in % with its 95 % Wilson ``interval``, of ``n``; ``neutral`` the share in
    % whose tone is neutral. None where n = 0."""

    share: float | None
    interval: tuple[float, float] | None
    n: int
    neutral: float | None


def agreement(lexicon: ToneLexicon) -> Agreement:
    n = lexicon.held_out
    return Agreement(
        share=100 * lexicon.agreeing / n if n else None,
        interval=proportion_interval(lexicon.agreeing, n),
        n=n,
        neutral=100 * lexicon.neutral / n if n else None,
    )


def learn_tone(*, now: datetime) -> list[ToneLexicon]:
    """Learn the lexicon of each language anew, replacing the last; every comment of the language
    then gets its tone again in the background (``tone_again``). A language without comments in
    both categories gets a lexicon without weights: its comments' tone is 0."""
    return [_learn(language, now=now) for language in LANGUAGES]


def _learn(language: str, *, now: datetime) -> ToneLexicon:
    answers = Response.objects.filter(language=language).alias(part=F("pk") % HOLD_OUT)
    training = answers.exclude(part=0)
    lowest = dict(count_terms(training.in_lowest_category()))
    highest = dict(count_terms(training.in_category(*HIGHEST)))
    comments = lowest.pop(COMMENTS, 0) + highest.pop(COMMENTS, 0)
    weights = lexicon_weights(score_terms(highest, lowest, min_count=MIN_COUNT))
    held_out = answers.filter(part=0).exclude(comment_ngrams=[])
    with transaction.atomic():
        ThemeSweep.locked(now)  # no batch writes tones with the old weights meanwhile
        ToneLexicon.objects.filter(language=language).delete()
        lexicon = ToneLexicon.objects.create(
            language=language,
            learned_at=now,
            comments=comments,
            to_tone=Response.objects.filter(language=language).exclude(comment_ngrams=[]).count(),
            toning_after=0,
        )
        ToneWeight.objects.bulk_create(
            ToneWeight(lexicon=lexicon, term=term, weight=weight) for term, weight in weights.items()
        )
        low_n, low_negative, low_positive = _tones_counted(lexicon, held_out.in_lowest_category())
        high_n, high_negative, high_positive = _tones_counted(lexicon, held_out.in_category(*HIGHEST))
        lexicon.held_out = low_n + high_n
        lexicon.agreeing = low_negative + high_positive
        lexicon.neutral = lexicon.held_out - low_negative - low_positive - high_negative - high_positive
        lexicon.save(update_fields=["held_out", "agreeing", "neutral"])
    return lexicon


def _tones_counted(lexicon: ToneLexicon, responses: QuerySet[Response]) -> tuple[int, int, int]:
    """(comments, negative tones, positive tones) of ``responses``, counted in the database: the
    comments with no weighted term have tone 0, neutral."""
    select, parameters = responses.values("pk").order_by().query.sql_with_params()
    if connection.vendor == "postgresql":
        terms = "jsonb_array_elements_text(r.comment_ngrams) AS ngram (value)"
    else:
        terms = "json_each(r.comment_ngrams) AS ngram"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(CASE WHEN tone < %s THEN 1 ELSE 0 END), 0), "  # noqa: S608
            "coalesce(sum(CASE WHEN tone > %s THEN 1 ELSE 0 END), 0) FROM ("
            f"SELECT r.id, avg(w.weight) AS tone FROM {Response._meta.db_table} AS r CROSS JOIN {terms} "
            f"JOIN {ToneWeight._meta.db_table} AS w ON w.term = ngram.value "
            f"WHERE w.lexicon_id = %s AND r.id IN ({select}) GROUP BY r.id) AS tones",
            (NEGATIVE, POSITIVE, lexicon.pk, *parameters),
        )
        negative, positive = cursor.fetchone()
    return responses.count(), negative, positive


def give_tones(batch: list[tuple[int, str, list[str]]]) -> None:
    """Write the tone of each (answer id, language, terms) with the lexicon of its language; an
    answer without terms, or in a language without a lexicon, has none. The caller holds the
    ``ThemeSweep`` row."""
    languages = {language for _, language, terms in batch if terms}
    weights = {
        lexicon.language: _weights(lexicon) for lexicon in ToneLexicon.objects.filter(language__in=languages)
    }
    ResponseTone.objects.filter(response_id__in=[pk for pk, _, _ in batch]).delete()
    ResponseTone.objects.bulk_create(
        ResponseTone(response_id=pk, value=tone_of(terms, weights[language]))
        for pk, language, terms in batch
        if terms and language in weights
    )


def tone_again(*, now: datetime, batch_size: int = BATCH_SIZE) -> int:
    """Give the next batch of comments of a newly learned lexicon's language their tone (the
    lexicon learned first); how many comments it held. Progress is kept on the lexicon (``toned``
    of ``to_tone``); answers keep their old tone until their batch comes."""
    with transaction.atomic():
        ThemeSweep.locked(now)
        lexicon = ToneLexicon.objects.filter(toning_after__isnull=False).order_by("learned_at", "pk").first()
        if lexicon is None:
            return 0
        after = lexicon.toning_after or 0
        batch = list(
            Response.objects.filter(language=lexicon.language, pk__gt=after)
            .exclude(comment_ngrams=[])
            .order_by("pk")
            .values_list("pk", "comment_ngrams")[:batch_size]
        )
        last = batch[-1][0] if len(batch) == batch_size else None
        # The answers up to the batch's last, or all the rest: those without terms lose their tone.
        within = Q(response_id__gt=after) & (Q(response_id__lte=last) if last else Q())
        ResponseTone.objects.filter(within, response__language=lexicon.language).delete()
        weights = _weights(lexicon)
        ResponseTone.objects.bulk_create(
            ResponseTone(response_id=pk, value=tone_of(terms, weights)) for pk, terms in batch
        )
        lexicon.toned += len(batch)
        lexicon.to_tone = max(lexicon.to_tone, lexicon.toned)
        if last is None:  # done: fewer comments than counted at the start if some were deleted
            lexicon.toned = lexicon.to_tone
        lexicon.toning_after = last
        lexicon.save(update_fields=["toned", "to_tone", "toning_after"])
        return len(batch)


def _weights(lexicon: ToneLexicon) -> dict[str, float]:
    return dict(ToneWeight.objects.filter(lexicon=lexicon).values_list("term", "weight"))


def with_tone(responses: Answers, tone: str) -> Answers:
    """The answers whose comment has the tone (a ``Tone``), or, for "disagree", a tone that
    contradicts their score (``disagreements``). Answers without a tone have none of them."""
    return responses.filter(_tone_condition(tone))


def disagreements(responses: Answers) -> Answers:
    """The answers whose tone contradicts their score: in the highest category with a negative
    tone (a 9 with a complaint), in the lowest with a positive one (a 3 with praise)."""
    return responses.filter(_tone_condition("disagree"))


def tones_counted(responses: QuerySet[Response]) -> dict[str, int]:
    """In one query, how many of the answers have a tone ("toned"), how many each ``Tone``, and
    how many disagree with their score ("disagree")."""
    conditions = {tone: _tone_condition(tone) for tone in (*Tone.values, "disagree")}
    return responses.aggregate(
        toned=Count("tone"), **{key: Count("pk", filter=condition) for key, condition in conditions.items()}
    )


def _tone_condition(tone: str) -> Q:
    if tone == "disagree":
        return (_in_categories(HIGHEST) & Q(tone__value__lt=NEGATIVE)) | (
            _in_categories(LOWEST) & Q(tone__value__gt=POSITIVE)
        )
    conditions = {
        Tone.POSITIVE: Q(tone__value__gt=POSITIVE),
        Tone.NEGATIVE: Q(tone__value__lt=NEGATIVE),
        Tone.NEUTRAL: Q(tone__value__gte=NEGATIVE, tone__value__lte=POSITIVE),
    }
    return conditions[Tone(tone)]


def strongest_disagreements(responses: Answers, *, limit: int) -> list[Response]:
    """At most ``limit`` of the ``disagreements``, the tone furthest from neutral first (then the
    newest), each with its tone."""
    found = disagreements(responses).select_related("tone")
    return list(found.order_by(Abs("tone__value").desc(), "-created_at", "-pk")[:limit])


def _in_categories(codes: tuple[str, ...]) -> Q:
    """Answers in any of the categories, each of its own scale (codes differ between scales)."""
    condition = Q(pk__in=[])
    for scale in SCALES.values():
        for category in scale.categories:
            if category.code in codes:
                condition |= Q(kind=scale.kind, score__range=(category.low, category.high))
    return condition
