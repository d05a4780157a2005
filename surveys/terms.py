"""The terms of a comment: the lemmas of its words in the comment's own language, German or
English, which the verbatim search matches on any database (``Response.comment_terms``).

A lemma joins the inflections of one word: "Lieferungen" and "Lieferung" are "lieferung";
"geliefert", "lieferte" and "liefern" are "liefern"; "deliveries" and "delivery" are
"delivery"; "delivered", "delivering" and "deliver" are "deliver"; "war" is "sein", "was" is
"be". It never joins a verb to the noun made from it: "geliefert" does not find "Lieferung",
nor "delivered" "delivery". A word the dictionaries do not know stays as it is, lower-cased.

simplemma (MIT licence) lemmatises from the dictionaries it ships, in pure Python. The
dictionaries are read when a process first needs them, a few seconds; ``load`` does it ahead.
"""

import re

from simplemma import Lemmatizer
from simplemma.strategies import DefaultStrategy

# Letters and digits; an underscore separates, as PostgreSQL's parser does.
WORD = re.compile(r"[^\W_]+")
# The memory-frugal dictionaries: some 20 MB in each process for both languages instead of
# 130 MB, for lookups that take twice as long (microseconds, and cached).
_LEMMATIZER = Lemmatizer(lemmatization_strategy=DefaultStrategy(low_memory=True))


def lemma(word: str, language: str) -> str:
    """The lemma of one word (letters and digits) in ``language`` (de or en), case-folded."""
    if word.isupper():  # "LIEFERUNGEN" is known to the dictionaries as "Lieferungen"
        word = word.lower()
    return _LEMMATIZER.lemmatize(word, lang=language).casefold()


def comment_terms(comment: str, language: str) -> str:
    """The distinct lemmas of the comment's words, sorted, each between single spaces (" liefern
    spät "), so that a search finds a term as " term " without building a string per row; ""
    for a comment without words."""
    lemmas = sorted({lemma(word, language) for word in WORD.findall(comment)})
    return f" {' '.join(lemmas)} " if lemmas else ""


def load() -> None:
    """Read both languages' dictionaries now rather than on the first comment."""
    comment_terms("Lieferungen", "de")
    comment_terms("deliveries", "en")
