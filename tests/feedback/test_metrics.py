"""The metric math against hand-computed cases and its invariants over random histograms.

Pure arithmetic: no database. Expected figures are worked out in the comments (or, for CES, from
the expanded list of scores with the ``statistics`` module), not by calling the code under test.
"""

import statistics
from fractions import Fraction
from math import sqrt

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from feedback.metrics import compare, summarise, t_quantile
from surveys.scales import SCALES


def approx(value):
    return pytest.approx(value, abs=1e-9)


def scores(histogram: dict[int, int]) -> list[int]:
    """The individual answers behind a histogram, for an independent calculation."""
    return [score for score, count in histogram.items() for _ in range(count)]


# NPS ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("histogram", "counts", "value", "interval"),
    [
        # 50 promoters, 30 passives, 20 detractors: NPS 100 × 30/100 = 30.
        # n' = 103, p' = 50.75/103, d' = 20.75/103, a = 30/103 = 0.2912621…,
        # var = 71.5/103 − (30/103)² = 0.6093411…, se = √(var/103) = 0.0769153…,
        # 100 × (a ± 1.96 se) = [14.0508532, 44.2015740].
        (
            {10: 25, 9: 25, 8: 15, 7: 15, 6: 10, 0: 10},
            {"detractor": 20, "passive": 30, "promoter": 50},
            30.0,
            (14.050853165476089, 44.20157401898993),
        ),
        # One promoter: n' = 4, p' = 1.75/4, d' = 0.75/4, a = 0.25, var = 0.625 − 0.0625 = 0.5625,
        # se = √(0.5625/4) = 0.375, 100 × (0.25 ± 0.735) = [−48.5, 98.5]: the interval misses the
        # plain NPS of 100, which the adjusted-Wald interval allows at n = 1.
        ({10: 1}, {"detractor": 0, "passive": 0, "promoter": 1}, 100.0, (-48.5, 98.5)),
        # One passive: a = 0, var = 0.375, se = √0.09375 = 0.3061862…, ± 60.0124987.
        ({7: 1}, {"detractor": 0, "passive": 1, "promoter": 0}, 0.0, (-60.01249869818786, 60.01249869818786)),
        # Forty promoters: n' = 43, a = 40/43, var = 41.5/43 − (40/43)² = 0.0997837…,
        # se = 0.0481727…, 100 × (a − 1.96 se) = 83.5815259; the upper 102.46… is clipped to 100.
        ({9: 40}, {"detractor": 0, "passive": 0, "promoter": 40}, 100.0, (83.58152589560793, 100.0)),
    ],
)
def test_nps_is_promoters_minus_detractors_with_the_adjusted_wald_interval(
    histogram, counts, value, interval
):
    summary = summarise("nps", histogram)

    assert summary.n == sum(counts.values())
    assert dict(summary.categories) == counts
    assert (summary.promoters, summary.passives, summary.detractors) == (
        counts["promoter"],
        counts["passive"],
        counts["detractor"],
    )
    assert summary.value == value
    assert summary.interval == approx(interval)
    assert summary.small_sample == (summary.n < 30)


def test_nps_is_the_exact_float_of_the_counts():
    assert summarise("nps", {9: 1, 7: 2}).value == 100 / 3
    assert summarise("nps", {10: 3, 8: 2, 0: 2}).value == 100 / 7


def test_categories_follow_the_scale_from_its_lowest_end():
    assert [code for code, _ in summarise("nps", {}).categories] == ["detractor", "passive", "promoter"]
    assert [code for code, _ in summarise("csat", {}).categories] == ["dissatisfied", "neutral", "satisfied"]
    assert [code for code, _ in summarise("ces", {}).categories] == ["difficult", "neutral", "easy"]


# CSAT -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("histogram", "value", "interval"),
    [
        # 8 of 10: p = 0.8, z² = 3.8416, denominator 1 + z²/n = 1.38416,
        # centre (0.8 + 0.19208)/1.38416 = 0.7167957…, half 1.96 √(0.016 + 0.009604)/1.38416 = 0.2265116…
        ({5: 5, 4: 3, 3: 1, 1: 1}, 80.0, (49.01568467207234, 94.33190520193067)),
        # 0 of 5: centre = half = (z²/10)/(1 + z²/5) = 0.2172457…; the interval starts at exactly 0.
        ({3: 2, 2: 2, 1: 1}, 0.0, (0.0, 43.44914947520811)),
        # 5 of 5: the mirror image, ending at 100.
        ({5: 3, 4: 2}, 100.0, (56.55085052479189, 100.0)),
    ],
)
def test_csat_is_the_top_two_box_share_with_the_wilson_interval(histogram, value, interval):
    summary = summarise("csat", histogram)

    assert summary.value == value
    assert summary.interval == approx(interval)
    assert summary.satisfied == sum(count for score, count in histogram.items() if score >= 4)
    assert summary.mean == approx(statistics.mean(scores(histogram)))


def test_csat_shows_the_mean_score_beside_the_share():
    summary = summarise("csat", {5: 5, 4: 3, 3: 1, 1: 1})

    assert summary.mean == approx(4.1)  # (25 + 12 + 3 + 1) / 10
    assert (summary.satisfied, summary.neutral, summary.dissatisfied) == (8, 1, 1)


# CES ------------------------------------------------------------------------------------------


def test_ces_is_the_mean_score_with_a_t_interval():
    histogram = {2: 1, 4: 2, 5: 3, 6: 3, 7: 1}
    answers = scores(histogram)  # mean 5, sample standard deviation √2
    t_9 = 2.262157162798205  # 97.5 % quantile of t with 9 degrees of freedom
    half = t_9 * statistics.stdev(answers) / sqrt(len(answers))

    summary = summarise("ces", histogram)

    assert summary.n == 10
    assert summary.value == summary.mean == approx(statistics.mean(answers))
    assert summary.sd == approx(statistics.stdev(answers))
    assert summary.interval == approx((5 - half, 5 + half))  # [3.9883308, 6.0116692]
    assert (summary.difficult, summary.neutral, summary.easy) == (1, 2, 7)
    assert summary.easy_share == 70.0


def test_a_ces_interval_stays_on_the_scale():
    # Scores 1 and 7: mean 4, sd √18, t₁ = 12.706 → 4 ± 38.1, which the 1–7 scale cuts to [1, 7].
    assert summarise("ces", {1: 1, 7: 1}).interval == (1, 7)


def test_identical_ces_scores_give_a_point_interval():
    assert summarise("ces", {5: 3}).interval == (5.0, 5.0)


def test_a_single_response_has_a_value_but_a_ces_interval_is_undefined():
    ces = summarise("ces", {6: 1})
    assert (ces.n, ces.value, ces.mean, ces.sd, ces.interval) == (1, 6.0, 6.0, None, None)
    assert ces.easy_share == 100.0
    assert ces.small_sample

    csat = summarise("csat", {4: 1})
    assert csat.value == 100.0
    assert csat.interval == approx((20.654329147389293, 100.0))  # Wilson on 1 of 1
    assert summarise("nps", {3: 1}).interval == approx((-98.5, 48.5))


# No data and small samples --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["nps", "csat", "ces"])
@pytest.mark.parametrize("histogram", [{}, {3: 0, 5: 0}])
def test_without_responses_every_figure_is_none_never_zero(kind, histogram):
    summary = summarise(kind, histogram)

    assert summary.n == 0
    assert (summary.value, summary.interval, summary.mean, summary.sd) == (None, None, None, None)
    assert all(count == 0 for _, count in summary.categories)
    assert summary.share(summary.categories[0][0]) is None
    # "No data" is its own state, told by value None; a small sample needs at least one answer.
    assert not summary.small_sample


@pytest.mark.parametrize(("n", "small"), [(1, True), (29, True), (30, False), (1000, False)])
def test_fewer_than_thirty_responses_are_a_small_sample(n, small):
    assert summarise("csat", {4: n}).small_sample is small


def test_a_score_outside_the_scale_or_a_negative_count_is_refused():
    with pytest.raises(ValueError, match="outside"):
        summarise("csat", {0: 1})
    with pytest.raises(ValueError, match="outside"):
        summarise("ces", {8: 1})
    with pytest.raises(ValueError, match="negative"):
        summarise("nps", {9: -1})


def test_a_category_of_another_kind_is_refused():
    with pytest.raises(ValueError, match="csat has no category 'promoter'"):
        _ = summarise("csat", {5: 1}).promoters


# Change between two periods -------------------------------------------------------------------


def test_a_clear_nps_change_is_significant():
    # NPS 40 (550 promoters, 150 detractors of 1000) against 20 (450 and 250 of 1000).
    # n' = 1003; a₁ = 400/1003, var₁ = 701.5/1003 − a₁² = 0.5403524…; a₂ = 200/1003,
    # var₂ = 701.5/1003 − a₂² = 0.6596039…; z = (200/1003) / √((var₁ + var₂)/1003) = 5.7648662.
    change = compare(
        summarise("nps", {10: 550, 8: 300, 3: 150}),
        summarise("nps", {10: 450, 8: 300, 3: 250}),
    )

    assert change.delta == 20.0
    assert change.z == approx(5.764866172669206)
    assert change.significant is True


def test_a_small_nps_change_in_a_small_sample_is_not_significant():
    # NPS 30 (25 promoters, 10 detractors of 50) against 26 (24 and 11): n' = 53,
    # a₁ = 15/53, var₁ = 36.5/53 − a₁²; a₂ = 13/53, var₂ = 36.5/53 − a₂²; z = 0.2469963.
    change = compare(summarise("nps", {9: 25, 7: 15, 0: 10}), summarise("nps", {9: 24, 7: 15, 0: 11}))

    assert change.delta == approx(4.0)
    assert change.z == approx(0.24699634459765658)
    assert change.significant is False


@pytest.mark.parametrize(
    ("current", "previous", "z", "significant"),
    [
        # 80 % against 65 % of 100 each: pooled p = 0.725, se = √(0.725 × 0.275 × 0.02) = 0.0631466…,
        # z = 0.15 / se = 2.3754227.
        ({5: 80, 2: 20}, {4: 65, 3: 35}, 2.3754227473946875, True),
        # 80 % against 75 %: pooled p = 0.775, se = 0.0590551…, z = 0.05 / se = 0.8466675.
        ({5: 80, 2: 20}, {4: 75, 3: 25}, 0.8466675133346033, False),
        # Everyone satisfied in both periods: no variation, no change.
        ({5: 10}, {4: 7}, 0.0, False),
    ],
)
def test_csat_changes_take_the_pooled_two_proportion_z_test(current, previous, z, significant):
    change = compare(summarise("csat", current), summarise("csat", previous))

    assert change.z == approx(z)
    assert change.significant is significant


def welch(current: dict[int, int], previous: dict[int, int]) -> float:
    """Welch's t from the answers themselves, the textbook way."""
    one, two = scores(current), scores(previous)
    se = sqrt(statistics.variance(one) / len(one) + statistics.variance(two) / len(two))
    return (statistics.mean(one) - statistics.mean(two)) / se


@pytest.mark.parametrize(
    ("current", "previous", "significant"),
    [
        # Means 6.2 and 4.0 of 5 and 60 answers: t = 15.8, far beyond any critical value.
        ({6: 30, 7: 20, 5: 10}, {4: 30, 5: 20, 3: 10}, True),
        # Means 5.69 and 5.19 of 16 each: t = 1.075 < t(0.975, df 27.09) = 2.05.
        ({5: 6, 6: 5, 7: 4, 3: 1}, {5: 6, 6: 4, 7: 3, 2: 2, 4: 1}, False),
        # Means 6.2 and 4.0 of 5 and 4 answers: t = 2.994 > t(0.975, df 3.482) = 2.947. (With the df
        # rounded down to 3 the critical value would be 3.182 and the change would not count.)
        ({6: 4, 7: 1}, {4: 1, 5: 2, 2: 1}, True),
        # t = 2.196 exceeds 1.96, yet with df 3.609 the critical value is 2.899: not significant.
        ({6: 4, 7: 1}, {5: 2, 6: 1, 3: 1}, False),
    ],
)
def test_ces_changes_take_welchs_t_test(current, previous, significant):
    change = compare(summarise("ces", current), summarise("ces", previous))

    assert change.delta == approx(statistics.mean(scores(current)) - statistics.mean(scores(previous)))
    assert change.z == approx(welch(current, previous))
    assert change.significant is significant


def test_a_ces_change_needs_two_answers_a_period_for_a_test():
    change = compare(summarise("ces", {7: 1}), summarise("ces", {3: 5, 4: 5}))

    assert change.delta == 3.5
    assert (change.z, change.significant) == (None, None)


def test_two_constant_ces_periods_are_no_change_or_leave_the_test_undefined():
    same = compare(summarise("ces", {6: 4}), summarise("ces", {6: 9}))
    assert (same.delta, same.z, same.significant) == (0.0, 0.0, False)

    different = compare(summarise("ces", {7: 4}), summarise("ces", {6: 9}))
    assert (different.delta, different.z, different.significant) == (1.0, None, None)


@pytest.mark.parametrize("kind", ["nps", "csat", "ces"])
def test_without_responses_in_either_period_there_is_no_change(kind):
    some = summarise(kind, {4: 20, 5: 20})
    empty = summarise(kind, {})

    for change in (compare(some, empty), compare(empty, some), compare(empty, empty)):
        assert (change.delta, change.z, change.significant) == (None, None, None)


def test_only_the_same_kind_can_be_compared():
    with pytest.raises(ValueError, match="cannot compare"):
        compare(summarise("csat", {5: 1}), summarise("ces", {5: 1}))


# Student's t quantile -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("df", "quantile"),
    [
        (1, 12.7062),
        (2, 4.3027),
        (5, 2.5706),
        (10, 2.2281),
        (30, 2.0423),
        (100, 1.9840),
        (float("inf"), 1.95996),
        # Fractional degrees of freedom, as Welch's test produces (reference values to 1e-10).
        (1.5, 6.0166631044),
        (2.5, 3.5746548420),
        (4.5, 2.6589123472),
        (7.3, 2.3450667365),
    ],
)
def test_t_quantile_matches_the_tables(df, quantile):
    assert t_quantile(0.975, df) == pytest.approx(quantile, abs=1e-4)


def test_t_quantile_is_exact_where_hills_approximation_is_weakest():
    assert t_quantile(0.975, 1) == pytest.approx(12.706204736174694, abs=1e-10)
    assert t_quantile(0.975, 1.5) == pytest.approx(6.016663104427929, abs=1e-10)
    assert t_quantile(0.995, 3) == pytest.approx(5.840909309733355, abs=1e-10)
    assert t_quantile(0.9, 1) == pytest.approx(3.0776835371752544, abs=1e-10)


def test_t_quantile_is_symmetric_about_the_median():
    assert t_quantile(0.025, 7) == -t_quantile(0.975, 7)
    assert t_quantile(0.5, 3) == 0.0


@pytest.mark.parametrize(("q", "df"), [(0, 5), (1, 5), (0.975, 0.5)])
def test_t_quantile_refuses_what_it_cannot_compute(q, df):
    with pytest.raises(ValueError, match="t_quantile needs"):
        t_quantile(q, df)


# Invariants over random histograms ------------------------------------------------------------


def histograms(kind: str, max_count: int = 400) -> st.SearchStrategy[dict[int, int]]:
    scale = SCALES[kind]
    return st.dictionaries(st.integers(scale.low, scale.high), st.integers(0, max_count))


any_kind = st.sampled_from(sorted(SCALES)).flatmap(lambda kind: st.tuples(st.just(kind), histograms(kind)))


@given(histograms("nps"))
def test_nps_stays_in_range_and_its_interval_is_ordered(histogram):
    summary = summarise("nps", histogram)
    assume(summary.n)
    promoters, detractors = summary.promoters, summary.detractors

    assert summary.value == float(Fraction(100 * (promoters - detractors), summary.n))
    assert -100 <= summary.value <= 100
    lo, hi = summary.interval
    assert -100 <= lo <= hi <= 100


@given(histograms("nps").filter(lambda histogram: sum(histogram.values()) >= 2))
def test_from_two_responses_on_the_nps_interval_contains_the_plain_nps(histogram):
    """It does for every n ≥ 2, though it is centred on the shrunken a, not on the plain NPS.

    The gap |NPS/100 − a| = 3|w| / (n(n+3)) with w = promoters − detractors; with u = promoters +
    detractors ≥ |w|, (1.96 se)² ≥ gap² reduces to 3.8416 n² ((|w| + 1.5)(n + 3) − w²) ≥ 9 w² (n + 3),
    concave in |w|, so only |w| = 0 or n matter: the latter needs 8.29 n ≥ 9.71, i.e. n ≥ 2.
    At n = 1 a lone promoter or detractor falls outside (see the hand-computed cases).
    """
    summary = summarise("nps", histogram)
    lo, hi = summary.interval

    assert lo <= summary.value <= hi


@given(histograms("csat"))
def test_csat_and_its_wilson_interval_stay_within_0_and_100(histogram):
    summary = summarise("csat", histogram)
    assume(summary.n)
    lo, hi = summary.interval

    assert 0 <= summary.value <= 100
    assert 1 <= summary.mean <= 5
    assert 0 <= lo <= hi <= 100
    assert lo <= summary.value <= hi


@given(st.integers(0, 1000), st.integers(0, 1000))
def test_the_wilson_interval_of_the_other_share_is_its_mirror_image(satisfied, others):
    assume(satisfied + others)
    lo, hi = summarise("csat", {5: satisfied, 1: others}).interval
    mirrored = summarise("csat", {5: others, 1: satisfied}).interval

    assert mirrored == approx((100 - hi, 100 - lo))


@given(histograms("ces", max_count=40))
def test_ces_mean_and_spread_match_the_answers_and_stay_on_the_scale(histogram):
    summary = summarise("ces", histogram)
    answers = scores(histogram)
    assume(len(answers) >= 2)

    assert summary.mean == approx(statistics.mean(answers))
    assert summary.sd == approx(statistics.stdev(answers))
    assert 1 <= summary.value <= 7
    assert 0 <= summary.easy_share <= 100
    lo, hi = summary.interval
    assert 1 <= lo <= summary.value <= hi <= 7


@given(any_kind)
def test_the_categories_add_up_to_n(kind_and_histogram):
    kind, histogram = kind_and_histogram
    summary = summarise(kind, histogram)

    assert sum(count for _, count in summary.categories) == summary.n == sum(histogram.values())


@given(any_kind)
def test_four_times_the_answers_never_widen_the_interval(kind_and_histogram):
    kind, histogram = kind_and_histogram
    once = summarise(kind, histogram)
    four_times = summarise(kind, {score: 4 * count for score, count in histogram.items()})
    assume(once.interval)

    assert four_times.interval[1] - four_times.interval[0] <= once.interval[1] - once.interval[0]


@given(any_kind)
def test_a_period_compared_with_itself_is_never_a_significant_change(kind_and_histogram):
    kind, histogram = kind_and_histogram
    summary = summarise(kind, histogram)

    change = compare(summary, summary)

    assert change.significant is not True
    if summary.n:
        assert change.delta == 0


@given(histograms("nps"), histograms("nps"))
def test_swapping_the_periods_turns_the_nps_change_around(first, second):
    one, two = summarise("nps", first), summarise("nps", second)
    assume(one.n and two.n)
    forward, backward = compare(one, two), compare(two, one)

    assert forward.z == -backward.z
    assert forward.significant is backward.significant


@given(st.floats(min_value=1, max_value=1e6))
def test_t_quantile_falls_with_the_degrees_of_freedom_towards_the_normal(df):
    assert t_quantile(0.975, df) >= t_quantile(0.975, df * 1.5) >= t_quantile(0.975, float("inf"))
