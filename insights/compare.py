"""The terms that set two groups of answers apart, counted in the database and weighed by
``insights.logodds``.

Three comparisons: the lowest category of the survey's scale against the highest (detractors
against promoters, dissatisfied against satisfied, difficult against easy); a period against the
one before it; and a group (a touchpoint, a segment, a tag) against the rest of the answers. The
rest is the whole minus the group: every count adds up, so no third scan is needed.
"""

from collections import Counter
from dataclasses import dataclass, replace

from feedback.counts import Filters
from feedback.metrics import Z_95
from insights.counts import Group, TermCounts, pair_counts, term_counts
from insights.logodds import LIMIT, MIN_COUNT, Distinguishing, distinguishing_terms
from surveys.scales import SCALES


@dataclass(frozen=True)
class Comparison:
    """Group a against group b: their counts and the terms most typical of each."""

    a: Group
    b: Group
    counts_a: TermCounts
    counts_b: TermCounts
    terms: Distinguishing


def compare(a: Group, b: Group, *, limit: int = LIMIT) -> Comparison:
    return _weighed(a, b, *pair_counts(a, b, min_count=MIN_COUNT, threshold=Z_95), limit=limit)


def lowest_against_highest(filters: Filters, *, language: str = "", limit: int = LIMIT) -> Comparison:
    """Detractors against promoters, or the other scales' lowest category against their highest."""
    categories = SCALES[filters.survey.kind].categories
    return compare(
        Group(filters, categories=(categories[0].code,), language=language),
        Group(filters, categories=(categories[-1].code,), language=language),
        limit=limit,
    )


def against_previous_period(group: Group, *, limit: int = LIMIT) -> Comparison:
    """The group's period against the period of equal length just before it."""
    return compare(group, replace(group, filters=group.filters.previous()), limit=limit)


def reweighed(comparison: Comparison, *, limit: int) -> Comparison:
    """The same comparison with more (or fewer) terms per group, from the counts it already has."""
    return _weighed(comparison.a, comparison.b, comparison.counts_a, comparison.counts_b, limit=limit)


def against_the_rest(group: Group, whole: Group, *, limit: int = LIMIT) -> Comparison:
    """A group against the answers of ``whole`` outside it; ``group`` must lie within ``whole``
    (the same period and categories, a filter more)."""
    counts, everyone = term_counts(group), term_counts(whole)
    rest = TermCounts(
        terms=dict(Counter(everyone.terms) - Counter(counts.terms)),
        comments=everyone.comments - counts.comments,
        total=everyone.total - counts.total,
    )
    return _weighed(group, whole, counts, rest, limit=limit)


def _weighed(a: Group, b: Group, counts_a: TermCounts, counts_b: TermCounts, *, limit: int) -> Comparison:
    terms = distinguishing_terms(
        counts_a.terms,
        counts_b.terms,
        comments_a=counts_a.comments,
        comments_b=counts_b.comments,
        totals=(counts_a.total, counts_b.total),
        limit=limit,
    )
    return Comparison(a=a, b=b, counts_a=counts_a, counts_b=counts_b, terms=terms)
