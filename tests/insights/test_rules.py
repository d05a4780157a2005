"""A theme's rules find inflections in German and English, prefixes, phrases, and keep exclusions out."""

import pytest
from django.core.exceptions import ValidationError

from insights.rules import compile_rules, validate_rules
from surveys.terms import comment_ngrams

DELIVERY = "Lieferung*, versand*, paket*, delivery, shipping"


def has_theme(comment: str, language: str, include: str = DELIVERY, exclude: str = "") -> bool:
    return compile_rules(include, exclude, language).match(comment_ngrams(comment, language))


@pytest.mark.parametrize(
    ("comment", "language"),
    [
        ("Die Lieferung kam zu spät", "de"),
        ("Beide Lieferungen fehlten", "de"),
        ("Der Versand dauerte ewig", "de"),
        ("Das Paket war beschädigt", "de"),
        ("Both deliveries were late", "en"),
        ("Shipping took ages", "en"),
    ],
)
def test_prefixes_and_words_find_every_inflection(comment, language):
    assert has_theme(comment, language)


@pytest.mark.parametrize(
    ("comment", "language"),
    [("Die Hotline war freundlich", "de"), ("Great support team", "en"), ("", "de")],
)
def test_comments_without_the_terms_do_not_get_the_theme(comment, language):
    assert not has_theme(comment, language)


def test_a_word_is_matched_as_a_lemma_and_a_prefix_as_written():
    assert has_theme("Die LIEFERUNGEN kamen", "de", include="Lieferungen")
    assert has_theme("Sie lieferten pünktlich", "de", include="liefern")
    assert not has_theme("Sie lieferten pünktlich", "de", include="Lieferung")  # a noun is no verb
    assert has_theme("Sie lieferten pünktlich", "de", include="liefer*")


def test_two_words_find_the_phrase_in_one_clause_only():
    assert has_theme("Die Ware war nicht pünktlich", "de", include="nicht pünktlich")
    assert not has_theme("Pünktlich, aber nicht freundlich", "de", include="nicht pünktlich")
    assert has_theme("Nicht pünktlich geliefert", "de", include="nicht pünkt*")


def test_an_exclusion_keeps_the_theme_off():
    assert not has_theme("Die Lieferadresse war falsch", "de", exclude="lieferadresse")
    assert has_theme("Die Lieferung war falsch", "de", exclude="lieferadresse")


def test_rules_written_for_one_language_are_lemmatised_in_the_comments_language():
    assert has_theme("The deliveries were late", "en", include="delivery")
    assert not has_theme("The deliveries were late", "de", include="Lieferung")


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("three words here", "more than two words"),
        ("li*", "at least 3 letters"),
        ("lie*ferung", "may only end a rule"),
        ("!!!", "no letters"),
        ("zu spät", "too common a word"),
    ],
)
def test_rules_that_cannot_work_are_refused_with_the_reason(rules, message):
    with pytest.raises(ValidationError) as refused:
        validate_rules(f"paket, {rules}")
    assert any(message in text for text in refused.value.messages)
    assert all(rules in text for text in refused.value.messages)


def test_sensible_rules_pass():
    validate_rules("liefer*, Versand\nnicht pünktlich,\n\n delivery ")
