"""Themes worth defining: the terms most typical of unhappy answers that no theme covers yet."""

from insights.compare import Comparison, reweighed
from insights.logodds import TermScore
from insights.models import Theme
from insights.rules import Terms

SUGGESTED = 8


def suggested_themes(comparison: Comparison, *, limit: int = SUGGESTED) -> list[TermScore]:
    """The terms that most set group a of ``comparison`` (``lowest_against_highest``: detractors)
    apart from group b, strongest first, leaving out those a theme's rules already find. The
    comparison's counts serve again, so that a page showing it counts the comments once."""
    themes = list(Theme.objects.all())
    rules = [
        found for theme in themes for language in ("de", "en") if (found := theme.rules(language)) is not None
    ]
    typical = reweighed(comparison, limit=limit + 10 * len(rules) + 10).terms.a
    # A phrase is covered when a rule finds it or one of its words.
    uncovered = [
        score
        for score in typical
        if not any(r.match(Terms.of([score.term, *score.term.split(" ")])) for r in rules)
    ]
    return uncovered[:limit]
