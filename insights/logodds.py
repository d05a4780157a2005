"""Which terms set two groups of comments apart: the log-odds ratio with an informative Dirichlet prior.

Monroe, Colaresi & Quinn (2008), "Fightin' Words", section 3.5, as the product brief defines
"Distinguishing terms". For each term w, with y_aw, y_bw its counts in groups a and b, n_a, n_b
the groups' total counts and α_w its prior count (α0 in all):

    δ_w = log((y_aw + α_w) / (n_a + α0 − y_aw − α_w)) − log((y_bw + α_w) / (n_b + α0 − y_bw − α_w))
    σ²_w ≈ 1 / (y_aw + α_w) + 1 / (y_bw + α_w)
    z_w = δ_w / σ_w

A positive z means the term is typical of group a, a negative one of group b. The counts are
whatever the caller counts; for comments, the number of comments in the group that contain the
term (each comment counts a term once), so one long rant cannot make a word typical of its group.

The prior: α_w = α0 · (w's share of a background), the background being both groups together
unless the caller passes another (a survey's whole corpus, say). α0 is 1,000, or the background's
own total when that is smaller, as the product brief has it. Not the background's total whatever
its size: σ² takes the prior's pseudo-counts for observations, so a prior as large as the groups
counts every comment twice. With α_w = y_aw + y_bw, a term in 50 vs 10 comments of two large,
equal groups would fall from δ ≈ log 5 = 1.61 (z ≈ 4.6) to log(110 / 70) = 0.45 (z ≈ 3.0),
drowning the difference the prior is there to steady. A thousand pseudo-counts spread by the
background's shares still pull a rarely seen term (a name in one comment) towards δ = 0 with a wide
σ, and fade once the groups hold many thousand counts; below 1,000 counts both choices agree.

Pure arithmetic over counts, no database: the caller counts, this module computes. Nothing is
rounded here; callers format.
"""

import heapq
from collections.abc import Mapping
from dataclasses import dataclass
from math import log, sqrt
from operator import itemgetter

from feedback.metrics import Z_95

PRIOR_SIZE = 1000  # α0 unless the background is smaller (product brief)
MIN_COUNT = 5  # fewer comments in both groups together and a term is not shown (product brief)
LIMIT = 25  # terms shown per group


@dataclass(frozen=True, slots=True)
class TermScore:
    """One term's log-odds ratio of group a over group b.

    ``delta`` is δ_w (natural log) and ``z`` the z-score, positive when the term is typical of
    group a. ``share_a`` and ``share_b`` are the counts in % of the number of comments in each group
    (for "in 12 % of detractors' comments"), None when that number was not given or is 0.
    """

    term: str
    delta: float
    z: float
    count_a: int
    count_b: int
    share_a: float | None
    share_b: float | None


@dataclass(frozen=True)
class Distinguishing:
    """The terms most typical of each group, strongest first; each tuple may be empty."""

    a: tuple[TermScore, ...]
    b: tuple[TermScore, ...]


# (−z, term, δ, count in a, count in b): tuples while all terms are scored, in this order so that
# ascending order is by z, highest first, then by term. A TermScore per term would
# cost more than the arithmetic, so only the terms that are returned get one.
_Estimate = tuple[float, str, float, int, int]


def score_terms(
    group_a: Mapping[str, int],
    group_b: Mapping[str, int],
    *,
    background: Mapping[str, int] | None = None,
    prior_size: float | None = None,
    comments_a: int | None = None,
    comments_b: int | None = None,
    totals: tuple[int, int] | None = None,
    min_count: int = MIN_COUNT,
) -> list[TermScore]:
    """The terms counted at least ``min_count`` (and at least once) in both groups together, from
    most typical of a (highest z) to most typical of b; ties in z are ordered by term.

    ``prior_size`` is α0 (default: 1,000, or the background's total when smaller; 0 means no
    prior). The result is empty when either group or the background has no counts at all: with
    nothing on one side there is nothing to compare, and the prior alone would make every frequent
    term look typical of the other. A term without a finite estimate is left out: one the prior
    gives no weight (missing from a ``background`` the caller passed, or α0 = 0) that is missing
    from one group, or the single term of a group that is also all of the background. Shares are
    None without ``comments_a`` / ``comments_b`` (or when they are 0).
    ``totals`` are n_a and n_b when the groups' mappings leave out terms (see ``_estimate``).
    A negative count or ``prior_size`` raises ValueError.
    """
    estimates = _estimate(
        group_a,
        group_b,
        background=background,
        prior_size=prior_size,
        totals=totals,
        min_count=max(min_count, 1),
    )
    # Two stable sorts on single keys, the second on floats alone, run several times faster than one
    # on (−z, term) tuples, whose many ties (terms with equal counts) compare strings as well.
    estimates.sort(key=itemgetter(1))
    estimates.sort(key=itemgetter(0))
    return _scores(estimates, comments_a, comments_b)


def distinguishing_terms(
    group_a: Mapping[str, int],
    group_b: Mapping[str, int],
    *,
    background: Mapping[str, int] | None = None,
    prior_size: float | None = None,
    comments_a: int | None = None,
    comments_b: int | None = None,
    totals: tuple[int, int] | None = None,
    limit: int = LIMIT,
    threshold: float = Z_95,
    min_count: int = MIN_COUNT,
) -> Distinguishing:
    """The terms most typical of group a (highest z first) and of group b (lowest z first).

    Only terms with |z| > ``threshold`` (default 1.96, two-sided 95 %) and counted at least
    ``min_count`` times in both groups together, so that a rare word (a name that slipped through)
    never shows; at most ``limit`` per group, ties in z ordered by term. The prior and the edge
    cases are those of ``score_terms``: no counts on either side gives two empty tuples.
    """
    estimates = _estimate(
        group_a,
        group_b,
        background=background,
        prior_size=prior_size,
        totals=totals,
        min_count=max(min_count, 1),
    )
    # e[0] is −z: z > threshold for a, z < −threshold for b.
    typical_a = heapq.nsmallest(limit, (e for e in estimates if e[0] < -threshold))
    typical_b = heapq.nsmallest(
        limit, (e for e in estimates if e[0] > threshold), key=lambda e: (-e[0], e[1])
    )
    return Distinguishing(
        a=tuple(_scores(typical_a, comments_a, comments_b)),
        b=tuple(_scores(typical_b, comments_a, comments_b)),
    )


def _estimate(
    group_a: Mapping[str, int],
    group_b: Mapping[str, int],
    *,
    background: Mapping[str, int] | None,
    prior_size: float | None,
    totals: tuple[int, int] | None,
    min_count: int,
) -> list[_Estimate]:
    """δ and z of the terms counted at least ``min_count`` (≥ 1) times in both groups together.

    n_a and n_b are the sums of the groups' counts, or ``totals`` when given: a database that
    counts the groups can leave out the terms below ``min_count``, thousands of names and typos
    seen once that no result would show, and send their sums alone. With the default background
    (both groups) the estimates are then the same as from every count."""
    if prior_size is not None and prior_size < 0:
        raise ValueError(f"negative prior size {prior_size}")
    n_a, n_b = (_total(group_a), _total(group_b)) if totals is None else _checked(totals)
    total = n_a + n_b if background is None else _total(background)
    if not n_a or not n_b or not total:
        return []
    scale = (min(PRIOR_SIZE, total) if prior_size is None else prior_size) / total  # α_w per count
    count_a, count_b = group_a.get, group_b.get
    estimates = []
    for term in group_a.keys() | group_b.keys():
        y_a, y_b = count_a(term, 0), count_b(term, 0)
        if y_a + y_b < min_count:
            continue
        prior = y_a + y_b if background is None else background.get(term, 0)
        in_a, in_b = y_a + scale * prior, y_b + scale * prior
        # n + α0 − y − α_w, as (n − y) + α0 · (total − prior) / total: exactly 0 when the term is
        # all there is, where α0 − α_w in floating point could leave a speck that makes δ huge.
        rest = scale * (total - prior)
        out_a, out_b = n_a - y_a + rest, n_b - y_b + rest
        if not (in_a > 0 and in_b > 0 and out_a > 0 and out_b > 0):
            continue
        delta = log(in_a / out_a) - log(in_b / out_b)
        estimates.append((-delta / sqrt(1 / in_a + 1 / in_b), term, delta, y_a, y_b))
    return estimates


def _total(counts: Mapping[str, int]) -> int:
    """The sum of the counts; ValueError for a negative one."""
    if min(counts.values(), default=0) < 0:
        raise ValueError("negative term count")
    return sum(counts.values())


def _checked(totals: tuple[int, int]) -> tuple[int, int]:
    if min(totals) < 0:
        raise ValueError("negative total count")
    return totals


def _scores(estimates: list[_Estimate], comments_a: int | None, comments_b: int | None) -> list[TermScore]:
    per_a = 100 / comments_a if comments_a else None  # % per comment, None: no share to give
    per_b = 100 / comments_b if comments_b else None
    return [
        TermScore(
            term,
            delta,
            -negative_z,
            count_a,
            count_b,
            None if per_a is None else count_a * per_a,
            None if per_b is None else count_b * per_b,
        )
        for negative_z, term, delta, count_a, count_b in estimates
    ]
