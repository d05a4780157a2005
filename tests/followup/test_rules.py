"""Whether an answer meets a rule's conditions: pure, no database."""

import pytest

from followup.rules import Conditions, mentions, properties_problem, stems, word_lines
from surveys.models import Response


def answer(
    score: int = 3, *, kind: str = "nps", comment: str = "", language: str = "de", **fields
) -> Response:
    return Response(kind=kind, score=score, comment=comment, language=language, **fields)


@pytest.mark.parametrize(
    ("words", "comment", "language", "found"),
    [
        ("Lieferung", "Die Lieferungen kamen zu spät", "de", True),
        ("lieferung", "LIEFERUNG beschädigt", "de", True),
        ("Rückerstattung", "Ich warte auf die Rueckerstattung", "de", True),
        ("Rückerstattung", "Ich warte auf die Ruckerstattung", "de", True),
        ("Straße", "Falsche Strasse angefahren", "de", True),
        ("unfreundlich", "Der Fahrer war sehr unfreundlichen Tons", "de", True),
        ("Lieferung", "Alles bestens", "de", False),
        ("refund", "I was refunded too late", "en", True),
        ("refund", "Still waiting for my refunds", "en", True),
        ("delivery", "Both deliveries were late", "en", True),
        ("delivery", "Great service", "en", False),
        # Phrases: the same stems, one after the other.
        ("zu spät", "Die Lieferung kam viel zu spät an", "de", True),
        ("zu spät", "Spät, aber zu freundlich", "de", False),
        ("late delivery", "Two late deliveries in a row", "en", True),
        ("late delivery", "The delivery was late", "en", False),
        # Any line matches.
        ("refund\nrude", "The driver was rude", "en", True),
        ("", "Anything at all", "en", False),
    ],
)
def test_words_match_their_inflections_in_the_comments_language(words, comment, language, found):
    assert mentions(comment, word_lines(words), language) is found


def test_a_word_a_stemmer_cannot_relate_is_missed_not_guessed():
    assert not mentions("Es wurde nie geliefert", ("Lieferung",), "de")


def test_stems_ignore_punctuation_and_case():
    assert stems("Refunds, REFUNDED!", "en") == ("refund", "refund")


@pytest.mark.parametrize(
    ("conditions", "response", "previous", "fires"),
    [
        (Conditions(), answer(10), None, True),
        (Conditions(categories=frozenset({"detractor"})), answer(6), None, True),
        (Conditions(categories=frozenset({"detractor"})), answer(7), None, False),
        (Conditions(categories=frozenset({"dissatisfied"})), answer(2, kind="csat"), None, True),
        (Conditions(score_max=2), answer(2, kind="csat"), None, True),
        (Conditions(score_max=2), answer(3, kind="csat"), None, False),
        (Conditions(score_min=4, score_max=5), answer(3, kind="csat"), None, False),
        # A drop against the customer's previous answer.
        (Conditions(score_drop=3), answer(6), 9, True),
        (Conditions(score_drop=3), answer(7), 9, False),
        (Conditions(score_drop=3), answer(2), None, False),
        (Conditions(score_drop=1), answer(9), 6, False),
        (Conditions(touchpoints=frozenset({5})), answer(3, touchpoint_id=5), None, True),
        (Conditions(touchpoints=frozenset({5})), answer(3, touchpoint_id=6), None, False),
        (Conditions(touchpoints=frozenset({5})), answer(3), None, False),
    ],
)
def test_an_answer_fires_only_when_it_meets_every_condition(conditions, response, previous, fires):
    assert conditions.match(response, previous_score=previous) is fires


@pytest.mark.parametrize(
    ("event", "contact", "fires"),
    [
        ({"region": "Nord"}, {}, True),
        ({}, {"region": "Süd"}, True),
        ({"region": "West"}, {"region": "Nord"}, False),  # the event's value wins, as in dashboards
        ({}, {}, False),
        ({"region": 7}, {}, False),  # numbers form no group
    ],
)
def test_properties_match_the_value_the_dashboards_count(event, contact, fires):
    conditions = Conditions(properties=(("region", frozenset({"Nord", "Süd"})),))
    response = answer(3, event_properties=event, contact_properties=contact)
    assert conditions.match(response, previous_score=None) is fires


def test_words_and_score_together_need_both():
    conditions = Conditions(score_max=6, words=("Lieferung",))
    assert conditions.match(answer(3, comment="Lieferung kaputt"), previous_score=None)
    assert not conditions.match(answer(9, comment="Lieferung super"), previous_score=None)
    assert not conditions.match(answer(3, comment="Preis zu hoch"), previous_score=None)


@pytest.mark.parametrize(
    ("properties", "problem"),
    [
        ({"region": ["Nord"]}, False),
        ({}, False),
        ([], True),
        ({"region": "Nord"}, True),
        ({"region": []}, True),
        ({"region__contains": ["x"]}, True),
        ({"isnull": ["x"]}, True),
    ],
)
def test_properties_are_checked_where_the_rule_is_set_up(properties, problem):
    assert (properties_problem(properties) is not None) is problem
