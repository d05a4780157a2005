"""The terms of a comment: lemmas in its language, which the verbatim search matches, and the
terms by which groups of answers are compared."""

import pytest

from surveys.terms import STOP_WORDS, comment_ngrams, comment_terms, lemma


@pytest.mark.parametrize(
    ("words", "language"),
    [
        (["Lieferung", "Lieferungen", "lieferungen", "LIEFERUNGEN"], "de"),
        (["liefern", "geliefert", "Geliefert", "lieferte", "liefert"], "de"),
        (["spät", "später", "Spät"], "de"),
        (["Paket", "Pakete", "Paketen"], "de"),
        (["delivery", "deliveries", "Deliveries", "DELIVERY"], "en"),
        (["deliver", "delivered", "delivering", "delivers"], "en"),
        (["late", "later"], "en"),
    ],
)
def test_the_forms_of_a_word_share_one_lemma(words, language):
    assert len({lemma(word, language) for word in words}) == 1


@pytest.mark.parametrize(
    ("verb", "noun", "language"),
    [("geliefert", "Lieferung", "de"), ("liefern", "Lieferung", "de"), ("delivered", "delivery", "en")],
)
def test_a_verb_and_its_noun_stay_apart(verb, noun, language):
    """Lemmas join inflections, not derivations: the search says so rather than pretend."""
    assert lemma(verb, language) != lemma(noun, language)


def test_terms_are_the_distinct_case_folded_lemmas_sorted_between_spaces():
    terms = comment_terms("Die Lieferungen kamen zu spät, die LIEFERUNG fehlt.", "de")
    assert terms == " der fehlen kommen lieferung spät zu "
    assert comment_terms("Both deliveries were late", "en") == " be both delivery late "


def test_a_comment_is_read_in_its_own_language():
    assert lemma("was", "en") == "be"
    assert lemma("was", "de") == "was"


def test_letters_and_digits_make_words_and_everything_else_separates():
    assert comment_terms("E-Mail kam 2x; foo_bar <b>!</b>", "de") == " 2x b bar e foo kommen mail "
    assert comment_terms("", "de") == ""
    assert comment_terms("!!! …", "en") == ""


def test_umlauts_and_sharp_s_are_kept_and_case_folded():
    assert comment_terms("ÜBER Straße", "de") == " strasse über "


# comment_ngrams: the terms that tell groups of answers apart


@pytest.mark.parametrize(
    ("comments", "language", "term"),
    [
        (["Lieferung", "Lieferungen", "LIEFERUNGEN", "lieferungen"], "de", "lieferung"),
        (["Paket", "Pakete", "Paketen"], "de", "paket"),
        (["delivery", "deliveries", "Deliveries", "DELIVERY"], "en", "delivery"),
    ],
)
def test_the_inflections_of_a_word_are_one_term(comments, language, term):
    assert [comment_ngrams(comment, language) for comment in comments] == [[term]] * len(comments)


def test_stop_words_are_dropped_and_the_words_around_them_make_bigrams():
    assert comment_ngrams("Die Lieferung kam leider viel zu spät", "de") == [
        "kommen",
        "kommen leider",
        "leider",
        "leider spät",
        "lieferung",
        "lieferung kommen",
        "spät",
    ]
    assert comment_ngrams("The delivery was very late", "en") == ["delivery", "delivery late", "late"]


def test_a_word_is_a_stop_word_by_its_lemma_too():
    """ "wurde" is not on the Snowball list; its lemma "werden" is."""
    assert comment_ngrams("Die Bestellung wurde storniert", "de") == [
        "bestellung",
        "bestellung stornieren",
        "stornieren",
    ]


def test_each_term_counts_once_per_comment():
    assert comment_ngrams("Super Service. Super Service!", "de") == ["service", "super", "super service"]


@pytest.mark.parametrize(
    "separator", [", ", ". ", "! ", "? ", "; ", ": ", " – ", " - ", "\n", " (", ") ", " … ", " 👍 "]
)
def test_a_bigram_does_not_cross_the_end_of_a_clause(separator):
    assert comment_ngrams(f"Paket kam{separator}Fahrer freundlich", "de") == [
        "fahrer",
        "fahrer freundlich",
        "freundlich",
        "kommen",
        "paket",
        "paket kommen",
    ]


@pytest.mark.parametrize("joiner", [" ", "/", " & ", ' "', "  "])
def test_words_joined_by_spaces_slashes_or_quotes_make_a_bigram(joiner):
    assert "preis leistung" in comment_ngrams(f"Preis{joiner}Leistung", "de")


@pytest.mark.parametrize(
    ("comment", "language", "terms"),
    [
        ("Das war nicht gut", "de", ["gut", "nicht", "nicht gut"]),
        ("Der Service war nicht so gut", "de", ["gut", "nicht", "nicht gut", "service", "service nicht"]),
        ("Keine Rückmeldung erhalten", "de",
         ["erhalten", "kein", "kein rückmeldung", "meldung", "rückmeldung", "rückmeldung erhalten"]),
        ("Nie wieder", "de", ["nie"]),
        ("It was not good", "en", ["good", "not", "not good"]),
        ("No refund", "en", ["no", "no refund", "refund"]),
        ("Never again", "en", ["never"]),
    ],
)  # fmt: skip
def test_negations_are_terms_and_make_bigrams(comment, language, terms):
    assert comment_ngrams(comment, language) == terms


@pytest.mark.parametrize(
    "negated", ["doesn't", "DOESN'T", "doesn’t", "didn't", "won't", "can't", "cannot", "dont", "isnt"]
)
def test_english_negated_auxiliaries_are_read_as_not(negated):
    assert comment_ngrams(f"The app {negated} work", "en") == ["app", "app not", "not", "not work", "work"]


def test_contractions_and_possessives_keep_their_word():
    assert comment_ngrams("It's the customer's fault, we're unhappy", "en") == [
        "customer",
        "customer fault",
        "fault",
        "unhappy",
    ]


def test_the_stop_words_are_snowballs_without_negations():
    assert {"der", "und", "dass", "sein"} <= STOP_WORDS["de"]  # "daß" is case-folded as the words are
    assert {"the", "and", "it's", "be"} <= STOP_WORDS["en"]
    assert not {"nicht", "kein", "keine", "nichts", "ohne"} & STOP_WORDS["de"]
    assert not {"not", "no", "nor", "cannot", "don't", "isn't"} & STOP_WORDS["en"]
    assert not {"gut", "schlecht", "good", "bad", "never", "nie"} & (STOP_WORDS["de"] | STOP_WORDS["en"])


def test_an_email_address_never_becomes_a_term():
    terms = comment_ngrams("Bitte an anna.schmidt@example.com antworten", "de")
    assert terms == ["antworten", "bitte"]  # nor a bigram across it


def test_links_never_become_terms():
    comment = (
        "Anleitung unter https://www.example.de/konto?id=5 oder www.shop-example.com/hilfe oder beispiel.org"
    )
    assert comment_ngrams(comment, "de") == ["anleitung"]


@pytest.mark.parametrize(
    "phone",
    [
        "+49 30 1234567",
        "0171/1234567",
        "(030) 123 45 67",
        "030-1234567",
        "+44 20 7946 0958",
        "0049 (0)89 12 34",
    ],
)
def test_phone_numbers_never_become_terms_nor_join_a_bigram(phone):
    assert comment_ngrams(f"Bitte Rückruf {phone} heute", "de") == [
        "bitte",
        "bitte rückruf",
        "heute",
        "rückruf",
    ]


def test_tokens_with_digits_never_become_terms():
    comment = "Bestellung A-12345 kam 2x am 12.03.2024 für 19,99 € an, Artikel X5"
    assert comment_ngrams(comment, "de") == ["artikel", "bestellung", "kommen"]


@pytest.mark.parametrize(
    ("comment", "language", "terms"),
    [
        ("Frau Schmidt war hilfsbereit", "de", ["hilfsbereit"]),
        ("Fr. Schmidt war hilfsbereit", "de", ["hilfsbereit"]),
        ("Herr Dr. Müller-Lüdenscheidt war hilfsbereit", "de", ["hilfsbereit"]),
        ("Hr Meier war hilfsbereit", "de", ["hilfsbereit"]),
        ("Herrn Prof. von Weber fand ich hilfsbereit", "de", ["finden", "finden hilfsbereit", "hilfsbereit"]),
        ("Vielen Dank an Frau Anna Schmidt", "de", ["dank"]),
        ("Mr Smith was helpful", "en", ["helpful"]),
        ("Mrs. Jones was helpful", "en", ["helpful"]),
        ("Ms O'Brien was helpful", "en", ["helpful"]),
        ("Miss Taylor was helpful", "en", ["helpful"]),
        ("Mx Lee was helpful", "en", ["helpful"]),
        ("Dr Patel was helpful", "en", ["helpful"]),
    ],
)
def test_names_after_honorifics_and_titles_are_masked(comment, language, terms):
    assert comment_ngrams(comment, language) == terms


@pytest.mark.parametrize(
    ("comment", "language", "terms"),
    [
        ("Hallo Anna, die Lieferung war pünktlich", "de", ["lieferung", "lieferung pünktlich", "pünktlich"]),
        ("Hallo Anna\ndie Lieferung war pünktlich", "de", ["lieferung", "lieferung pünktlich", "pünktlich"]),
        ("Liebe Frau Schmidt, danke für die Hilfe", "de", ["danken", "danken hilfe", "hilfe"]),
        ("Sehr geehrte Damen und Herren, die Lieferung war pünktlich", "de",
         ["lieferung", "lieferung pünktlich", "pünktlich"]),
        ("Hi Tom the app keeps crashing", "en", ["app", "app keep", "crash", "keep", "keep crash"]),
        ("Dear John, great service", "en", ["great", "great service", "service"]),
    ],
)  # fmt: skip
def test_greetings_and_the_names_they_address_are_masked(comment, language, terms):
    assert comment_ngrams(comment, language) == terms


@pytest.mark.parametrize(
    ("sign_off", "language", "kept"),
    [
        ("Grüße, Anna", "de", []),
        ("Viele Grüße\nPeter Müller", "de", []),
        ("VG Peter", "de", []),
        ("LG", "de", []),
        ("Mit freundlichen Grüßen\nA. Schmidt", "de", []),
        ("Danke, Jo!", "de", ["dank"]),
        ("Best regards, Tom", "en", []),
        ("Kind regards,\nSam O'Neill", "en", []),
        ("Cheers, Sam", "en", ["cheer"]),
        ("Thanks, Jo", "en", ["thanks"]),
    ],
)
def test_sign_offs_and_their_names_are_masked(sign_off, language, kept):
    feedback = {"de": "Alles pünktlich.", "en": "All on time."}[language]
    expected = {"de": ["pünktlich"], "en": ["time"]}[language]
    assert comment_ngrams(f"{feedback} {sign_off}", language) == sorted(expected + kept)


@pytest.mark.parametrize(
    ("comment", "kept"),
    [
        ("Die Frau an der Kasse war unfreundlich", {"frau", "kasse", "frau kasse"}),
        ("Der Herr am Schalter war nett", {"herr", "schalter"}),
        ("Grüße an den Fahrer, der war nett", {"gruss", "fahrer"}),
        ("Danke an das ganze Team", {"dank", "team"}),
        ("Hallo? Lieferung kam nicht", {"lieferung", "lieferung kommen"}),
        ("Liebe die neue App", {"liebe", "app"}),
    ],
)
def test_ordinary_capitalised_nouns_are_not_taken_for_names(comment, kept):
    assert kept <= set(comment_ngrams(comment, "de"))


def test_markup_and_emoji_give_no_terms_and_end_a_clause():
    assert comment_ngrams("<p>Super <b>Service</b></p> 👍😀 &amp; &nbsp;", "de") == ["service", "super"]


def test_words_of_one_letter_are_dropped():
    assert comment_ngrams("Vitamin C fehlt", "de") == ["fehlen", "vitamin", "vitamin fehlen"]


@pytest.mark.parametrize(
    ("comment", "terms"),
    [
        ("Lieferzeiten", ["lieferzeit", "zeit"]),
        ("Versandkosten", ["kosten", "versandkosten"]),
        ("Kundenservice", ["kundenservice", "service"]),
        ("Rücksendung", ["rücksendung", "sendung"]),
        ("Bestätigungsmail", ["bestätigungsmail", "mail"]),
        ("Überweisung", ["überweisung"]),  # not "über|weisung": a preposition is no first part
        ("Unterstützung", ["unterstützung"]),
        ("Wartezeit", ["wartezeit"]),  # fewer than ten letters
        ("kundenfreundlich", ["kundenfreundlich"]),  # only nouns are split
    ],
)
def test_a_german_compound_noun_also_gives_its_last_part(comment, terms):
    assert comment_ngrams(comment, "de") == terms


def test_the_last_part_of_a_compound_joins_no_bigram():
    assert comment_ngrams("Hohe Versandkosten", "de") == [
        "hoch",
        "hoch versandkosten",
        "kosten",
        "versandkosten",
    ]


@pytest.mark.parametrize(
    ("comment", "language"),
    [("", "de"), ("   ", "en"), ("!!! …", "de"), ("🙂👍", "en"), ("<br/>", "de"), ("1234", "en"),
     ("Der, die, das.", "de"), ("the and of", "en")],
)  # fmt: skip
def test_a_comment_without_terms_gives_none(comment, language):
    assert comment_ngrams(comment, language) == []
