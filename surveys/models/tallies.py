"""Daily tallies of responses per score, per value of a survey's dashboard properties, and of the
terms of comments per score category.

Derived data that the dashboards and the text insights count instead of millions of responses.
The score tallies hold nothing personal; the term tally holds the terms of comments after
personal data was masked (``surveys.terms.comment_ngrams``). The database keeps them: triggers
on the responses table (migrations 0006 and 0018) count
every response in when it is written and out when it is changed or deleted, whichever path
does it (answers, the admin, a contact's deletion, a bulk load, a console), in the time zone
that ``TallyZone`` names. On PostgreSQL they count when the change commits (migration 0010),
so that an answer holds the lock on its tally row for the commit only. ``rebuild_tallies``
recounts them from the responses, and ``tally_drift`` says where they differ from a fresh count
(``manage.py check_tallies``).
"""

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.utils import timezone

from surveys.models.response import Response
from surveys.models.survey import Survey
from surveys.properties import PROPERTY_VALUE_MAX_LENGTH, PropertyValue
from surveys.scales import SCALES

logger = logging.getLogger(__name__)

TERM_MAX_LENGTH = 200
# The advisory lock between counting terms (shared, by the triggers of migration 0018) and pruning them.
TERMS_LOCK = 7_202_612_180
# The advisory lock between rolling days up into months (exclusive, TermMonth.objects.roll_up) and
# counting the terms of those days (shared, by the triggers of migration 0020).
ROLLUP_LOCK = 7_202_612_181
# The term of no words: its rows in the term tally count the comments themselves (those with terms).
COMMENTS = ""


class TallyZone(models.Model):
    """The time zone whose local days the tallies count, read by the triggers: the installation's
    ``TIME_ZONE`` when the tallies were last counted afresh (``counted_at``, None until then)."""

    name = models.CharField(max_length=64)
    counted_at = models.DateTimeField(null=True)
    # The last day whose terms ``TermMonth`` sums (a month's last), None while it sums none.
    terms_rolled_until = models.DateField(null=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="tally_zone_one_row")]

    def __str__(self) -> str:
        return self.name


class DailyScoreQuerySet(models.QuerySet):
    def rebuild(self, survey: Survey | None = None) -> int:
        """Count the responses of one survey (or of all) afresh, in one INSERT … SELECT; rows written."""
        surveys = Survey.objects.all() if survey is None else Survey.objects.filter(pk=survey.pk)
        self.filter(survey__in=surveys).delete()
        return _insert(self.model, _daily_counts(surveys))


class DailyScore(models.Model):
    """How many responses each survey got per local day, touchpoint and score."""

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


class PropertyScoreQuerySet(models.QuerySet):
    def rebuild(self, survey: Survey | None = None) -> int:
        """Count the responses of one survey (or of all) afresh for its dashboard properties, with
        one INSERT … SELECT per property name; rows written."""
        surveys = Survey.objects.all() if survey is None else Survey.objects.filter(pk=survey.pk)
        self.filter(survey__in=surveys).delete()
        return sum(
            _insert(self.model, _property_counts(name, survey_ids), name=name)
            for name, survey_ids in sorted(_surveys_by_property(surveys).items())
        )


class PropertyScore(models.Model):
    """How many responses each survey got per local day, touchpoint, score and value of each
    of its dashboard properties (``Survey.dashboard_properties``).

    The property filters and breakdowns of large surveys count these rows instead of
    reading the properties of every response: counts per segment (plan, region), no contact.
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


class Term(models.Model):
    """A term of comments as ``TermTally`` counts it: a lemma or two joined by a space
    ("lieferung", "nicht pünktlich"), or ``COMMENTS``. Written by the tally's triggers the first
    time a comment uses it; ``TermTally.objects.rebuild`` removes the terms that no comment uses
    any more."""

    text = models.CharField(max_length=TERM_MAX_LENGTH, unique=True)

    def __str__(self) -> str:
        return self.text


class TermTallyQuerySet(models.QuerySet):
    def rebuild(self, survey: Survey | None = None) -> int:
        """Count the terms of one survey's comments (or of all) afresh; rows written. The terms
        that no comment uses any more go with their rows."""
        surveys = Survey.objects.all() if survey is None else Survey.objects.filter(pk=survey.pk)
        self.filter(survey__in=surveys).delete()
        counts, parameters = _term_counts(list(surveys.values_list("pk", flat=True)))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {Term._meta.db_table} (text) SELECT DISTINCT text FROM ({counts}) AS counts "  # noqa: S608
                "WHERE true ORDER BY text ON CONFLICT (text) DO NOTHING",
                parameters,
            )
            cursor.execute(
                f"INSERT INTO {self.model._meta.db_table} "  # noqa: S608
                "(survey_id, day, category, language, term_id, responses) "
                "SELECT counts.survey_id, counts.day, counts.category, counts.language, term.id, "
                "counts.responses "
                f"FROM ({counts}) AS counts JOIN {Term._meta.db_table} AS term ON term.text = counts.text",
                parameters,
            )
            written = cursor.rowcount
        written += TermMonth.objects.rebuild(surveys)
        with transaction.atomic():
            _lock_terms()
            # NOT EXISTS rather than NOT IN: PostgreSQL hashes a NOT IN subquery only if it fits in
            # work_mem, else it scans the tally's millions of rows again for every term.
            Term.objects.filter(~models.Exists(self.filter(term=models.OuterRef("pk")))).delete()
        return written

    def prune(self) -> int:
        """Delete the rows that count nothing any more, and the terms that only they named, so
        that no word of an erased or expired comment stays behind; how many terms went.

        On PostgreSQL an exclusive advisory lock waits for the answers being counted (each holds
        it shared while its terms are counted), so that no answer counts a term that goes."""
        with transaction.atomic():
            _lock_terms()
            candidates = set()
            for empty in (self.filter(responses=0), TermMonth.objects.filter(responses=0)):
                candidates |= set(empty.values_list("term_id", flat=True))
                empty.delete()
            unused = (
                Term.objects.filter(pk__in=candidates)
                .exclude(pk__in=self.filter(term_id__in=candidates).values("term_id"))
                .exclude(pk__in=TermMonth.objects.filter(term_id__in=candidates).values("term_id"))
            )
            return unused.delete()[0]


def _lock_terms() -> None:
    """Wait for the answers being counted and hold off new ones until the transaction ends: no
    answer may count a term that is being deleted. SQLite writes one transaction at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [TERMS_LOCK])


class TermCount(models.Model):
    """How many comments of a survey, in a score category and a language, used a term: what the
    daily tally and its months have in common."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="+")
    category = models.CharField(max_length=12)  # the score's category on its survey's scale
    language = models.CharField(max_length=2)
    term = models.ForeignKey(Term, on_delete=models.PROTECT, related_name="+")
    responses = models.IntegerField()

    class Meta:
        abstract = True


class TermTally(TermCount):
    """How many comments of each survey used each term, per local day, score category and language.

    The text insights count these rows instead of the comments: the terms that distinguish
    detractors from promoters over a year of comments add up a few million rows, not a million
    comments' terms. A comment counts a term once (``Response.comment_ngrams`` holds each once),
    and counts once under the term ``COMMENTS``: how many comments each group has.
    """

    day = models.DateField()  # in the installation's time zone

    objects = TermTallyQuerySet.as_manager()

    class Meta:
        constraints = [
            # The upsert's conflict target; also the insights' index: one survey's terms over a period.
            models.UniqueConstraint(
                fields=["survey", "day", "category", "language", "term"], name="term_tally_unique_key"
            ),
            models.CheckConstraint(condition=models.Q(responses__gte=0), name="term_tally_not_negative"),
        ]
        indexes = [
            # Pruning: the rows that count nothing any more, few among millions.
            models.Index(fields=["term"], condition=models.Q(responses=0), name="term_tally_empty_idx"),
            # The insights' sums of one score category's terms over a period
            # (insights.counts.term_counts): an index-only scan of that category's rows alone, where
            # the unique key reads every category's rows of the period and their table pages.
            models.Index(
                fields=["survey", "category", "day"],
                include=["language", "term", "responses"],
                name="term_tally_category_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.survey_id} {self.day} {self.category} {self.language} {self.term_id}: {self.responses}"


def _daily_counts(surveys) -> models.QuerySet:
    """The surveys' responses grouped as DailyScore counts them."""
    return (
        Response.objects.filter(survey__in=surveys)
        .annotate(
            day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()),
            touchpoint_key=Coalesce("touchpoint_id", 0),
        )
        .values("survey_id", "day", "touchpoint_key", "score")
        .annotate(responses=models.Count("pk"))
        .order_by()
    )


def _property_counts(name: str, survey_ids: list[int]) -> models.QuerySet:
    """The surveys' responses with a counted value of ``name``, grouped as PropertyScore counts them."""
    return (
        Response.objects.filter(survey_id__in=survey_ids)
        .annotate(
            day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()),
            touchpoint_key=Coalesce("touchpoint_id", 0),
            value=PropertyValue(name),
        )
        .filter(value__isnull=False)
        .values("survey_id", "day", "touchpoint_key", "value", "score")
        .annotate(responses=models.Count("pk"))
        .order_by()
    )


def _category_sql() -> str:
    """The category of a response's score on its survey's scale, in SQL over ``r.kind`` and ``r.score``."""
    cases = " ".join(
        f"WHEN r.kind = '{scale.kind}' AND r.score BETWEEN {category.low} AND {category.high} "
        f"THEN '{category.code}'"
        for scale in SCALES.values()
        for category in scale.categories
    )
    return f"CASE {cases} END"


def _term_rows(vendor: str) -> str:
    """The comments' terms of the surveys in ``survey_ids`` (a parameter), a row per response
    and term and one with the term ``COMMENTS`` per comment, with the response's local day in the
    zone ``zone`` (a parameter) and its category."""
    if vendor == "postgresql":
        terms, length = "jsonb_array_elements_text(r.comment_ngrams) AS ngram (value)", "jsonb_array_length"
        day = "(r.created_at AT TIME ZONE %(zone)s)::date"
        surveys = "r.survey_id = ANY(%(survey_ids)s)"
    else:
        terms, length = "json_each(r.comment_ngrams) AS ngram", "json_array_length"
        day = "django_datetime_cast_date(r.created_at, %(zone)s, 'UTC')"
        surveys = "r.survey_id IN (SELECT value FROM json_each(%(survey_ids)s))"
    columns = f"r.survey_id, {day} AS day, {_category_sql()} AS category, r.language"
    return (
        f"SELECT {columns}, ngram.value AS text FROM surveys_response AS r CROSS JOIN {terms} "  # noqa: S608
        f"WHERE {surveys} UNION ALL SELECT {columns}, '{COMMENTS}' AS text FROM surveys_response AS r "
        f"WHERE {surveys} AND {length}(r.comment_ngrams) > 0"
    )


def _term_counts(survey_ids: list[int]) -> tuple[str, dict]:
    """The fresh count of the surveys' terms as ``TermTally`` keeps it, by term text."""
    zone = timezone.get_current_timezone_name()
    ids = survey_ids if connection.vendor == "postgresql" else json.dumps(survey_ids)
    select = (
        f"SELECT survey_id, day, category, language, text, count(*) AS responses "  # noqa: S608
        f"FROM ({_term_rows(connection.vendor)}) AS terms GROUP BY survey_id, day, category, language, text"
    )
    return select, {"zone": zone, "survey_ids": ids}


def _surveys_by_property(surveys) -> dict[str, list[int]]:
    """The surveys that tally each property name."""
    by_name: dict[str, list[int]] = {}
    for survey_id, names in surveys.values_list("pk", "dashboard_properties"):
        for name in names:
            by_name.setdefault(name, []).append(survey_id)
    return by_name


def _insert(model: type[models.Model], counts: models.QuerySet, *, name: str | None = None) -> int:
    """Write grouped counts into a tally in the same statement: a large survey's counts run to
    hundreds of thousands of rows, too many to carry through Python. The property tally's rows
    get the property's ``name``."""
    select, parameters = counts.query.sql_with_params()
    columns = "survey_id, day, touchpoint_key, score, responses"
    named = ", name, value" if name is not None else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {model._meta.db_table} ({columns}{named}) "  # noqa: S608
            f"SELECT {columns}{', %s, value' if named else ''} FROM ({select}) AS counts",
            (name, *parameters) if named else parameters,
        )
        return cursor.rowcount


def rebuild_tallies(surveys: Iterable[Survey] | None = None) -> int:
    """Count the responses of these surveys (all by default) afresh into both tallies, in the
    installation's time zone; rows written.

    A survey at a time, with its row locked: each answer's trigger share-locks its survey's
    row before it counts, so no answer is counted half before and half after. Answers to the
    survey wait meanwhile. Recounting all surveys moves the triggers to the installation's
    time zone first, so that answers arriving meanwhile count in the zone of the recount.
    """
    if surveys is None:
        TallyZone.objects.update_or_create(pk=1, defaults={"name": settings.TIME_ZONE})
    written = 0
    for survey in Survey.objects.order_by("pk") if surveys is None else surveys:
        with transaction.atomic():
            Survey.objects.select_for_update().filter(pk=survey.pk).exists()
            written += (
                DailyScore.objects.rebuild(survey)
                + PropertyScore.objects.rebuild(survey)
                + TermTally.objects.rebuild(survey)
            )
    if surveys is None:
        TallyZone.objects.filter(pk=1).update(counted_at=timezone.now())
    return written


class TermMonthQuerySet(models.QuerySet):
    def roll_up(self) -> int:
        """Sum the term tally's days of the months that ended three days ago or earlier, and that
        are not summed yet, into month rows; rows written. PostgreSQL only: elsewhere nothing is
        rolled up, and the insights read the days.

        It holds the roll-up lock exclusively: the triggers count an answer of a day before
        yesterday in the month rows too once its month is rolled up, and take the lock shared to
        do so, so that none is counted while its month is being summed, nor missed. An answer of
        today or yesterday never takes it: its month cannot be rolled up yet, even if the clock
        of the database and the one of a late commit disagree by a day."""
        if connection.vendor != "postgresql":
            return 0
        table, days = self.model._meta.db_table, TermTally._meta.db_table
        with transaction.atomic(), connection.cursor() as cursor:
            locks = "SELECT pg_advisory_xact_lock(%s), pg_advisory_xact_lock_shared(%s)"
            cursor.execute(locks, [ROLLUP_LOCK, TERMS_LOCK])
            # The last day of the month before the one of the day before yesterday.
            cursor.execute(
                "SELECT terms_rolled_until, (date_trunc('month', "  # noqa: S608
                "(clock_timestamp() AT TIME ZONE name)::date - 2) - interval '1 day')::date "
                f"FROM {TallyZone._meta.db_table} WHERE id = 1"
            )
            row = cursor.fetchone()
            if row is None or (row[0] is not None and row[1] <= row[0]):
                return 0
            rolled, until = row
            cursor.execute(
                f"INSERT INTO {table} ({MONTH_KEY}, responses) "  # noqa: S608
                "SELECT survey_id, date_trunc('month', day)::date, category, language, term_id, "
                f"sum(responses) FROM {days} WHERE day > %s AND day <= %s AND responses > 0 "
                "GROUP BY 1, 2, 3, 4, 5 "
                f"ON CONFLICT ({MONTH_KEY}) DO UPDATE SET responses = {table}.responses + excluded.responses",
                [rolled or date.min, until],
            )
            written = cursor.rowcount
            TallyZone.objects.filter(pk=1).update(terms_rolled_until=until)
        return written

    def rebuild(self, surveys: models.QuerySet[Survey]) -> int:
        """Sum the surveys' months anew from their term tally, up to the last day rolled up; rows
        written. In the transaction of the term tally's recount, after it; on PostgreSQL after
        any roll-up under way, which could otherwise sum days of the survey as they were before."""
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ROLLUP_LOCK])
        self.filter(survey__in=surveys).delete()
        rolled = TallyZone.objects.filter(pk=1).values_list("terms_rolled_until", flat=True).first()
        if rolled is None:
            return 0
        days = TermTally.objects.filter(survey__in=surveys, day__lte=rolled, responses__gt=0)
        select, parameters = (
            days.values("survey_id", "category", "language", "term_id")
            .annotate(month=TruncMonth("day", output_field=models.DateField()), n=models.Sum("responses"))
            .values_list("survey_id", "month", "category", "language", "term_id", "n")
            .order_by()
            .query.sql_with_params()
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {self.model._meta.db_table} ({MONTH_KEY}, responses) {select}",
                parameters,
            )
            return cursor.rowcount


MONTH_KEY = "survey_id, month, category, language, term_id"


class TermMonth(TermCount):
    """The term tally's rows of a month summed, for the months rolled up (``TallyZone.terms_rolled_until``):
    a term used on many days of a month has one row instead of one a day (a third of the rows of
    a year in the benchmark). Kept by the triggers of migration 0020 for the answers of those
    months that change or go; filled a month at a time by ``roll_up`` (the beat's
    ``roll-up-terms``). PostgreSQL only, where installations grow to millions of comments."""

    month = models.DateField()  # its first day, in the installation's time zone

    objects = TermMonthQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "month", "category", "language", "term"], name="term_month_unique_key"
            ),
            models.CheckConstraint(condition=models.Q(responses__gte=0), name="term_month_not_negative"),
        ]
        indexes = [
            models.Index(fields=["term"], condition=models.Q(responses=0), name="term_month_empty_idx"),
            # As the term tally's: one category's terms over a run of months, from the index alone.
            models.Index(
                fields=["survey", "category", "month"],
                include=["language", "term", "responses"],
                name="term_month_category_idx",
            ),
        ]

    def __str__(self) -> str:
        key = f"{self.survey_id} {self.month} {self.category} {self.language} {self.term_id}"
        return f"{key}: {self.responses}"


@dataclass(frozen=True)
class Drift:
    """One tally row that differs from a fresh count: ``key`` is (day, touchpoint, score), with
    the property's name and value in front for the property tally; (day, category, language, term)
    for the term tally."""

    survey_id: int
    tally: str  # "daily", "property", "terms" or "term months" (whose key's day is the month's first)
    key: tuple
    stored: int
    counted: int


def tally_drift(surveys: Iterable[Survey] | None = None) -> list[Drift]:
    """Where the tallies of these surveys (all by default) differ from a fresh count of their
    responses, in the installation's time zone; empty when they agree.

    Rows that count nothing are left out on both sides: a response counted out leaves a zero.
    """
    selected = (
        Survey.objects.all() if surveys is None else Survey.objects.filter(pk__in=[s.pk for s in surveys])
    )
    drift = _compare(
        "daily",
        stored={
            (row.survey_id, (row.day, row.touchpoint_key, row.score)): row.responses
            for row in DailyScore.objects.filter(survey__in=selected, responses__gt=0)
        },
        counted={
            (row["survey_id"], (row["day"], row["touchpoint_key"], row["score"])): row["responses"]
            for row in _daily_counts(selected)
        },
    )
    counted = {}
    for name, survey_ids in _surveys_by_property(selected).items():
        for row in _property_counts(name, survey_ids):
            key = (name, row["value"], row["day"], row["touchpoint_key"], row["score"])
            counted[(row["survey_id"], key)] = row["responses"]
    stored = {
        (row.survey_id, (row.name, row.value, row.day, row.touchpoint_key, row.score)): row.responses
        for row in PropertyScore.objects.filter(survey__in=selected, responses__gt=0)
    }
    drift += _compare("property", stored=stored, counted=counted)
    return sorted(drift + _term_drift(selected), key=lambda row: row.survey_id)


def _term_drift(surveys: models.QuerySet) -> list[Drift]:
    stored = {
        (row["survey_id"], (row["day"], row["category"], row["language"], row["term__text"])): row[
            "responses"
        ]
        for row in TermTally.objects.filter(survey__in=surveys, responses__gt=0).values(
            "survey_id", "day", "category", "language", "term__text", "responses"
        )
    }
    select, parameters = _term_counts(list(surveys.values_list("pk", flat=True)))
    with connection.cursor() as cursor:
        cursor.execute(select, parameters)
        counted = {
            (survey_id, (_as_date(day), category, language, text)): responses
            for survey_id, day, category, language, text, responses in cursor.fetchall()
        }
    drift = _compare("terms", stored=stored, counted=counted)
    rolled = TallyZone.objects.filter(pk=1).values_list("terms_rolled_until", flat=True).first()
    months: dict = {}
    for (survey_id, (day, category, language, text)), responses in counted.items():
        if rolled is not None and day <= rolled:
            key = (survey_id, (day.replace(day=1), category, language, text))
            months[key] = months.get(key, 0) + responses
    stored_months = {
        (row["survey_id"], (row["month"], row["category"], row["language"], row["term__text"])): row[
            "responses"
        ]
        for row in TermMonth.objects.filter(survey__in=surveys, responses__gt=0).values(
            "survey_id", "month", "category", "language", "term__text", "responses"
        )
    }
    return drift + _compare("term months", stored=stored_months, counted=months)


def _as_date(day: date | str) -> date:
    """A day as the database returns it from raw SQL: a date, or ISO text on SQLite."""
    return day if isinstance(day, date) else date.fromisoformat(day)


def _compare(tally: str, *, stored: dict, counted: dict) -> list[Drift]:
    return [
        Drift(survey_id, tally, key, stored.get((survey_id, key), 0), counted.get((survey_id, key), 0))
        for survey_id, key in sorted(
            stored.keys() | counted.keys(), key=lambda pair: (pair[0], repr(pair[1]))
        )
        if stored.get((survey_id, key), 0) != counted.get((survey_id, key), 0)
    ]


def tally_zone() -> TallyZone | None:
    return TallyZone.objects.filter(pk=1).first()


def sync_tally_zone(*, apps=None, **kwargs) -> None:
    """After ``migrate`` (and after a test database is flushed): recount the tallies if they have
    never been counted or count days in another zone than the installation's ``TIME_ZONE``.
    Nothing while the database is migrated back to before the tallies had a zone (``apps``)."""
    if apps is not None:
        try:
            apps.get_model("surveys", "TallyZone")
        except LookupError:
            return
    zone = tally_zone()
    if zone is not None and zone.name == settings.TIME_ZONE and zone.counted_at is not None:
        return
    if Response.objects.exists():
        logger.warning("Counting the dashboards' tallies afresh, in %s.", settings.TIME_ZONE)
    rebuild_tallies()
