"""Finding verbatims: the dashboard's filters plus category, score, comment, a term of the
insights and a search.

A search is words and "quoted phrases". Every word must occur in the comment in one of its
forms, every phrase exactly as typed (in any case, any spacing between its words).

A word matches the comment's terms (``Response.comment_terms``): both are lemmatised in the
comment's own language (``surveys.terms``), so "Lieferungen" finds "Lieferung" and "geliefert"
finds "lieferte" on every database. Lemmas never join a verb to its noun: "geliefert" does not
find "Lieferung", nor "delivered" "delivery".

On PostgreSQL a word also matches by full-text search in the comment's language (Snowball
stems, two partial GIN indexes), as it did before the terms: the stemmer finds inflections of
words the lemmatiser's dictionaries do not know (compounds such as "Wärmepumpen"), the lemmas
find irregular forms the stemmer misses ("geliefert", "lieferte"). Either way is served by an
index; PostgreSQL finds at least what SQLite finds.

Matches are highlighted in Python on both databases, after the comment is escaped, so a
comment can never bring its own markup.
"""

import re
from dataclasses import dataclass
from functools import lru_cache

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from feedback.counts import Filters, matching_responses
from followup.rules import stems
from insights.tone import with_tone
from surveys.models import Response, ResponseQuerySet
from surveys.scales import LANGUAGES
from surveys.terms import WORD, lemma

# Django's SearchVector("comment", config=...) compiles to exactly the expression the
# indexes of migration surveys 0004 are built on; keep the two in step.
SEARCH_CONFIGS = {"de": "german", "en": "english"}


@dataclass(frozen=True)
class VerbatimQuery:
    filters: Filters
    text: str = ""
    category: str = ""  # a category code of the survey's scale
    score: int | None = None
    with_comment: bool | None = True  # None: with and without
    term: str = ""  # a term of the comments' insights (``Response.comment_ngrams``), as shown there
    tone: str = ""  # a tone of insights.tone.Tone, or "disagree" (tone against score)


@dataclass(frozen=True)
class SearchText:
    words: tuple[str, ...]
    phrases: tuple[str, ...]  # their words separated by single spaces


@lru_cache(maxsize=64)
def parse_search(text: str) -> SearchText:
    """The words and the "quoted phrases" of a search. A quotation mark left open quotes
    nothing: what follows it counts as words. Characters other than letters and digits
    separate words."""
    parts = text.split('"')
    if len(parts) % 2 == 0:  # an odd number of quotation marks: the last one opens nothing
        parts[-2:] = [parts[-2] + " " + parts[-1]]
    quoted = {" ".join(part.split()) for part in parts[1::2]} - {""}
    words = [word for part in parts[::2] for word in WORD.findall(part)]
    return SearchText(words=tuple(dict.fromkeys(words)), phrases=tuple(sorted(quoted)))


def find_verbatims(query: VerbatimQuery) -> QuerySet[Response]:
    """The matching responses, newest first."""
    responses = (
        matching_responses(query.filters).select_related("touchpoint").with_comment(query.with_comment)
    )
    if query.category:
        responses = responses.in_category(query.category)
    if query.score is not None:
        responses = responses.filter(score=query.score)
    if query.term:
        responses = responses.with_term(query.term)
    if query.text:
        responses = search(responses, query.text)
    if query.tone:
        responses = with_tone(responses, query.tone)
    return responses.order_by("-created_at", "-pk")


def search(responses: ResponseQuerySet, text: str) -> ResponseQuerySet:
    """The responses whose comment has every word and every phrase of ``text``; none if it has
    neither (only punctuation, or empty quotes)."""
    wanted = parse_search(text)
    if not wanted.words and not wanted.phrases:
        return responses.none()
    postgresql = connection.vendor == "postgresql"
    if postgresql:
        responses = responses.alias(
            terms=SearchVector("comment_terms", config="simple"),
            **{
                f"fts_{language}": SearchVector("comment", config=config)
                for language, config in SEARCH_CONFIGS.items()
            },
        )
    for word in wanted.words:
        responses = responses.filter(_word_matches(word, postgresql=postgresql))
    for phrase in wanted.phrases:
        responses = responses.filter(
            comment__iregex=_phrase_pattern(phrase, boundary=r"\y" if postgresql else r"\b")
        )
    return responses


def _word_matches(word: str, *, postgresql: bool) -> Q:
    condition = Q()
    for language in LANGUAGES:
        term = lemma(word, language)
        if postgresql:
            config = SEARCH_CONFIGS[language]
            found = Q(terms=SearchQuery(term, config="simple")) | Q(
                **{f"fts_{language}": SearchQuery(word, config=config)}
            )
        else:
            found = Q(comment_terms__contains=f" {term} ")
        condition |= Q(language=language) & found
    return condition


def _phrase_pattern(phrase: str, *, boundary: str) -> str:
    """A regular expression for the phrase, its words apart by any whitespace, not inside a
    longer word. ``boundary`` is the dialect's word boundary: PostgreSQL's \\y, Python's \\b
    (SQLite's REGEXP is Python's)."""
    pattern = r"\s+".join(re.escape(word) for word in phrase.split())
    if WORD.match(phrase[0]):
        pattern = boundary + pattern
    if WORD.match(phrase[-1]):
        pattern += boundary
    return pattern


def highlighted(response: Response, text: str) -> SafeString:
    """The comment, escaped, with the search's matches in <mark>: the words whose lemma (on
    PostgreSQL also whose stem) is one searched for, and the phrases."""
    comment = response.comment
    if not text or not comment:
        return escape(comment)
    wanted, language = parse_search(text), response.language
    lemmas = {lemma(word, language) for word in wanted.words}
    stemmed = set(stems(" ".join(wanted.words), language)) if connection.vendor == "postgresql" else set()
    spans = [
        match.span()
        for phrase in wanted.phrases
        for match in re.finditer(_phrase_pattern(phrase, boundary=r"\b"), comment, re.IGNORECASE)
    ]
    for match in WORD.finditer(comment):
        word = match.group()
        if lemma(word, language) in lemmas or (stemmed and stems(word, language)[0] in stemmed):
            spans.append(match.span())
    return _marked(comment, spans)


def _marked(comment: str, spans: list[tuple[int, int]]) -> SafeString:
    """The comment escaped, each span in <mark>; overlapping spans make one mark."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    pieces, position = [], 0
    for start, end in merged:
        pieces += [escape(comment[position:start]), "<mark>", escape(comment[start:end]), "</mark>"]
        position = end
    pieces.append(escape(comment[position:]))
    return mark_safe("".join(pieces))  # noqa: S308 (every piece of the comment is escaped)
