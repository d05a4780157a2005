"""Themes worth defining: the terms most typical of unhappy answers that no theme covers yet."""

from feedback.counts import Filters
from insights.compare import lowest_against_highest
from insights.logodds import TermScore
from insights.models import Theme
from insights.rules import Terms

SUGGESTED = 8


def suggested_themes(filters: Filters, *, limit: int = SUGGESTED) -> list[TermScore]:
    """The terms that most set the lowest category apart from the highest (detractors from
    promoters) over the filters, strongest first, leaving out those a theme's rules already find."""
    themes = list(Theme.objects.all())
    rules = [
        found for theme in themes for language in ("de", "en") if (found := theme.rules(language)) is not None
    ]
    typical = lowest_against_highest(filters, limit=limit + 10 * len(rules) + 10).terms.a
    # A phrase is covered when a rule finds it or one of its words.
    uncovered = [
        score
        for score in typical
        if not any(r.match(Terms.of([score.term, *score.term.split(" ")])) for r in rules)
    ]
    return uncovered[:limit]
