"""How many comments of a group of answers use each term.

A group is what the dashboard's filters select (a survey, a period, touchpoints, properties,
tags), narrowed to score categories and a language. Counting happens in the database: from the
daily term tally (``TermTally``) when it holds exactly the group, that is with no filter on
touchpoints, properties, tags or themes; else from the terms of the group's responses
(``Response.comment_ngrams``), unnested in SQL. Either way a comment counts a term once.

Two groups to be compared are counted together (``pair_counts``): from the tally in one pass over
both groups' rows, which sends back only the terms that the comparison could show and the sums of
the others.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import reduce
from operator import and_

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import Case, F, Q, QuerySet, Sum, Value, When

from feedback.counts import Filters, matching_responses
from insights.logodds import PRIOR_SIZE
from surveys.models import Response, TallyZone, Term, TermMonth, TermTally
from surveys.models.tallies import COMMENTS


@dataclass(frozen=True)
class Group:
    """The answers to count: the filters' and, of those, the categories' (all if none) in the
    language (any if empty)."""

    filters: Filters
    categories: tuple[str, ...] = ()
    language: str = ""


@dataclass(frozen=True)
class TermCounts:
    terms: dict[str, int]  # term → comments of the group that use it
    comments: int  # comments of the group with any term
    total: int  # the sum of all the group's term counts, of terms left out of ``terms`` too


def term_counts(group: Group) -> TermCounts:
    """Every term of the group with its count."""
    rows = _from_tally(group) if _tallied(group) else _from_responses(group)
    terms = dict(rows)
    comments = terms.pop(COMMENTS, 0)
    return TermCounts(terms=terms, comments=comments, total=sum(terms.values()))


def pair_counts(
    a: Group, b: Group, *, min_count: int, threshold: float | None = None
) -> tuple[TermCounts, TermCounts]:
    """The counts of two groups, of one survey, whose terms are to be compared; ``terms`` may leave
    out those counted fewer than ``min_count`` times in both groups together and, given a
    ``threshold``, those whose |z| of a over b (``insights.logodds`` with its default prior) is
    not above it; their counts are still in ``total``.

    From the tally, one pass over both groups' rows sums each term for each group, and the
    database weighs them and sends back only the terms that the comparison could show: over a
    year of comments, a few thousand of some hundred thousand. Python weighs those again,
    exactly (the database keeps a term whose |z| falls short by less than ``MARGIN``).
    """
    if not (_tallied(a) and _tallied(b) and a.filters.survey == b.filters.survey):
        return term_counts(a), term_counts(b)
    # One range of the survey's rows that holds both groups, which the filtered sums then split:
    # an index-only scan, where the two groups' conditions joined by OR would read the table.
    span = Group(
        replace(
            a.filters,
            since=min(a.filters.since, b.filters.since),
            until=max(a.filters.until, b.filters.until),
        ),
        categories=(*a.categories, *b.categories) if a.categories and b.categories else (),
        language=a.language if a.language == b.language else "",
    )
    # Two groups of one period read the months rolled up (TermMonth) that it holds whole, and the
    # days before and after them; the filtered sums then test the categories alone.
    whole: Piece = (TermTally, "day", (span.filters.since, span.filters.until))
    pieces = _pieces(span) if _period(a) == _period(b) else [whole]
    # Each row's count for group a and for group b, from every piece; then summed by the term's
    # id in one aggregate that parallel workers share, and named: grouping millions of rows by a
    # number, not by its text.
    rows = [
        _scan(piece, span)
        .values("term_id", a=_count_of(a, within=span), b=_count_of(b, within=span))
        .order_by()
        for piece in pieces
    ]
    union, parameters = rows[0].union(*rows[1:], all=True).query.sql_with_params()
    select = (
        # bigint, not the numeric that PostgreSQL sums bigints to, or every count would be one
        "SELECT term_id, CAST(sum(a) AS bigint) AS a, CAST(sum(b) AS bigint) AS b "  # noqa: S608
        f"FROM ({union}) AS pieces GROUP BY term_id"
    )
    with _summing() as cursor:
        cursor.execute(
            _WEIGHED.format(select=select, terms=Term._meta.db_table, prior=PRIOR_SIZE),
            (*parameters, COMMENTS, min_count, -1.0 if threshold is None else threshold - MARGIN, COMMENTS),
        )
        fetched = cursor.fetchall()
    sums = {kind: (n_a, n_b) for kind, _term, n_a, n_b in fetched if kind != "term"}
    kept = [(term, n_a, n_b) for kind, term, n_a, n_b in fetched if kind == "term"]
    (total_a, total_b), (comments_a, comments_b) = sums["total"], sums["comments"]
    return (
        TermCounts(terms={term: n for term, n, _ in kept if n}, comments=comments_a, total=total_a),
        TermCounts(terms={term: n for term, _, n in kept if n}, comments=comments_b, total=total_b),
    )


# Where rows of the tally are: the model (days or months), its column of days or months, and the
# first and last value of that column.
Piece = tuple[type[TermTally | TermMonth], str, tuple[date, date]]


MARGIN = 1e-9  # a term's |z| in SQL may differ from Python's in the last bits of a float
# The groups' sums of each term (``select``), their totals (the term of no words aside: it counts
# comments), and the terms that could be shown: counted ``min_count`` times or more in both groups
# together, and with an estimate whose |z| is above the threshold (or -1). The estimate is
# insights.logodds._estimate's with the default background and prior, term for term in the
# same order of operations; CASE keeps the logarithms off the terms without an estimate.
_WEIGHED = """
WITH sums AS ({select}),
comments AS (
    SELECT CAST(coalesce(sum(a), 0) AS bigint) AS a, CAST(coalesce(sum(b), 0) AS bigint) AS b FROM sums
    WHERE term_id = (SELECT id FROM {terms} WHERE text = %s)
),
totals AS (
    SELECT CAST((SELECT coalesce(sum(a), 0) FROM sums) - comments.a AS bigint) AS a,
           CAST((SELECT coalesce(sum(b), 0) FROM sums) - comments.b AS bigint) AS b
    FROM comments
),
prior AS (
    SELECT totals.a AS n_a, totals.b AS n_b,
           CASE WHEN totals.a + totals.b <= {prior} THEN CAST(1 AS double precision)
                ELSE CAST({prior} AS double precision) / (totals.a + totals.b) END AS scale
    FROM totals
),
estimates AS (
    SELECT sums.term_id, sums.a, sums.b,
           sums.a + prior.scale * (sums.a + sums.b) AS in_a,
           sums.b + prior.scale * (sums.a + sums.b) AS in_b,
           prior.n_a - sums.a + prior.scale * (prior.n_a + prior.n_b - sums.a - sums.b) AS out_a,
           prior.n_b - sums.b + prior.scale * (prior.n_a + prior.n_b - sums.a - sums.b) AS out_b
    FROM sums, prior WHERE sums.a + sums.b >= %s
),
kept AS (
    SELECT term_id, a, b FROM estimates
    WHERE CASE WHEN in_a > 0 AND in_b > 0 AND out_a > 0 AND out_b > 0
          THEN abs(ln(in_a / out_a) - ln(in_b / out_b)) / sqrt(1 / in_a + 1 / in_b) END > %s
)
SELECT 'total', NULL, a, b FROM totals
UNION ALL SELECT 'comments', NULL, a, b FROM comments
UNION ALL SELECT 'term', term.text, kept.a, kept.b FROM kept JOIN {terms} AS term ON term.id = kept.term_id
WHERE term.text <> %s
"""


def _period(group: Group) -> tuple[date, date, str]:
    return group.filters.since, group.filters.until, group.language


def _tallied(group: Group) -> bool:
    """Whether the tally holds the group: it is counted by day, category and language alone."""
    filters = group.filters
    return not (filters.touchpoints or filters.properties or filters.tags or filters.themes)


def _pieces(group: Group) -> list[Piece]:
    """Where the group's rows are: (model, its day or month column, first and last value). The
    months of its period that are rolled up and that it holds whole, in ``TermMonth``; the days
    before and after them, or all, in ``TermTally``."""
    since, until = group.filters.since, group.filters.until
    rolled = _rolled_until()
    whole: Piece = (TermTally, "day", (since, until))
    if rolled is None:
        return [whole]
    end = min(until, rolled)
    first = since if since.day == 1 else _next_month(since)  # the first day of the first whole month
    last = end if (end + timedelta(days=1)).day == 1 else end.replace(day=1) - timedelta(days=1)
    if first > last:
        return [whole]
    pieces: list[Piece] = [(TermMonth, "month", (first, last.replace(day=1)))]
    if since < first:
        pieces.append((TermTally, "day", (since, first - timedelta(days=1))))
    if last < until:
        pieces.append((TermTally, "day", (last + timedelta(days=1), until)))
    return pieces


def _next_month(day: date) -> date:
    """The first day of the month after the day's."""
    return (day.replace(day=1) + timedelta(days=31)).replace(day=1)


def _rolled_until() -> date | None:
    """The last day rolled up into ``TermMonth``; None on SQLite, where none is."""
    if connection.vendor != "postgresql":
        return None
    return TallyZone.objects.filter(pk=1).values_list("terms_rolled_until", flat=True).first()


def _scan(piece: Piece, group: Group) -> QuerySet:
    """The rows of the group's survey, categories and language in a piece of the tally."""
    model, column, bounds = piece
    rows = model.objects.filter(survey=group.filters.survey, **{f"{column}__range": bounds})
    if group.categories:
        rows = rows.filter(category__in=group.categories)
    if group.language:
        rows = rows.filter(language=group.language)
    return rows


def _count_of(group: Group, *, within: Group) -> Case | F:
    """A row's count for the group, among the rows of group ``within``: 0 if it is not the group's."""
    rows = _rows_of(group, within=within)
    return F("responses") if rows is None else Case(When(rows, then=F("responses")), default=Value(0))


def _rows_of(group: Group, *, within: Group) -> Q | None:
    """The group's rows among the rows of group ``within``: the conditions that these rows meet
    already are left out, since each of millions of rows is tested. None when there is none left."""
    filters = group.filters
    conditions = []
    if (filters.since, filters.until) != (within.filters.since, within.filters.until):
        conditions.append(Q(day__range=(filters.since, filters.until)))
    if group.categories and set(group.categories) != set(within.categories):
        conditions.append(Q(category__in=group.categories))
    if group.language and group.language != within.language:
        conditions.append(Q(language=group.language))
    return reduce(and_, conditions) if conditions else None


def _from_tally(group: Group) -> list[tuple[str, int]]:
    # Summed by the term's id, then named: grouping a million rows by a number, not by its text.
    rows = _scan((TermTally, "day", (group.filters.since, group.filters.until)), group)
    sums = rows.values("term_id").annotate(n=Sum("responses")).filter(n__gt=0).order_by()
    select, parameters = sums.query.sql_with_params()
    with _summing() as cursor:
        cursor.execute(
            f"SELECT term.text, sums.n FROM ({select}) AS sums "  # noqa: S608
            f"JOIN {Term._meta.db_table} AS term ON term.id = sums.term_id",
            parameters,
        )
        return cursor.fetchall()


def _from_responses(group: Group) -> list[tuple[str, int]]:
    responses = matching_responses(group.filters)
    if group.categories:
        responses = responses.in_category(*group.categories)
    if group.language:
        responses = responses.filter(language=group.language)
    return count_terms(responses)


def count_terms(responses: QuerySet[Response]) -> list[tuple[str, int]]:
    """(term, comments of ``responses`` that use it), and (``COMMENTS``, comments with any term),
    counted in the database from the comments' terms (``Response.comment_ngrams``)."""
    select, parameters = responses.values("pk").order_by().query.sql_with_params()
    if connection.vendor == "postgresql":
        terms, length = "jsonb_array_elements_text(r.comment_ngrams) AS ngram (value)", "jsonb_array_length"
    else:
        terms, length = "json_each(r.comment_ngrams) AS ngram", "json_array_length"
    table = Response._meta.db_table
    with _summing() as cursor:
        cursor.execute(
            f"SELECT ngram.value, count(*) FROM {table} AS r CROSS JOIN {terms} "  # noqa: S608
            f"WHERE r.id IN ({select}) GROUP BY ngram.value "
            f"UNION ALL SELECT %s, count(*) FROM {table} AS r "
            f"WHERE r.id IN ({select}) AND {length}(r.comment_ngrams) > 0",
            (*parameters, COMMENTS, *parameters),
        )
        return cursor.fetchall()


@contextmanager
def _summing() -> Iterator[CursorWrapper]:
    """A cursor for summing terms. On PostgreSQL, in a transaction of its own with the room to
    hold the sums of a year's terms, some hundred thousand of them, in memory: with the stock 4 MB,
    the sums are spilled to disk in batches, which took most of the time. Without a JIT compile,
    which costs a quarter of a second on millions of rows and saves less."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('work_mem', '32MB', true), set_config('jit', 'off', true)")
        yield cursor
