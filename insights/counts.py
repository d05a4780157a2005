"""How many comments of a group of answers use each term.

A group is what the dashboard's filters select (a survey, a period, touchpoints, properties,
tags), narrowed to score categories and a language. Counting happens in the database: from the
daily term tally (``TermTally``) when it holds exactly the group, that is with no filter on
touchpoints, properties or tags; else from the terms of the group's responses
(``Response.comment_ngrams``), unnested in SQL. Either way a comment counts a term once.
"""

from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet, Sum

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


def term_counts(group: Group) -> TermCounts:
    filters = group.filters
    tallied = not (filters.touchpoints or filters.properties or filters.tags or filters.themes)
    rows = _from_tally(group) if tallied else _from_responses(group)
    terms = dict(rows)
    return TermCounts(terms=terms, comments=terms.pop(COMMENTS, 0))


def _from_tally(group: Group) -> list[tuple[str, int]]:
    rows = TermTally.objects.filter(
        survey=group.filters.survey, day__range=(group.filters.since, group.filters.until)
    )
    if group.categories:
        rows = rows.filter(category__in=group.categories)
    if group.language:
        rows = rows.filter(language=group.language)
    # Summed by the term's id, then named: grouping a million rows by a number, not by its text.
    sums = rows.values("term_id").annotate(n=Sum("responses")).filter(n__gt=0).order_by()
    select, parameters = sums.query.sql_with_params()
    with connection.cursor() as cursor:
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
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT ngram.value, count(*) FROM {table} AS r CROSS JOIN {terms} "  # noqa: S608
            f"WHERE r.id IN ({select}) GROUP BY ngram.value "
            f"UNION ALL SELECT %s, count(*) FROM {table} AS r "
            f"WHERE r.id IN ({select}) AND {length}(r.comment_ngrams) > 0",
            (*parameters, COMMENTS, *parameters),
        )
        return cursor.fetchall()
