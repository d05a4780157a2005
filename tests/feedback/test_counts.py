import random
from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from feedback import counts
from feedback.counts import (
    NO_TOUCHPOINT,
    Filters,
    histogram,
    histograms_by_property,
    histograms_by_touchpoint,
    histograms_over_time,
)
from tests.factories import answer_by_link, make_contact, make_invitation, make_survey, make_touchpoint

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")


def by_email(survey, touchpoint, score, at, *, contact=None, properties=None):
    invitation = make_invitation(
        survey=survey,
        touchpoint=touchpoint,
        now=at,
        contact=contact or make_contact(),
        properties=properties or {},
    )
    return invitation.record_answer(score=score, comment=None, language="de", now=at)


def by_link(survey, score, at, properties=None):
    return answer_by_link(survey, score, at, properties=properties)


@pytest.fixture
def survey():
    return make_survey(kind="nps")


def test_a_period_counts_each_answer_once_with_its_latest_score(survey, django_assert_num_queries):
    touchpoint = make_touchpoint(survey=survey)
    at = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
    first = by_email(survey, touchpoint, 3, at)
    first.revise(score=10, comment=None, now=at + timedelta(days=3))
    by_email(survey, touchpoint, 9, at)
    by_link(survey, 6, at + timedelta(days=1))
    by_link(survey, 8, datetime(2026, 10, 31, 22, 59, tzinfo=UTC))  # 23:59 on 31 October in Berlin
    by_link(make_survey(kind="nps"), 0, at)  # another survey
    november = Filters(survey=survey, since=date(2026, 11, 1), until=date(2026, 11, 30))
    with django_assert_num_queries(1):
        assert histogram(november) == Counter({10: 1, 9: 1, 6: 1})
    assert histogram(november.previous()) == Counter({8: 1})
    assert november.previous() == Filters(survey=survey, since=date(2026, 10, 2), until=date(2026, 10, 31))


def test_weeks_start_on_monday_in_local_time_across_the_spring_change(survey):
    # Sunday 29 March 2026: the clocks go forward. 21:59 UTC is 23:59 on Sunday in Berlin,
    # 22:30 UTC is 00:30 on Monday.
    by_link(survey, 9, datetime(2026, 3, 29, 21, 59, tzinfo=UTC))
    by_link(survey, 2, datetime(2026, 3, 29, 22, 30, tzinfo=UTC))
    by_link(survey, 7, datetime(2026, 3, 22, 23, 30, tzinfo=UTC))  # 00:30 on Monday 23 March
    spring = Filters(survey=survey, since=date(2026, 3, 16), until=date(2026, 4, 5))
    assert histograms_over_time(spring, "week") == {
        date(2026, 3, 23): Counter({9: 1, 7: 1}),
        date(2026, 3, 30): Counter({2: 1}),
    }
    assert histograms_over_time(spring, "month") == {
        date(2026, 3, 1): Counter({9: 1, 7: 1, 2: 1}),
    }
    assert list(histograms_over_time(spring, "day")) == [
        date(2026, 3, 23),
        date(2026, 3, 29),
        date(2026, 3, 30),
    ]


def test_touchpoints_are_counted_apart_and_link_answers_under_none(survey):
    delivery, support = make_touchpoint(survey=survey), make_touchpoint(survey=survey)
    at = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
    by_email(survey, delivery, 10, at)
    by_email(survey, support, 1, at)
    by_link(survey, 5, at)
    period = Filters(survey=survey, since=date(2026, 11, 1), until=date(2026, 11, 30))
    assert histograms_by_touchpoint(period) == {
        delivery.pk: Counter({10: 1}),
        support.pk: Counter({1: 1}),
        NO_TOUCHPOINT: Counter({5: 1}),
    }
    only = Filters(
        survey=survey, since=period.since, until=period.until, touchpoints=(support.pk, NO_TOUCHPOINT)
    )
    assert histogram(only) == Counter({1: 1, 5: 1})


def test_a_property_filter_matches_the_event_first_then_the_contact(survey):
    touchpoint = make_touchpoint(survey=survey)
    at = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
    pro = make_contact(properties={"plan": "pro", "region": "DE"})
    basic = make_contact(properties={"plan": "basic"})
    by_email(survey, touchpoint, 10, at, contact=pro)
    by_email(survey, touchpoint, 0, at, contact=basic)
    by_email(survey, touchpoint, 7, at, contact=basic, properties={"plan": "pro"})  # upgraded at checkout
    by_link(survey, 5, at)  # no properties at all
    period = Filters(survey=survey, since=date(2026, 11, 1), until=date(2026, 11, 30))
    pro_only = Filters(survey=survey, since=period.since, until=period.until, properties=(("plan", "pro"),))
    assert histogram(pro_only) == Counter({10: 1, 7: 1})
    region = Filters(survey=survey, since=period.since, until=period.until, properties=(("region", "DE"),))
    assert histogram(region) == Counter({10: 1})
    nowhere = Filters(survey=survey, since=period.since, until=period.until, properties=(("plan", "gold"),))
    assert histogram(nowhere) == Counter()
    assert histograms_by_property(period, "plan") == {"pro": Counter({10: 1, 7: 1}), "basic": Counter({0: 1})}


def test_the_tally_and_the_responses_give_the_same_numbers():
    rng = random.Random(11)
    survey = make_survey(kind="ces")
    touchpoints = [make_touchpoint(survey=survey) for _ in range(3)]
    start = datetime(2026, 10, 1, tzinfo=UTC)  # across the autumn change on 25 October
    for _ in range(150):
        at = start + timedelta(minutes=rng.randrange(60 * 24 * 60))
        score = rng.choice(survey.scale.points)
        if rng.random() < 0.7:
            response = by_email(survey, rng.choice(touchpoints), score, at)
            if rng.random() < 0.3:
                response.revise(score=rng.choice(survey.scale.points), comment=None, now=at)
        else:
            by_link(survey, score, at)
    filters = Filters(
        survey=survey,
        since=date(2026, 10, 5),
        until=date(2026, 11, 20),
        touchpoints=(touchpoints[0].pk, touchpoints[1].pk, NO_TOUCHPOINT),
    )
    for by in (None, "day", "week", "month", "touchpoint"):
        tallied = sorted(counts._from_tally(filters, by=by))
        assert tallied == sorted(counts._from_responses(filters, by=by)), by
    assert sum(n for _, _, n in counts._from_tally(filters, by=None)) > 50
