"""The log-odds ratio with an informative Dirichlet prior against hand-computed cases, and its invariants.

Pure arithmetic: no database. Expected figures are worked out in the comments from the counts, not
by calling the code under test.
"""

from math import log, sqrt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from insights.logodds import Distinguishing, distinguishing_terms, score_terms


def approx(value):
    return pytest.approx(value, abs=1e-12)


def by_term(scores):
    return {score.term: score for score in scores}


# Comments of 40 detractors (a) and 50 promoters (b), each term counted once per comment.
# n_a = 30 + 12 + 10 + 6 + 2 + 1 = 61, n_b = 5 + 10 + 8 + 25 + 7 = 55. The background is both
# groups, 116 counts in all, fewer than 1,000: α0 = 116 and α_w = y_aw + y_bw.
# So n_a + α0 = 177 and n_b + α0 = 171.
DETRACTORS = {"wait": 30, "rude": 12, "price": 10, "app": 6, "friendly": 2, "sven": 1}
PROMOTERS = {"wait": 5, "price": 10, "app": 8, "friendly": 25, "thanks": 7}

# term: (δ, σ², z), with in_a = y_a + α, out_a = 177 − in_a, in_b = y_b + α, out_b = 171 − in_b,
# δ = log(in_a / out_a) − log(in_b / out_b) = log(in_a · out_b / (out_a · in_b)),
# σ² = 1 / in_a + 1 / in_b, z = δ / σ.
HAND = {
    # α = 35: in_a = 65, out_a = 112, in_b = 40, out_b = 131.
    # δ = log(65 · 131 / (112 · 40)) = log(8515 / 4480) = 0.6422063,
    # σ² = 1/65 + 1/40 = 105/2600 = 0.0403846, z = 0.6422063 / 0.2009593 = 3.1957041.
    "wait": (log(8515 / 4480), 105 / 2600, 3.195704132364697),
    # Only in a. α = 12: in_a = 24, out_a = 153, in_b = 12, out_b = 159.
    # δ = log(24 · 159 / (153 · 12)) = log(3816 / 1836) = 0.7316135,
    # σ² = 1/24 + 1/12 = 1/8, z = 0.7316135 / 0.3535534 = 2.0693154.
    "rude": (log(3816 / 1836), 1 / 8, 2.069315359018537),
    # A name in one comment. α = 1: in_a = 2, out_a = 175, in_b = 1, out_b = 170.
    # δ = log(2 · 170 / 175) = log(340 / 175) = 0.6641596, σ² = 1/2 + 1 = 1.5,
    # z = 0.6641596 / 1.2247449 = 0.5422841.
    "sven": (log(340 / 175), 1.5, 0.5422840782603616),
    # Equal counts. α = 20: in_a = in_b = 30, out_a = 147, out_b = 141.
    # δ = log(141 / 147) = −0.0416727 (group b is smaller, so 10 of its counts weigh more),
    # σ² = 2/30, z = −0.0416727 / 0.2581989 = −0.1613977.
    "price": (log(141 / 147), 2 / 30, -0.16139765915095777),
    # α = 14: in_a = 20, out_a = 157, in_b = 22, out_b = 149.
    # δ = log(20 · 149 / (157 · 22)) = log(2980 / 3454) = −0.1476097,
    # σ² = 1/20 + 1/22 = 42/440, z = −0.1476097 / 0.3089572 = −0.4777674.
    "app": (log(2980 / 3454), 42 / 440, -0.47776741836338404),
    # Only in b. α = 7: in_a = 7, out_a = 170, in_b = 14, out_b = 157.
    # δ = log(7 · 157 / (170 · 14)) = log(1099 / 2380) = −0.7726998,
    # σ² = 1/7 + 1/14 = 3/14, z = −0.7726998 / 0.4629100 = −1.6692224.
    "thanks": (log(1099 / 2380), 3 / 14, -1.669222373659268),
    # α = 27: in_a = 29, out_a = 148, in_b = 52, out_b = 119.
    # δ = log(29 · 119 / (148 · 52)) = log(3451 / 7696) = −0.8020367,
    # σ² = 1/29 + 1/52 = 81/1508, z = −0.8020367 / 0.2317618 = −3.4606078.
    "friendly": (log(3451 / 7696), 81 / 1508, -3.4606078299633065),
}


@pytest.mark.parametrize("term", HAND)
def test_it_computes_delta_variance_and_z_as_worked_out_by_hand(term):
    delta, variance, z = HAND[term]

    score = by_term(score_terms(DETRACTORS, PROMOTERS, min_count=1))[term]

    assert score.delta == approx(delta)
    assert (score.delta / score.z) ** 2 == approx(variance)
    assert score.z == approx(z)
    assert (score.count_a, score.count_b) == (DETRACTORS.get(term, 0), PROMOTERS.get(term, 0))


def test_it_orders_all_terms_from_most_typical_of_a_to_most_typical_of_b():
    scores = score_terms(DETRACTORS, PROMOTERS, min_count=1)

    assert [score.term for score in scores] == ["wait", "rude", "sven", "price", "app", "thanks", "friendly"]


def test_it_leaves_out_terms_counted_fewer_than_min_count_times_in_both_groups():
    # sven (1) and thanks (7) fall short of 8; app has 6 + 8 = 14.
    assert [score.term for score in score_terms(DETRACTORS, PROMOTERS, min_count=8)] == [
        "wait",
        "rude",
        "price",
        "app",
        "friendly",
    ]
    # The default is 5: only sven falls short.
    assert "sven" not in by_term(score_terms(DETRACTORS, PROMOTERS))
    assert len(score_terms(DETRACTORS, PROMOTERS)) == 6


def test_the_groups_totals_stand_for_the_terms_left_out():
    """A database that sends back only the terms counted 8 times or more sends n_a = 61 and n_b = 55
    beside them: the scores are those of every count."""
    frequent_a = {term: n for term, n in DETRACTORS.items() if n + PROMOTERS.get(term, 0) >= 8}
    frequent_b = {term: n for term, n in PROMOTERS.items() if n + DETRACTORS.get(term, 0) >= 8}
    assert "sven" not in frequent_a and "thanks" not in frequent_b
    trimmed = score_terms(frequent_a, frequent_b, totals=(61, 55), min_count=8)
    assert trimmed == score_terms(DETRACTORS, PROMOTERS, min_count=8)
    assert by_term(trimmed)["wait"].z == approx(HAND["wait"][2])
    # Without the totals, n_a and n_b would shrink to the terms sent, and so would every estimate.
    assert score_terms(frequent_a, frequent_b, min_count=8) != trimmed


def test_it_gives_each_term_its_share_of_each_groups_comments():
    wait = by_term(score_terms(DETRACTORS, PROMOTERS, comments_a=40, comments_b=50))["wait"]

    assert (wait.share_a, wait.share_b) == (approx(75.0), approx(10.0))  # 30/40 and 5/50


def test_shares_are_none_without_a_number_of_comments():
    wait = by_term(score_terms(DETRACTORS, PROMOTERS, comments_a=0))["wait"]

    assert (wait.share_a, wait.share_b) == (None, None)


def test_it_picks_the_terms_beyond_1_96_for_each_group():
    # wait (z = 3.20) and rude (2.07) for the detractors, friendly (−3.46) for the promoters;
    # thanks (−1.67) is not beyond the threshold, sven (0.54) neither, nor with 1 count enough.
    result = distinguishing_terms(DETRACTORS, PROMOTERS, comments_a=40, comments_b=50)

    assert [score.term for score in result.a] == ["wait", "rude"]
    assert [score.term for score in result.b] == ["friendly"]
    assert result.a[0].z == approx(HAND["wait"][2])
    assert (result.b[0].share_a, result.b[0].share_b) == (approx(5.0), approx(50.0))  # 2/40, 25/50


def test_the_threshold_is_strict_and_can_be_lowered():
    rude = HAND["rude"][2]

    assert [score.term for score in distinguishing_terms(DETRACTORS, PROMOTERS, threshold=rude).a] == ["wait"]
    lowered = distinguishing_terms(DETRACTORS, PROMOTERS, threshold=1.645)
    assert [score.term for score in lowered.b] == ["friendly", "thanks"]


def test_min_count_keeps_a_significant_term_out():
    # rude: 12 + 0 counts, z = 2.07.
    assert "rude" in by_term(distinguishing_terms(DETRACTORS, PROMOTERS, min_count=12).a)
    assert "rude" not in by_term(distinguishing_terms(DETRACTORS, PROMOTERS, min_count=13).a)


def test_limit_keeps_the_strongest_terms_of_each_group():
    result = distinguishing_terms(DETRACTORS, PROMOTERS, limit=1, threshold=1.645)

    assert [score.term for score in result.a] == ["wait"]
    assert [score.term for score in result.b] == ["friendly"]
    assert distinguishing_terms(DETRACTORS, PROMOTERS, limit=0) == Distinguishing(a=(), b=())


def test_equal_z_is_ordered_by_term_whatever_the_order_of_the_counts():
    # cherry, apple and banana have the same counts, so the same δ and z, in each direction.
    group_a = {"cherry": 20, "apple": 20, "banana": 20, "late": 2, "happy": 2, "easy": 2, "rest": 100}
    group_b = {"cherry": 2, "banana": 2, "apple": 2, "late": 20, "easy": 20, "happy": 20, "rest": 100}

    result = distinguishing_terms(group_a, group_b)
    reversed_a = dict(reversed(group_a.items()))
    limited = distinguishing_terms(reversed_a, group_b, limit=2)

    assert result.a[0].z == result.a[1].z == result.a[2].z
    assert [score.term for score in result.a] == ["apple", "banana", "cherry"]
    assert [score.term for score in result.b] == ["easy", "happy", "late"]
    assert [score.term for score in limited.a] == ["apple", "banana"]
    assert [score.term for score in limited.b] == ["easy", "happy"]
    assert [score.term for score in score_terms(reversed_a, group_b)] == [
        "apple",
        "banana",
        "cherry",
        "rest",
        "easy",
        "happy",
        "late",
    ]


def test_the_prior_keeps_a_term_seen_once_below_one_seen_sixty_times():
    # Without a prior, 1 against 0 is an infinite log-odds ratio. With it (α0 = 1,000 of 1,221
    # counts, α_w = 0.819 per count): beer α = 0.82, in_a = 1.82, in_b = 0.82, δ ≈ 0.81 but
    # σ² = 1/1.82 + 1/0.82 = 1.77, z ≈ 0.61; queue α = 49.1, in_a = 99.1, in_b = 59.1, δ ≈ 0.56,
    # σ² = 1/99.1 + 1/59.1 = 0.027, z ≈ 3.38. The larger δ of the single comment does not count.
    group_a = {"beer": 1, "queue": 50, "rest": 550}
    group_b = {"queue": 10, "rest": 610}

    scores = by_term(score_terms(group_a, group_b, min_count=1))
    result = distinguishing_terms(group_a, group_b, min_count=1)

    assert scores["queue"].z > 3 > 1 > scores["beer"].z > 0
    assert [score.term for score in result.a] == ["queue"]


def test_the_prior_holds_1000_counts_when_the_background_is_larger():
    # 2,000 counts: α0 = 1,000, so α_w is half a count per count. late: α = 200,
    # in_a = 500, out_a = (1000 − 300) + 0.5 · (2000 − 400) = 1500, in_b = 300, out_b = 900 + 800 = 1700.
    # δ = log(500/1500) − log(300/1700) = log(17/9) = 0.6359888, σ² = 1/500 + 1/300 = 8/1500,
    # z = 0.6359888 / 0.0730297 = 8.7086348.
    group_a = {"late": 300, "other": 700}
    group_b = {"late": 100, "other": 900}

    late = by_term(score_terms(group_a, group_b))["late"]

    assert late.delta == approx(log(17 / 9))
    assert (late.delta / late.z) ** 2 == approx(8 / 1500)
    assert late.z == approx(8.708634846310826)


def test_the_prior_can_have_another_size():
    # α0 = 2,000: α_late = 400, in_a = 700, out_a = 700 + 1600 = 2300, in_b = 500, out_b = 900 + 1600 = 2500.
    # δ = log(700 · 2500 / (2300 · 500)) = log(1750000 / 1150000) = 0.4198538, σ² = 1/700 + 1/500.
    group_a = {"late": 300, "other": 700}
    group_b = {"late": 100, "other": 900}

    late = by_term(score_terms(group_a, group_b, prior_size=2000))["late"]

    assert late.delta == approx(log(1750000 / 1150000))
    assert late.z == approx(log(1750000 / 1150000) / sqrt(1 / 700 + 1 / 500))


def test_the_prior_can_come_from_another_background():
    # Background of 100 counts, α0 = 100, α_late = 10: in_a = 310, out_a = 700 + 90 = 790,
    # in_b = 110, out_b = 900 + 90 = 990. δ = log(310 · 990 / (790 · 110)) = log(306900 / 86900)
    # = 1.2617639, σ² = 1/310 + 1/110, z = 11.3692195.
    group_a = {"late": 300, "other": 700}
    group_b = {"late": 100, "other": 900}

    late = by_term(score_terms(group_a, group_b, background={"late": 10, "other": 90}))["late"]

    assert late.delta == approx(log(306900 / 86900))
    assert late.z == approx(11.369219523157405)


def test_a_term_the_prior_does_not_know_is_scored_only_when_both_groups_have_it():
    # The background has 100 counts: α0 = 100, all of it on "other". "new" gets α = 0 and has no
    # counts in b, so no finite estimate. "late" gets α = 0 too, but both groups have it: with
    # n_a = 1020 and n_b = 1000, in_a = 300, out_a = (1020 − 300) + (100 − 0) = 820, in_b = 100,
    # out_b = (1000 − 100) + 100 = 1000; δ = log(300/820) − log(100/1000), σ² = 1/300 + 1/100.
    group_a = {"late": 300, "other": 700, "new": 20}
    group_b = {"late": 100, "other": 900}

    scores = by_term(score_terms(group_a, group_b, background={"other": 100}))

    assert set(scores) == {"late", "other"}
    assert scores["late"].delta == approx(log(300 / 820) - log(100 / 1000))
    assert scores["late"].z == approx((log(300 / 820) - log(100 / 1000)) / sqrt(1 / 300 + 1 / 100))


@given(
    st.dictionaries(st.sampled_from("abcdefghij"), st.integers(0, 200), max_size=10),
    st.dictionaries(st.sampled_from("abcdefghij"), st.integers(0, 200), max_size=10),
    st.one_of(st.none(), st.dictionaries(st.sampled_from("abcdefghij"), st.integers(0, 50), max_size=10)),
)
def test_swapping_the_groups_negates_delta_and_z(group_a, group_b, background):
    forward = by_term(score_terms(group_a, group_b, background=background, min_count=1))
    backward = by_term(score_terms(group_b, group_a, background=background, min_count=1))

    assert forward.keys() == backward.keys()
    for term, score in forward.items():
        assert backward[term].delta == pytest.approx(-score.delta, abs=1e-9)
        assert backward[term].z == pytest.approx(-score.z, abs=1e-9)
        assert (backward[term].count_a, backward[term].count_b) == (score.count_b, score.count_a)


def test_swapping_the_groups_swaps_the_distinguishing_terms():
    forward = distinguishing_terms(DETRACTORS, PROMOTERS)
    backward = distinguishing_terms(PROMOTERS, DETRACTORS)

    assert [score.term for score in backward.a] == [score.term for score in forward.b]
    assert [score.term for score in backward.b] == [score.term for score in forward.a]


@pytest.mark.parametrize(
    ("group_a", "group_b", "background"),
    [
        ({}, {}, None),
        ({}, PROMOTERS, None),  # nothing to compare with: the prior alone would call terms typical
        (DETRACTORS, {}, None),
        ({"wait": 0, "rude": 0}, PROMOTERS, None),  # counts of zero are no counts
        (DETRACTORS, PROMOTERS, {}),
        (DETRACTORS, PROMOTERS, {"wait": 0}),
        ({"wait": 3}, {"wait": 5}, None),  # one term is all there is: its odds have no denominator
        # Again with α0 = 1,000 of 1,062 counts, where α0 − α_w in floating point is not exactly 0.
        ({"wait": 500}, {"wait": 562}, None),
    ],
)
def test_without_counts_on_both_sides_there_are_no_terms(group_a, group_b, background):
    assert score_terms(group_a, group_b, background=background, min_count=1) == []
    assert distinguishing_terms(group_a, group_b, background=background, min_count=1) == Distinguishing(
        a=(), b=()
    )


def test_a_single_shared_term_beside_others_is_scored():
    # The guard against a zero denominator does not drop a term that is all of one group only.
    # a = {wait: 3}, b = {wait: 5, rude: 5}: α0 = 13, α_wait = 8; in_a = 11, out_a = 0 + 5 = 5,
    # in_b = 13, out_b = 5 + 5 = 10; δ = log(11/5) − log(13/10) = log(110/65).
    scores = by_term(score_terms({"wait": 3}, {"wait": 5, "rude": 5}, min_count=1))

    assert scores["wait"].delta == approx(log(110 / 65))
    assert scores["wait"].z == approx(log(110 / 65) / sqrt(1 / 11 + 1 / 13))


def test_negative_counts_and_prior_sizes_are_refused():
    with pytest.raises(ValueError, match="negative"):
        score_terms({"wait": -1}, PROMOTERS)
    with pytest.raises(ValueError, match="negative"):
        distinguishing_terms(DETRACTORS, PROMOTERS, background={"wait": -1})
    with pytest.raises(ValueError, match="negative"):
        score_terms(DETRACTORS, PROMOTERS, prior_size=-1)
    with pytest.raises(ValueError, match="negative"):
        distinguishing_terms(DETRACTORS, PROMOTERS, totals=(61, -1))
