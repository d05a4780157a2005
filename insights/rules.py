"""A theme's rules: which terms of a comment give it the theme, and which keep it off.

A CX manager writes each rule as one or two words, separated by commas or new lines:
``liefer*, versand*, paket*, delivery, shipping, nicht pünktlich``. A word is compared with the
comment's terms (``surveys.terms.comment_ngrams``), lemma for lemma: "Lieferungen" in a rule
finds "Lieferung", "Lieferungen" and "LIEFERUNG" in German comments. A word ending in ``*`` finds
every term that begins so: ``liefer*`` finds "lieferung", "liefern" and "lieferzeit". Two words
find the two in a row, within one clause. An answer has the theme when one of its rules finds a
term and none of its exclusions does.

Pure Python over terms, no database: ``insights.themes`` applies the rules to answers.
"""

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from surveys.terms import STOP_WORDS, WORD, lemma

MIN_PREFIX = 3  # letters before a "*": "li*" would find half the dictionary
MAX_RULES = 100


@dataclass(frozen=True)
class Rule:
    """One or two words; the last one a prefix if it ended in ``*``."""

    words: tuple[str, ...]
    prefix: bool

    def finds(self, terms: "Terms") -> bool:
        """Whether the rule finds one of a comment's terms."""
        if not self.prefix:
            return " ".join(self.words) in terms.all
        # Sorted terms: those beginning with the prefix follow it at once.
        sought = " ".join(self.words)
        ordered = terms.bigrams if len(self.words) == 2 else terms.words
        found = bisect_left(ordered, sought)
        return found < len(ordered) and ordered[found].startswith(sought)


@dataclass(frozen=True)
class Terms:
    """A comment's terms, ready for the rules: all of them, and its words and its two-word
    phrases each sorted."""

    all: frozenset[str]
    words: list[str]
    bigrams: list[str]

    @classmethod
    def of(cls, terms: Iterable[str]) -> "Terms":
        found = frozenset(terms)
        return cls(
            all=found,
            words=sorted(term for term in found if " " not in term),
            bigrams=sorted(term for term in found if " " in term),
        )


@dataclass(frozen=True)
class Rules:
    """A theme's rules and exclusions, for comments in one language."""

    include: tuple[Rule, ...]
    exclude: tuple[Rule, ...]

    def match(self, terms: Iterable[str] | Terms) -> bool:
        """Whether a comment with these terms has the theme."""
        prepared = terms if isinstance(terms, Terms) else Terms.of(terms)
        return any(rule.finds(prepared) for rule in self.include) and not any(
            rule.finds(prepared) for rule in self.exclude
        )


def entries(text: str) -> list[str]:
    """The rules as written, one per comma or line, without blanks."""
    return [entry.strip() for line in text.splitlines() for entry in line.split(",") if entry.strip()]


def validate_rules(text: str) -> None:
    """Refuse rules that cannot work, saying which and why: more than two words, a ``*`` inside
    a rule or after too few letters, no letters at all, too many rules."""
    problems = []
    written = entries(text)
    if len(written) > MAX_RULES:
        problems.append(_("At most %(count)d rules, please.") % {"count": MAX_RULES})
    for entry in written:
        words = WORD.findall(entry)
        if not words:
            problems.append(_("“%(rule)s” has no letters.") % {"rule": entry})
        elif len(words) > 2:
            problems.append(_("“%(rule)s” has more than two words.") % {"rule": entry})
        elif "*" in entry.rstrip("*") or entry.count("*") > 1:
            problems.append(_("“%(rule)s”: a * may only end a rule.") % {"rule": entry})
        elif entry.endswith("*") and len(words[-1]) < MIN_PREFIX:
            problems.append(
                _("“%(rule)s”: write at least %(count)d letters before the *.")
                % {"rule": entry, "count": MIN_PREFIX}
            )
        elif common := [word for word in words if _is_stop_word(word)]:
            problems.append(
                _("“%(rule)s”: “%(word)s” is too common a word to be counted; leave it out.")
                % {"rule": entry, "word": common[0]}
            )
    if problems:
        raise ValidationError(problems)


def _is_stop_word(word: str) -> bool:
    """Whether comments never keep the word as a term, in German or English."""
    return any(word.casefold() in STOP_WORDS[language] for language in STOP_WORDS)


def compile_rules(include: str, exclude: str, language: str) -> Rules:
    """The rules for comments in ``language`` (de or en): words as the comments' lemmas, prefixes
    as written (lower-cased)."""
    return Rules(
        include=tuple(_rule(entry, language) for entry in entries(include)),
        exclude=tuple(_rule(entry, language) for entry in entries(exclude)),
    )


def _rule(entry: str, language: str) -> Rule:
    prefix = entry.endswith("*")
    words = WORD.findall(entry)
    lemmas = [lemma(word, language) for word in words]
    if prefix:  # a prefix is no word to lemmatise: "liefer" is not "liefern"
        lemmas[-1] = words[-1].casefold()
    return Rule(words=tuple(lemmas), prefix=prefix)
