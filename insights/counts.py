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
from functools import reduce
from operator import and_

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from feedback.counts import Filters, matching_responses
from surveys.models import Response, Term, TermTally
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


def pair_counts(a: Group, b: Group, *, min_count: int) -> tuple[TermCounts, TermCounts]:
    """The counts of two groups, of one survey, whose terms are to be compared; ``terms`` may leave
    out those counted fewer than ``min_count`` times in both groups together, whose counts are
    still in ``total``.

    From the tally, one pass over both groups' rows sums each term for each group and sends
    back the frequent terms alone: over a year of comments, a few thousand of some hundred
    thousand (most terms are names, typos and rare pairs of words seen once or twice).
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
    rows = TermTally.objects.filter(_rows_of(span), survey=a.filters.survey)
    # Summed by the term's id, then named: grouping millions of rows by a number, not by its text.
    sums = (
        rows.values("term_id")
        .annotate(
            a=Coalesce(Sum("responses", filter=_rows_of(a, within=span)), 0),
            b=Coalesce(Sum("responses", filter=_rows_of(b, within=span)), 0),
        )
        .order_by()
    )
    select, parameters = sums.query.sql_with_params()
    table = Term._meta.db_table
    with _summing() as cursor:
        cursor.execute(
            f"WITH sums AS ({select}) "  # noqa: S608
            # bigint, not the numeric that PostgreSQL sums bigints to, or every count would be one
            "SELECT NULL, CAST(coalesce(sum(sums.a), 0) AS bigint), CAST(coalesce(sum(sums.b), 0) AS bigint) "
            "FROM sums "
            "UNION ALL SELECT term.text, sums.a, sums.b FROM sums "
            f"JOIN {table} AS term ON term.id = sums.term_id "
            f"WHERE sums.a + sums.b >= %s OR sums.term_id = (SELECT id FROM {table} WHERE text = %s)",
            (*parameters, min_count, COMMENTS),
        )
        fetched = cursor.fetchall()
    totals = next(row for row in fetched if row[0] is None)
    terms_a = {term: n for term, n, _ in fetched if term is not None and n}
    terms_b = {term: n for term, _, n in fetched if term is not None and n}
    comments_a, comments_b = terms_a.pop(COMMENTS, 0), terms_b.pop(COMMENTS, 0)
    return (
        TermCounts(terms=terms_a, comments=comments_a, total=totals[1] - comments_a),
        TermCounts(terms=terms_b, comments=comments_b, total=totals[2] - comments_b),
    )


def _tallied(group: Group) -> bool:
    """Whether the tally holds the group: it is counted by day, category and language alone."""
    filters = group.filters
    return not (filters.touchpoints or filters.properties or filters.tags or filters.themes)


def _rows_of(group: Group, *, within: Group | None = None) -> Q | None:
    """The group's rows of the tally of its survey, among the rows of group ``within`` (all if
    None): the conditions that these rows meet already are left out, since each of millions of rows
    is tested. None when there is none left."""
    filters = group.filters
    conditions = []
    if within is None or (filters.since, filters.until) != (within.filters.since, within.filters.until):
        conditions.append(Q(day__range=(filters.since, filters.until)))
    if group.categories and (within is None or set(group.categories) != set(within.categories)):
        conditions.append(Q(category__in=group.categories))
    if group.language and (within is None or group.language != within.language):
        conditions.append(Q(language=group.language))
    return reduce(and_, conditions) if conditions else None


def _from_tally(group: Group) -> list[tuple[str, int]]:
    # Summed by the term's id, then named: grouping a million rows by a number, not by its text.
    rows = TermTally.objects.filter(_rows_of(group), survey=group.filters.survey)
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
