"""A theme's impact against hand computations (the product brief's definition)."""

from math import sqrt

import pytest

from insights.impact import theme_impact


def wilson(k: int, n: int) -> tuple[float, float]:
    z = 1.96
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return 100 * (centre - half), 100 * (centre + half)


def test_nps_the_themes_detractors_as_passives():
    # 200 answers in the filter; the theme has 30: 12 detractors (scores 0–6), 8 passives, 10 promoters.
    # NPS now: whatever; with the 12 as passives it gains 100 · 12 / 200 = 6 points.
    impact = theme_impact("nps", {0: 2, 3: 4, 6: 6, 7: 3, 8: 5, 9: 4, 10: 6}, 200)
    assert impact.moved == 12
    assert impact.value == pytest.approx(6.0)
    low, high = wilson(12, 200)  # centre 0.06829, half width 0.03364
    assert impact.interval == pytest.approx((low, high))
    assert impact.interval == pytest.approx((3.4652, 10.1933), abs=1e-4)


def test_csat_the_themes_unsatisfied_answers_as_satisfied():
    # 50 answers; the theme's scores 1, 2, 3 (not satisfied: 2 + 3 + 5 = 10) and 4, 5: 10 points.
    impact = theme_impact("csat", {1: 2, 2: 3, 3: 5, 4: 1, 5: 4}, 50)
    assert (impact.moved, impact.value) == (10, pytest.approx(20.0))
    assert impact.interval == pytest.approx(wilson(10, 50))


def test_ces_the_themes_high_effort_answers_as_neutral():
    # 10 answers; the theme: two 1s (gain 3 each), one 3 (gain 1), one 6 (no gain).
    # Mean gain over all 10: (3 + 3 + 1) / 10 = 0.7; gains² mean (9 + 9 + 1) / 10 = 1.9;
    # variance 1.9 − 0.49 = 1.41; half width 1.96 · sqrt(1.41 / 10) = 0.7360.
    impact = theme_impact("ces", {1: 2, 3: 1, 6: 1}, 10)
    assert (impact.moved, impact.value) == (3, pytest.approx(0.7))
    assert impact.interval == pytest.approx((0.0, 0.7 + 1.96 * sqrt(1.41 / 10)))


def test_no_answers_no_impact_and_impossible_counts_are_refused():
    assert theme_impact("nps", {}, 0).value is None
    assert theme_impact("nps", {}, 10).value == 0.0
    with pytest.raises(ValueError):
        theme_impact("nps", {3: 11}, 10)
