"""Delighted's metrics of each survey kind, computed by hand: whole numbers, halves away from zero."""

from fractions import Fraction

import pytest

from delighted_compat.api.metrics import figures, half_away


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        (Fraction(5, 2), 3),
        (Fraction(-5, 2), -3),
        (Fraction(49, 20), 2),
        (Fraction(251, 100), 3),
        (Fraction(0), 0),
    ],
)
def test_halves_are_rounded_away_from_zero(value, rounded):
    assert half_away(value) == rounded


def test_nps_is_a_whole_number_of_the_exact_counts():
    # 3 promoters, 3 passives, 2 detractors: 12.5 → 13; shares 37.5 → 38, 37.5 → 38, 25.
    assert figures("nps", {10: 2, 9: 1, 8: 2, 7: 1, 6: 1, 0: 1}) == {
        "nps": 13,
        "promoter_count": 3,
        "promoter_percent": 38,
        "passive_count": 3,
        "passive_percent": 38,
        "detractor_count": 2,
        "detractor_percent": 25,
        "response_count": 8,
    }


def test_csat_is_the_satisfied_share():
    # 4 of 8 satisfied (4–5), 1 neutral (12.5 → 13), 3 dissatisfied (37.5 → 38).
    assert figures("csat", {5: 3, 4: 1, 3: 1, 2: 1, 1: 2}) == {
        "csat": 50,
        "satisfied_count": 4,
        "satisfied_percent": 50,
        "neutral_count": 1,
        "neutral_percent": 13,
        "dissatisfied_count": 3,
        "dissatisfied_percent": 38,
        "response_count": 8,
    }


def test_ces_is_the_mean_score_to_one_decimal():
    # (6 + 3 · 5) / 4 = 5.25 → 5.3, where rounding to even would give 5.2.
    shown = figures("ces", {6: 1, 5: 3})
    assert shown["ces"] == 5.3
    assert (shown["easy_count"], shown["easy_percent"], shown["response_count"]) == (4, 100, 4)
    assert (shown["difficult_count"], shown["difficult_percent"]) == (0, 0)


def test_without_answers_there_is_no_score_and_no_share():
    assert figures("nps", {}) == {
        "nps": None,
        "promoter_count": 0,
        "promoter_percent": None,
        "passive_count": 0,
        "passive_percent": None,
        "detractor_count": 0,
        "detractor_percent": None,
        "response_count": 0,
    }
