"""Finding verbatims: the dashboard's filters plus category, score, comment and full-text search.

On PostgreSQL the search is full-text in the comment's own language (German or
English stemming: "Lieferung" finds "Lieferungen"), served by two partial GIN
indexes; on SQLite it is a plain substring search. Matches are highlighted
after the comment is escaped, so a comment can never bring its own markup.
"""

import re
from dataclasses import dataclass

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchVector
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from feedback.counts import Filters, matching_responses
from surveys.models import Response, ResponseQuerySet

# Django's SearchVector("comment", config=...) compiles to exactly the expression the
# indexes of migration surveys 0004 are built on; keep the two in step.
SEARCH_CONFIGS = {"de": "german", "en": "english"}
# Marks for the matches, turned into <mark> after escaping. Private-use characters: a
# comment that contains them gets a stray highlight, never markup of its own.
_START, _STOP = "\ue000", "\ue001"


@dataclass(frozen=True)
class VerbatimQuery:
    filters: Filters
    text: str = ""
    category: str = ""  # a category code of the survey's scale
    score: int | None = None
    with_comment: bool | None = True  # None: with and without


def find_verbatims(query: VerbatimQuery) -> QuerySet[Response]:
    """The matching responses, newest first, with ``headline`` set when searching on PostgreSQL."""
    responses = (
        matching_responses(query.filters).select_related("touchpoint").with_comment(query.with_comment)
    )
    if query.category:
        responses = responses.in_category(query.category)
    if query.score is not None:
        responses = responses.filter(score=query.score)
    if query.text:
        responses = search(responses, query.text)
    return responses.order_by("-created_at", "-pk")


def search(responses: ResponseQuerySet, text: str) -> ResponseQuerySet:
    """The responses whose comment matches ``text``: full-text on PostgreSQL, substring on SQLite."""
    if connection.vendor != "postgresql":
        return responses.filter(comment__icontains=text)
    condition = Q()
    vectors, headlines = {}, {}
    for language, config in SEARCH_CONFIGS.items():
        search = SearchQuery(text, config=config, search_type="websearch")
        condition |= Q(language=language, **{f"fts_{language}": search})
        vectors[f"fts_{language}"] = SearchVector("comment", config=config)
        # Computed for the rows of one page only: PostgreSQL evaluates it after the LIMIT.
        headlines[f"headline_{language}"] = SearchHeadline(
            "comment", search, config=config, start_sel=_START, stop_sel=_STOP, highlight_all=True
        )
    return responses.alias(**vectors).filter(condition).annotate(**headlines)


def highlighted(response: Response, text: str) -> SafeString:
    """The comment, escaped, with the search's matches in <mark>."""
    if not text:
        return escape(response.comment)
    marked = getattr(response, f"headline_{response.language}", None)
    if marked is None:  # SQLite: mark the substring wherever it occurs, in any case
        marked = _mark_substrings(response.comment, text)
    return mark_safe(escape(marked).replace(_START, "<mark>").replace(_STOP, "</mark>"))  # noqa: S308


def _mark_substrings(comment: str, text: str) -> str:
    # A regular expression rather than str.lower(): lowering can change a string's length ("İ").
    return re.sub(
        re.escape(text), lambda match: f"{_START}{match.group()}{_STOP}", comment, flags=re.IGNORECASE
    )
