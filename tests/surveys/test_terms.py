"""The terms of a comment: lemmas in its language, which the verbatim search matches."""

import pytest

from surveys.terms import comment_terms, lemma


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
