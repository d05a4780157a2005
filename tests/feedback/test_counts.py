import random
from collections import Counter
from datetime import date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from feedback import counts
from feedback.counts import INTERVALS, Filters, histograms_by_property, panels
from surveys.models import NO_TOUCHPOINT, Response, Survey
from tests.factories import answer_by_link, make_contact, make_invitation, make_survey, make_touchpoint

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")


def histogram(filters: Filters) -> Counter:
    return panels(filters, "month").histogram


def histograms_over_time(filters: Filters, interval: str) -> dict:
    return panels(filters, interval).over_time


def histograms_by_touchpoint(filters: Filters) -> dict:
    return panels(filters, "month").by_touchpoint


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


@pytest.mark.parametrize("tallied", [[], ["plan", "region"]])
def test_a_property_filter_matches_the_event_first_then_the_contact(tallied):
    survey = make_survey(kind="nps", dashboard_properties=tallied)
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
    for interval in INTERVALS:
        tallied = counts._from_tally(counts._tally(counts._with_previous(filters)), filters, interval)
        assert set(tallied) == set(counts._from_responses(filters, interval)), interval
    assert sum(histogram(filters).values()) > 50


def answer_at_random(rng: random.Random, survey, touchpoints, count: int) -> None:
    """Email and link answers whose plan and region come from the contact, the event or both,
    some of them not text; a third changed later."""
    values = {"plan": ["pro", "basic", "plus", 5, None], "region": ["DE", "AT", "", True]}

    def properties() -> dict:
        return {name: rng.choice(choices) for name, choices in values.items() if rng.random() < 0.5}

    contacts = [make_contact(properties=properties()) for _ in range(12)]
    start = datetime(2026, 10, 1, tzinfo=UTC)  # across the autumn change on 25 October
    for _ in range(count):
        at = start + timedelta(minutes=rng.randrange(60 * 24 * 60))
        score = rng.choice(survey.scale.points)
        if rng.random() < 0.6:
            touchpoint = rng.choice(touchpoints)
            response = by_email(
                survey, touchpoint, score, at, contact=rng.choice(contacts), properties=properties()
            )
        else:
            response = by_link(survey, score, at, properties=properties())
        if rng.random() < 0.3:
            response.revise(score=rng.choice(survey.scale.points), comment=None, now=at)


def expected(filters: Filters, *, by=lambda response: "all") -> dict:
    """The filtered responses' histograms counted one by one in Python, grouped by ``by``
    (groups of None left out)."""
    groups: dict = {}
    for response in Response.objects.filter(survey=filters.survey):
        touchpoint = response.touchpoint_id or NO_TOUCHPOINT
        if not filters.since <= timezone.localdate(response.created_at) <= filters.until:
            continue
        if filters.touchpoints and touchpoint not in filters.touchpoints:
            continue
        if any(response.property_value(name) != value for name, value in filters.properties):
            continue
        group = by(response)
        if group is not None:
            groups.setdefault(group, Counter())[response.score] += 1
    return groups


def read_from(function) -> str:
    """Which table a counting function read: the responses or one of the tallies."""
    with CaptureQueriesContext(connection) as queries:
        function()
    tables = {
        table
        for table in ("response", "dailyscore", "propertyscore")
        for query in queries
        if f'"surveys_{table}"' in query["sql"]
    }
    assert len(tables) == 1, tables
    return tables.pop()


@pytest.fixture
def segmented():
    """A survey that tallies plan and region, and the same survey as one that tallies nothing."""
    survey = make_survey(kind="nps", dashboard_properties=["plan", "region"])
    touchpoints = [make_touchpoint(survey=survey) for _ in range(2)]
    answer_at_random(random.Random(23), survey, touchpoints, 160)
    untallied = Survey.objects.get(pk=survey.pk)
    untallied.dashboard_properties = []
    return survey, untallied, touchpoints


def test_one_property_filter_counts_the_property_tally_and_gives_the_responses_numbers(segmented):
    survey, untallied, touchpoints = segmented
    for touchpoint_filter in ((), (touchpoints[0].pk, NO_TOUCHPOINT)):
        period = {"since": date(2026, 10, 5), "until": date(2026, 11, 20), "touchpoints": touchpoint_filter}
        for properties in ((("plan", "pro"),), (("region", "DE"),), (("plan", "gold"),)):
            tallied = Filters(survey=survey, **period, properties=properties)
            raw = Filters(survey=untallied, **period, properties=properties)
            assert read_from(partial(histogram, tallied)) == "propertyscore"
            assert read_from(partial(histogram, raw)) == "response"
            assert histogram(tallied) == histogram(raw) == expected(raw).get("all", Counter())
            previous = expected(raw.previous()).get("all", Counter())
            assert panels(tallied, "week").previous == panels(raw, "week").previous == previous
            for interval in INTERVALS:
                assert histograms_over_time(tallied, interval) == histograms_over_time(raw, interval)
            assert histograms_by_touchpoint(tallied) == histograms_by_touchpoint(raw)
            assert histograms_by_touchpoint(raw) == expected(
                raw, by=lambda response: response.touchpoint_id or NO_TOUCHPOINT
            )
    pro = Filters(
        survey=survey, since=date(2026, 10, 1), until=date(2026, 11, 30), properties=(("plan", "pro"),)
    )
    assert sum(histogram(pro).values()) > 20


def test_a_breakdown_by_a_tallied_property_gives_the_responses_numbers(segmented):
    survey, untallied, touchpoints = segmented
    period = {"since": date(2026, 10, 5), "until": date(2026, 11, 20), "touchpoints": (touchpoints[1].pk,)}
    for name in ("plan", "region"):
        tallied, raw = Filters(survey=survey, **period), Filters(survey=untallied, **period)
        assert read_from(partial(histograms_by_property, tallied, name)) == "propertyscore"
        assert histograms_by_property(tallied, name) == histograms_by_property(raw, name)
        assert histograms_by_property(raw, name) == expected(
            raw, by=partial(Response.property_value, name=name)
        )
    by_plan = histograms_by_property(Filters(survey=survey, **period), "plan")
    assert set(by_plan) == {"pro", "basic", "plus"}  # 5 and null form no group
    # A filter on the same property leaves one group, also counted from its tally.
    pro = Filters(survey=survey, **period, properties=(("plan", "pro"),))
    assert read_from(partial(histograms_by_property, pro, "plan")) == "propertyscore"
    assert histograms_by_property(pro, "plan") == {"pro": by_plan["pro"]}


def test_what_no_tally_holds_is_counted_from_the_responses(segmented):
    survey, _, _ = segmented
    period = {"since": date(2026, 10, 5), "until": date(2026, 11, 20)}
    both = Filters(survey=survey, **period, properties=(("plan", "pro"), ("region", "DE")))
    assert read_from(partial(histogram, both)) == "response"
    assert histogram(both) == expected(both).get("all", Counter())
    assert sum(histogram(both).values()) > 0
    filtered = Filters(survey=survey, **period, properties=(("region", "DE"),))
    assert read_from(partial(histograms_by_property, filtered, "plan")) == "response"
    assert histograms_by_property(filtered, "plan") == expected(
        filtered, by=lambda response: response.property_value("plan")
    )
    untallied_name = Filters(survey=survey, **period, properties=(("carrier", "DHL"),))
    assert read_from(partial(histogram, untallied_name)) == "response"
