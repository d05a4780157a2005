"""The two comparisons that the insights page and its API show for a survey and period."""

from feedback.counts import Filters
from insights.compare import Comparison, against_previous_period, lowest_against_highest
from insights.counts import Group


def compared(filters: Filters, compare: str, *, language: str = "") -> Comparison:
    """``categories``: the scale's lowest category against its highest (detractors against
    promoters); ``previous``: the period against the one of equal length before it."""
    if compare == "categories":
        return lowest_against_highest(filters, language=language)
    if compare == "previous":
        return against_previous_period(Group(filters, language=language))
    raise ValueError(f"unknown comparison {compare!r}")
