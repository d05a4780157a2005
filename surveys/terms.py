"""The terms of a comment: the lemmas of its words in the comment's own language, German or
English, which the verbatim search matches on any database (``Response.comment_terms``).

A lemma joins the inflections of one word: "Lieferungen" and "Lieferung" are "lieferung";
"geliefert", "lieferte" and "liefern" are "liefern"; "deliveries" and "delivery" are
"delivery"; "delivered", "delivering" and "deliver" are "deliver"; "war" is "sein", "was" is
"be". It never joins a verb to the noun made from it: "geliefert" does not find "Lieferung",
nor "delivered" "delivery". A word the dictionaries do not know stays as it is, lower-cased.

``comment_ngrams`` gives the terms by which answers are compared: the same lemmas without stop
words, with the pairs of them that follow each other, and with names, addresses and numbers
masked.

simplemma (MIT licence) lemmatises from the dictionaries it ships, in pure Python. The
dictionaries are read when a process first needs them, a few seconds; ``load`` does it ahead.
"""

import functools
import itertools
import re
from collections.abc import Iterator

from simplemma import Lemmatizer
from simplemma.strategies import LOW_MEMORY_DICTIONARY_FACTORY, DefaultStrategy, DictionaryLookupStrategy

from surveys import stop_words

# Letters and digits; an underscore separates, as PostgreSQL's parser does.
WORD = re.compile(r"[^\W_]+")
# The memory-frugal dictionaries: some 20 MB in each process for both languages instead of
# 130 MB, for lookups that take twice as long (microseconds, and cached).
_LEMMATIZER = Lemmatizer(lemmatization_strategy=DefaultStrategy(low_memory=True))
# The same dictionaries, asked whether they hold a word as it is spelt.
_LOOKUP = DictionaryLookupStrategy(LOW_MEMORY_DICTIONARY_FACTORY)


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


def comment_fields(comment: str, language: str) -> dict[str, str | list[str]]:
    """The fields a response derives from its comment and language, for every path that writes
    either: its search terms (``comment_terms``) and its terms for insights (``comment_ngrams``)."""
    return {
        "comment_terms": comment_terms(comment, language),
        "comment_ngrams": comment_ngrams(comment, language),
    }


def load() -> None:
    """Read both languages' dictionaries now rather than on the first comment."""
    comment_fields("Lieferungen", "de")
    comment_fields("deliveries", "en")


# The terms of a comment that tell groups of answers apart (``comment_ngrams``).

# Words that turn the meaning of the next one around. The Snowball lists count them as stop
# words; here they stay, so that "nicht gut" and "not good" are phrases of their own. English
# "n't" forms and "cannot" are read as "not".
NEGATIONS = {
    "de": frozenset({"kein", "keine", "keinem", "keinen", "keiner", "keines", "nicht", "nichts", "ohne"}),
    "en": frozenset({"no", "nor", "not", "cannot"}),
}
# "n't" forms typed without their apostrophe; those with one are read as "not" before lemmas.
_ENGLISH_NOT = frozenset({
    "cannot", "cant", "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "werent", "havent", "hasnt",
    "hadnt", "wont", "wouldnt", "shouldnt", "couldnt", "mustnt", "neednt", "aint",
})  # fmt: skip
STOP_WORDS: dict[str, frozenset[str]] = {
    language: frozenset(
        word.casefold() for word in words if word not in NEGATIONS[language] and not word.endswith("n't")
    )
    for language, words in (("de", stop_words.GERMAN.split()), ("en", stop_words.ENGLISH.split()))
}

# Uppercase letters of the Latin alphabets (A–Z, Ä, Ö, Ü, É, Ł, Š …): a name starts with one.
_UPPER = "".join(char for char in map(chr, range(0x41, 0x250)) if char.isupper())
# A name, case-sensitive: "Anna", "Müller-Lüdenscheidt", "O'Brien", an initial "A.".
_NAME = rf"[{_UPPER}](?:[^\W\d_]*(?:['’-][{_UPPER}]?[^\W\d_]+)*|\.)"
_PARTICLE = r"(?:von|vom|van|zu|de|der|den|ten|ter|da|di|del|du|la|le)"
# Honorifics and titles, with or without a dot, chained ("Herr Prof. Dr. Müller").
_HONORIFIC = r"\b(?:Herrn?|Frau|Hr|Fr|Dr|Prof|Mrs?|Ms|Miss|Mx)(?:\.\s*|\s+)"
_HONORIFIC_NAME = re.compile(rf"(?:{_HONORIFIC})+(?:{_PARTICLE}\s+)*{_NAME}(?:[ \t]+{_NAME})?")
# A greeting opening the comment, and the name it addresses ("Hallo Anna", "Dear John,").
_GREETING = re.compile(
    r"\A[\W_]*(?P<greeting>(?i:sehr\s+geehrte[rs]?|liebe[rs]?|hallo|hello|hi|hey|moin|servus|dear"
    r"|guten\s+(?:tag|morgen|abend)|good\s+(?:morning|afternoon|evening))\b"
    r"(?:\s+(?i:damen\s+und\s+herren|ladies\s+and\s+gentlemen)\b)?)"
    rf"(?P<names>(?:[ \t]+(?:{_HONORIFIC})*{_NAME}){{1,2}})?"
)
# A sign-off closing the comment, with or without a name ("Viele Grüße, Anna", "LG", "Best
# regards, Tom"); thanks close a comment with a name only ("Thanks, Jo"), else they are feedback.
_SIGN_OFF = re.compile(
    r"\b(?i:(?:mit\s+)?(?:viele|liebe|beste|freundliche|herzliche|schöne)n?\s+)?"
    r"(?i:gr(?:ü|ue|u)(?:ß|ss)(?:e|en)?|mfg|vg|lg|(?:best|kind|kindest|warm|many)\s+regards|regards"
    r"|best\s+wishes|sincerely|yours\s+(?:sincerely|truly))\b"
    rf"(?:[\s,]+(?:{_HONORIFIC})*{_NAME}(?:[ \t]+{_NAME}){{0,2}})?[\W_]*\Z"
)
_THANKS_NAME = re.compile(
    rf"\b(?i:thanks|thank\s+you|thx|cheers|danke|vielen\s+dank)[\s,.!]+(?P<names>{_NAME}(?:[ \t]+{_NAME})?)"
    r"[\W_]*\Z"
)
# What is not feedback and could say who wrote it, found before the words; each pattern only
# where a character it needs is in the comment, since most comments have none of them.
# Each begins where a run of the characters it is made of begins, so a long run is tried once.
_EMAIL = re.compile(r"(?<![\w.+%-])[\w.+%-]+@[\w-]+(?:\.[\w-]+)+")
_LINK = re.compile(r"(?:https?://|www\.)\S+")
_TLD = r"\.(?:de|com|net|org|eu|ch|io|info|shop|nl|uk|app|online|store|biz)\b"
_HAS_DOMAIN = re.compile(rf"\w{_TLD}")
_DOMAIN = re.compile(rf"(?<![\w.-])[\w-]+(?:\.[\w-]+)*{_TLD}(?:/\S*)?")
_MARKUP = re.compile(r"<[^<>]{0,200}>")
_REFERENCE = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")
_MASKED = ((_EMAIL, "@"), (_LINK, "/"), (_LINK, "www."), (_MARKUP, "<"), (_REFERENCE, "&"))
# A sign-off is looked for in the comment's last characters only.
_SIGN_OFF_LENGTH = 200
# A clause ends at any character that is not a letter, a digit, a space or one of a few that
# join words (apostrophes, hyphens inside a word, slashes, ampersands, quotes): at sentence
# punctuation, commas, semicolons, colons, brackets, dashes, emoji; and at line breaks.
_CLAUSE_BREAK = re.compile(r"[^\w\s'’/&\"„“”‚‘«»-]|[\n\r\v\f\u2028\u2029]|(?<!\w)-|-(?!\w)")
# A word with its inner hyphens and apostrophes ("E-Mail", "don't"); digits make it a masked token.
_TOKEN = re.compile(r"\w+(?:[-'’]\w+)*")
_DIGIT = re.compile(r"\d")
# Longer is no word but a code or keys held down, which the compound split would try at every letter.
_MAX_WORD_LENGTH = 64
# Endings after which a compound's first part always takes a linking "s".
_LINKED_BY_S = ("ung", "heit", "keit", "schaft", "ion", "tät", "tum", "ling")
# Endings that the dictionary also knows as words: "Eindring|ling", "Schiff|chen", "dialekt|isch",
# "Erstreb|ende".
_SUFFIXES = frozenset({
    "chen", "lein", "ling", "linge", "isch", "ische", "ischen", "ende", "enden", "este", "esten", "heit",
    "keit", "haft", "lich",
})  # fmt: skip
_MASK = "\n"


def comment_ngrams(comment: str, language: str) -> list[str]:
    """The terms of a comment for comparing groups of answers, sorted and distinct, in
    ``language`` (de or en): [] for a comment without words, or with stop words only.

    Unigrams are the lemmas (``lemma``) of its words that are neither stop words (``STOP_WORDS``:
    the Snowball lists without negations, compared by a word's case-folded form and by its lemma)
    nor of one letter. Bigrams are two such lemmas that follow each other within one clause once
    the stop words are out, joined by a space: "Die Lieferung kam leider viel zu spät" gives
    "lieferung kommen", "kommen leider" and "leider spät". A clause ends at sentence punctuation,
    a comma, semicolon, colon, dash, bracket, emoji or line break, and where something is masked.

    Masked, so that it is never a term nor joins one: email addresses, links, markup, words with
    digits (order numbers, dates, prices, phone numbers in any format), names after an honorific
    or title ("Frau Schmidt", "Dr. Weber", "Mr Smith"), the greeting that opens a comment and the
    name it addresses ("Hallo Anna,"; in German only when a break follows the name, as
    capitalised nouns are common words), and the sign-off that closes it with its name ("Viele
    Grüße, Anna", "LG", "Best regards, Tom"; "Thanks, Jo" loses only the name).

    A German word of ten letters or more whose lemma splits into two words the dictionary knows,
    each of four letters or more (allowing a linking "s", "es", "n" or "en", or a verb stem such as
    "Liefer-"), also gives the lemma of its last part: "Lieferzeit" gives "lieferzeit" and "zeit".
    """
    terms: set[str] = set()
    for clause in _clauses(_mask(comment, language)):
        lemmas: list[str] = []
        for token in clause:
            for term, head in _token_terms(token, language):
                lemmas.append(term)
                if head:
                    terms.add(head)
        terms.update(lemmas)
        terms.update(f"{first} {second}" for first, second in itertools.pairwise(lemmas))
    return sorted(terms)


def _mask(comment: str, language: str) -> str:
    """The comment with what is masked replaced by line breaks, which end a clause."""
    spans = [
        match.span() for pattern, needs in _MASKED if needs in comment for match in pattern.finditer(comment)
    ]
    if _HAS_DOMAIN.search(comment):
        spans += [match.span() for match in _DOMAIN.finditer(comment)]
    spans += [match.span() for match in _HONORIFIC_NAME.finditer(comment)]
    if greeting := _GREETING.match(comment):
        names_end_clause = _CLAUSE_BREAK.match(comment[greeting.end() :].lstrip(" \t") or "\n")
        if greeting["names"] and (language == "en" or names_end_clause):
            spans.append(greeting.span())
        elif not greeting["greeting"].casefold().startswith("lieb"):  # "Liebe" is also love
            spans.append(greeting.span("greeting"))
    tail = max(0, len(comment) - _SIGN_OFF_LENGTH)
    if sign_off := _SIGN_OFF.search(comment, tail):
        spans.append(sign_off.span())
    if thanks := _THANKS_NAME.search(comment, tail):
        spans.append(thanks.span("names"))
    masked = list(comment)
    for start, end in spans:
        masked[start:end] = [_MASK] * (end - start)  # same length: the other spans stay in place
    return "".join(masked)


def _clauses(text: str) -> Iterator[list[str]]:
    """The tokens of each clause of ``text``; a token with a digit ends its clause too."""
    for part in _CLAUSE_BREAK.split(text):
        if not _DIGIT.search(part):
            yield _TOKEN.findall(part)
            continue
        clause: list[str] = []
        for token in _TOKEN.findall(part):
            if _DIGIT.search(token):
                yield clause
                clause = []
            else:
                clause.append(token)
        yield clause


@functools.lru_cache(maxsize=65536)
def _token_terms(token: str, language: str) -> tuple[tuple[str, str], ...]:
    """The terms of one token, each with the head of its compound or "", stop words left out."""
    terms = []
    for part in token.replace("’", "'").split("_"):
        if not part:
            continue
        if "'" in part:
            folded = part.casefold()
            if language == "en" and folded.endswith("n't"):  # "don't", "isn't", "won't"
                terms.append(("not", ""))
                continue
            if folded in STOP_WORDS[language]:  # "it's", "you're"
                continue
            part = part.split("'")[0]  # "customer's", "geht's"
        words = [part] if "-" not in part or _LOOKUP.get_lemma(part, language) else part.split("-")
        terms.extend(term for word in words if (term := _word_term(word, language)))
    return tuple(terms)


def _word_term(word: str, language: str) -> tuple[str, str] | None:
    """The lemma of a word and the head of its compound (or ""); None for a stop word."""
    stops = STOP_WORDS[language]
    if not 2 <= len(word) <= _MAX_WORD_LENGTH or word.casefold() in stops:
        return None
    term = "not" if language == "en" and word.casefold() in _ENGLISH_NOT else lemma(word, language)
    if len(term) < 2 or term in stops:
        return None
    return term, _compound_head(word, term) if language == "de" else ""


def _compound_head(word: str, term: str) -> str:
    """The lemma of the last part of a German compound noun ("zeit" of "Lieferzeiten"), or ""."""
    whole = _LEMMATIZER.lemmatize(word.lower() if word.isupper() else word, lang="de")
    # Adjectives and verbs are left whole: their parts are mostly prefixes and endings
    # ("hervor|ragend", "empfehlens|wert").
    if len(whole) < 10 or not whole.isalpha() or not whole[0].isupper():
        return ""
    stops = STOP_WORDS["de"]
    for split in range(4, len(whole) - 3):  # the longest head first: "Rück|sendung", not "Rücks|endung"
        left, head = whole[:split].lower(), whole[split:].capitalize()
        if left in stops or head.lower() in _SUFFIXES or not _LOOKUP.is_dictionary_member(head, "de"):
            continue
        if head[0] == "S" and left.endswith(_LINKED_BY_S):  # "Bestätigungs|mail", not "Bestätigung|smail"
            continue
        stems = {left, left + "n", left + "en"}  # "Liefer|zeit": the verb's stem
        stems |= {left[: -len(link)] for link in ("s", "es", "n", "en") if left.endswith(link)}
        if not any(len(stem) >= 4 and stem not in stops and _is_word(stem) for stem in stems):
            continue
        head_term = lemma(head, "de")  # a noun's head is a noun: "Rolle", not the verb "rollen"
        # The head's lemma begins the head (an inflection ends it), else the split is a pun.
        if head_term != term and head_term not in stops and head.casefold().startswith(head_term):
            return head_term
    return ""


def _is_word(stem: str) -> bool:
    """Whether the German dictionary holds the stem as a word, in lower case or capitalised."""
    return _LOOKUP.is_dictionary_member(stem, "de") or _LOOKUP.is_dictionary_member(stem.capitalize(), "de")
