"""Each theme's figures over a known set of answers, against hand computations."""

from datetime import date, datetime

import pytest

from feedback.counts import Filters
from insights.figures import theme_figures, theme_trends
from insights.models import Theme
from tests.factories import make_survey
from tests.insights.themed import BERLIN, NOVEMBER, OCTOBER, answers, matched

pytestmark = pytest.mark.django_db


def test_share_metric_and_impact_of_each_theme_costliest_first():
    survey = make_survey(kind="nps")
    answers(
        survey,
        NOVEMBER,
        [
            *[(2, "Lieferung zu spät")] * 30,
            *[(10, "Lieferung pünktlich")] * 10,
            *[(5, "Hotline unfreundlich")] * 10,
            *[(9, "Alles bestens")] * 49,
            (8, ""),
        ],
    )
    answers(survey, OCTOBER, [*[(2, "Lieferung zu spät")] * 5, *[(9, "Alles bestens")] * 95])
    delivery = Theme.objects.create(name="Lieferung", include="liefer*")
    hotline = Theme.objects.create(name="Hotline", include="hotline")
    unused = Theme.objects.create(name="Preis", include="preis*, teuer")
    matched(delivery, hotline, unused)
    figures = theme_figures(Filters(survey=survey, since=date(2026, 11, 1), until=date(2026, 11, 30)))
    assert [row.theme.name for row in figures] == ["Lieferung", "Hotline", "Preis"]
    first, second, third = figures
    # 100 answers in November, 99 with a comment; 40 about delivery, 30 of them detractors.
    assert (first.share.comments, first.share.of) == (40, 99)
    assert first.share.value == pytest.approx(40.404, abs=1e-3)
    assert first.summary.n == 40
    assert first.summary.value == pytest.approx(100 * (10 - 30) / 40)  # NPS −50 among its answers
    assert first.impact.value == pytest.approx(30.0)  # 100 · 30 / 100
    assert first.impact.moved == 30
    # October: 5 of 100 comments; November 40 of 99: a significant rise.
    assert (first.previous.comments, first.previous.of) == (5, 100)
    assert first.z == pytest.approx(5.9694, abs=1e-4)  # pooled 45/199
    assert first.change == 1
    assert second.impact.value == pytest.approx(10.0)
    assert second.z == pytest.approx(3.2612, abs=1e-4)  # pooled 10/199
    assert second.change == 1  # 0 of 100 before
    assert (third.share.comments, third.summary.value, third.impact.value, third.change) == (0, None, 0.0, 0)
    assert third.z is None  # 0 % in both periods: no spread to measure a change against


def test_without_themes_nothing_is_counted(django_assert_num_queries):
    survey = make_survey(kind="nps")
    answers(survey, NOVEMBER, [(2, "Lieferung zu spät")])
    with django_assert_num_queries(1):
        assert theme_figures(Filters(survey=survey, since=date(2026, 11, 1), until=date(2026, 11, 30))) == []


def test_a_themes_trend_is_its_share_of_each_weeks_comments():
    survey = make_survey(kind="nps")
    first_week, second_week = (
        datetime(2026, 11, 3, 9, tzinfo=BERLIN),
        datetime(2026, 11, 12, 9, tzinfo=BERLIN),
    )
    answers(
        survey, first_week, [(2, "Lieferung zu spät"), (9, "Alles gut"), (9, "Super"), (7, ""), (8, "Ok")]
    )
    answers(survey, second_week, [(1, "Lieferung fehlt"), (3, "Lieferung kaputt")])
    delivery = Theme.objects.create(name="Lieferung", include="liefer*")
    hotline = Theme.objects.create(name="Hotline", include="hotline")
    matched(delivery, hotline)
    # The weeks of 2 and 9 November, then one without comments; the answer without a comment counts not.
    filters = Filters(survey=survey, since=date(2026, 11, 2), until=date(2026, 11, 22))
    trends = theme_trends(filters, [delivery, hotline])
    assert trends == {delivery.pk: [25.0, 100.0, None], hotline.pk: [0.0, 0.0, None]}
