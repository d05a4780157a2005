"""The terms that set groups of answers apart, from comments stored as answers are."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from feedback.counts import Filters
from insights.compare import against_previous_period, against_the_rest, compare, lowest_against_highest
from insights.counts import Group
from surveys.models import NO_TOUCHPOINT
from tests.factories import answer_by_link, make_invitation, make_survey, make_touchpoint

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
NOVEMBER = datetime(2026, 11, 10, 10, 0, tzinfo=BERLIN)


def answers(survey, score, comment, count, *, at=NOVEMBER, language="de", touchpoint=None):
    for n in range(count):
        moment = at + timedelta(hours=n)
        if touchpoint:
            invitation = make_invitation(survey=survey, touchpoint=touchpoint, now=moment)
            invitation.record_answer(score=score, comment=comment, language=language, now=moment)
        else:
            answer_by_link(survey, score, moment, comment=comment, language=language)


def november(survey, **filters) -> Filters:
    return Filters(survey=survey, since=date(2026, 11, 1), until=date(2026, 11, 30), **filters)


def terms(side) -> list[str]:
    return [score.term for score in side]


def test_detractors_complain_of_late_deliveries_and_promoters_praise_friendly_staff():
    survey = make_survey(kind="nps")
    answers(survey, 2, "Die Lieferung kam zu spät", 30)
    answers(survey, 3, "Lieferungen immer zu spät und teuer", 30)
    answers(survey, 10, "Sehr freundlich und schnelle Lieferung", 40)
    answers(survey, 8, "Ganz ok", 4)
    comparison = lowest_against_highest(november(survey))
    assert (comparison.counts_a.comments, comparison.counts_b.comments) == (60, 40)
    assert {"spät", "teuer"} <= set(terms(comparison.terms.a))
    assert {"freundlich", "schnell"} <= set(terms(comparison.terms.b))
    assert "lieferung" not in terms(comparison.terms.a) + terms(comparison.terms.b)  # both say it
    late = next(score for score in comparison.terms.a if score.term == "spät")
    assert (late.count_a, late.count_b, late.share_a, late.share_b) == (60, 0, 100.0, 0.0)
    assert late.z > 1.96


def test_csat_compares_dissatisfied_with_satisfied_answers():
    survey = make_survey(kind="csat")
    answers(survey, 1, "Hotline nicht erreichbar", 20)
    answers(survey, 5, "Hotline sofort erreichbar", 20)
    comparison = lowest_against_highest(november(survey))
    assert comparison.a.categories == ("dissatisfied",)
    assert comparison.b.categories == ("satisfied",)
    assert "nicht" in terms(comparison.terms.a)
    assert "sofort" in terms(comparison.terms.b)


def test_a_period_against_the_previous_one():
    survey = make_survey(kind="nps")
    answers(survey, 2, "Paket beschädigt", 20, at=NOVEMBER)
    answers(survey, 2, "Rechnung falsch", 20, at=NOVEMBER - timedelta(days=20))
    comparison = against_previous_period(Group(november(survey)))
    assert comparison.b.filters.until == date(2026, 10, 31)
    assert "beschädigen" in terms(comparison.terms.a) or "beschädigt" in terms(comparison.terms.a)
    assert "rechnung" in terms(comparison.terms.b)


def test_a_touchpoint_against_the_rest_equals_it_against_the_other_answers():
    survey = make_survey(kind="nps")
    touchpoint = make_touchpoint(survey=survey)
    answers(survey, 4, "Der Fahrer war unfreundlich", 25, touchpoint=touchpoint)
    answers(survey, 4, "Die Website ist langsam", 25)
    answers(survey, 9, "Alles gut", 7)
    whole = Group(november(survey))
    by_email = Group(november(survey, touchpoints=(touchpoint.pk,)))
    rest = against_the_rest(by_email, whole)
    others = compare(by_email, Group(november(survey, touchpoints=(NO_TOUCHPOINT,))))
    assert rest.terms == others.terms
    assert rest.counts_b == others.counts_b
    assert {"fahrer", "unfreundlich"} <= set(terms(rest.terms.a))
    assert {"website", "langsam"} <= set(terms(rest.terms.b))
