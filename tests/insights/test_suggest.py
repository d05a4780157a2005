"""Suggested themes: what detractors write about that no theme covers yet."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from feedback.counts import Filters
from insights.compare import lowest_against_highest
from insights.models import Theme
from insights.suggest import suggested_themes
from tests.factories import answer_by_link, make_survey

pytestmark = pytest.mark.django_db

NOVEMBER = datetime(2026, 11, 10, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))


def test_suggestions_are_the_detractors_terms_that_no_theme_finds():
    survey = make_survey(kind="nps")
    for score, comment, count in (
        (2, "Lieferung verspätet", 40),
        (3, "Ewig in der Warteschleife", 40),
        (10, "Freundliche Beratung", 60),
    ):
        for n in range(count):
            answer_by_link(survey, score, NOVEMBER + timedelta(minutes=n), comment=comment)
    filters = Filters(survey=survey, since=date(2026, 11, 1), until=date(2026, 11, 30))
    before = [score.term for score in suggested_themes(lowest_against_highest(filters))]
    assert "lieferung" in before and "warteschleife" in before
    Theme.objects.create(name="Lieferung", include="liefer*, verspät*")
    after = [score.term for score in suggested_themes(lowest_against_highest(filters))]
    assert "warteschleife" in after
    assert not any(term.startswith(("liefer", "verspät")) for term in after)
    assert "beratung" not in after  # praise is no theme to fix


def test_suggestions_weigh_the_comparisons_counts_again_reading_only_the_themes(django_assert_num_queries):
    survey = make_survey(kind="nps")
    for n in range(40):
        answer_by_link(survey, 2, NOVEMBER + timedelta(minutes=n), comment="Ewig in der Warteschleife")
        answer_by_link(survey, 10, NOVEMBER + timedelta(minutes=n), comment="Freundliche Beratung")
    for n in range(20):
        answer_by_link(survey, 3, NOVEMBER + timedelta(minutes=n), comment="Rechnung")
    Theme.objects.create(name="Warten", include="warte*, schleife*, ewig*")
    comparison = lowest_against_highest(
        Filters(survey=survey, since=date(2026, 11, 1), until=date(2026, 11, 30)), limit=1
    )
    with django_assert_num_queries(1):
        suggested = [score.term for score in suggested_themes(comparison)]
    # The comparison's one term of detractors is the theme's; the others come from its counts.
    (top,) = comparison.terms.a
    assert top.term != "rechnung"
    assert suggested == ["rechnung"]
