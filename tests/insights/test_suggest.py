"""Suggested themes: what detractors write about that no theme covers yet."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from feedback.counts import Filters
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
    before = [score.term for score in suggested_themes(filters)]
    assert "lieferung" in before and "warteschleife" in before
    Theme.objects.create(name="Lieferung", include="liefer*, verspät*")
    after = [score.term for score in suggested_themes(filters)]
    assert "warteschleife" in after
    assert not any(term.startswith(("liefer", "verspät")) for term in after)
    assert "beratung" not in after  # praise is no theme to fix
