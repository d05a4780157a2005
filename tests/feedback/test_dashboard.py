from collections import Counter
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from feedback import counts
from feedback.counts import Filters
from feedback.dashboard import (
    IntervalChoice,
    build_dashboard,
    default_survey,
    period_response_rate,
    pick_interval,
)
from feedback.models import SurveyVisit
from surveys.models import NO_TOUCHPOINT, Response, Survey
from tests.factories import answer_by_link, make_contact, make_invitation, make_survey, make_touchpoint

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
CARRIERS = ("DHL", "DPD", "GLS")


@pytest.fixture
def survey():
    """An NPS survey that tallies plan, with answers over two months by email and by link, each
    with the carrier of its event."""
    survey = make_survey(kind="nps", dashboard_properties=["plan"])
    touchpoint = make_touchpoint(survey=survey)
    contact = make_contact(properties={"plan": "pro"})
    start = datetime(2026, 10, 1, 12, 0, tzinfo=BERLIN)
    for number in range(40):
        at = start + timedelta(days=number * 3 // 2, hours=number % 5)
        properties = {"carrier": CARRIERS[number % 3]}
        if number % 4:
            invitation = make_invitation(
                survey=survey, touchpoint=touchpoint, contact=contact, now=at, properties=properties
            )
            invitation.record_answer(score=number % 11, comment=f"comment {number}", language="de", now=at)
        else:
            answer_by_link(survey, number % 11, at, properties=properties, comment=f"comment {number}")
    return survey


def responses_read(queries) -> list[str]:
    """The queries that count responses (the latest verbatims also read them, without counting)."""
    return [
        query["sql"] for query in queries if '"surveys_response"' in query["sql"] and "COUNT(" in query["sql"]
    ]


@pytest.mark.parametrize("interval", ["day", "week", "month"])
def test_an_untallied_filter_reads_the_responses_once_for_all_panels(survey, interval):
    filters = Filters(
        survey=survey, since=date(2026, 11, 1), until=date(2026, 11, 30), properties=(("carrier", "DHL"),)
    )
    with CaptureQueriesContext(connection) as queries:
        board = build_dashboard(filters, interval=interval)
    # Headline, previous period, series and touchpoints: four panels, one scan.
    assert len(responses_read(queries)) == 1
    dhl = [
        response
        for response in Response.objects.filter(survey=survey)
        if response.property_value("carrier") == "DHL"
    ]
    in_november = [r for r in dhl if r.created_at.astimezone(BERLIN).month == 11]
    in_october = [r for r in dhl if r.created_at.astimezone(BERLIN).date() >= date(2026, 10, 2)]
    in_october = [r for r in in_october if r.created_at.astimezone(BERLIN).month == 10]
    assert board.summary.n == len(in_november) > 0
    assert board.previous.n == len(in_october) > 0
    assert board.histogram == Counter(r.score for r in in_november)
    assert sum(bucket.summary.n for bucket in board.series) == len(in_november)
    assert {segment.key for segment in board.by_touchpoint} == {
        r.touchpoint_id or NO_TOUCHPOINT for r in in_november
    }
    assert sum(segment.summary.n for segment in board.by_touchpoint) == len(in_november)


def test_a_breakdown_adds_one_scan_and_a_tallied_filter_none(survey):
    period = {"survey": survey, "since": date(2026, 11, 1), "until": date(2026, 11, 30)}
    untallied = Filters(**period, properties=(("carrier", "DHL"),))
    with CaptureQueriesContext(connection) as queries:
        board = build_dashboard(untallied, interval="week", breakdown_property="plan")
    assert len(responses_read(queries)) == 2
    assert sum(segment.summary.n for segment in board.by_property) == board.summary.n
    tallied = Filters(**period, properties=(("plan", "pro"),))
    with CaptureQueriesContext(connection) as queries:
        build_dashboard(tallied, interval="week", breakdown_property="plan")
    assert responses_read(queries) == []


def test_a_week_across_the_periods_start_counts_each_answer_in_its_own_period():
    survey = make_survey(kind="nps")
    # Wednesday 4 November starts the period: the week from Monday 2 November straddles it.
    answer_by_link(survey, 0, datetime(2026, 11, 3, 23, 30, tzinfo=BERLIN), properties={"carrier": "DHL"})
    answer_by_link(survey, 10, datetime(2026, 11, 4, 0, 30, tzinfo=BERLIN), properties={"carrier": "DHL"})
    period = {"survey": survey, "since": date(2026, 11, 4), "until": date(2026, 11, 17)}
    for filters in (Filters(**period), Filters(**period, properties=(("carrier", "DHL"),))):
        board = build_dashboard(filters, interval="week")
        assert board.histogram == Counter({10: 1})
        assert dict(board.previous.categories) == {"detractor": 1, "passive": 0, "promoter": 0}
        assert [(bucket.start, bucket.summary.n) for bucket in board.series] == [(date(2026, 11, 2), 1)]


# The interval, chosen from the answers per day

NOV_1, NOV_30 = date(2026, 11, 1), date(2026, 11, 30)


def every_day(since: date, until: date, n: int) -> dict[date, int]:
    return {since + timedelta(days=offset): n for offset in range((until - since).days + 1)}


@pytest.mark.parametrize(
    ("daily", "since", "until", "today", "expected"),
    [
        # 40 a day: days hold enough.
        (every_day(NOV_1, NOV_30, 40), NOV_1, NOV_30, date(2026, 12, 6), ("day", "enough", 30, 30)),
        # 10 a day: weeks do (the three whole weeks of November 2026, Monday to Sunday).
        (every_day(NOV_1, NOV_30, 10), NOV_1, NOV_30, date(2026, 12, 6), ("week", "enough", 4, 4)),
        # One a day over 30 days: not even weeks; months are not offered for 30 days.
        (every_day(NOV_1, NOV_30, 1), NOV_1, NOV_30, date(2026, 12, 6), ("week", "longest", 0, 4)),
        # Two a day over a year: months (60 and more) do, weeks (14) do not.
        (
            every_day(date(2025, 12, 7), date(2026, 12, 6), 2),
            date(2025, 12, 7),
            date(2026, 12, 6),
            date(2026, 12, 6),
            ("month", "enough", 11, 11),
        ),
        # A handful a month over a year: quarters.
        (
            {date(2026, month, 3): 12 for month in range(1, 13)},
            date(2026, 1, 1),
            date(2026, 12, 31),
            date(2027, 1, 5),
            ("quarter", "enough", 4, 4),
        ),
        # Today's few answers do not count against days: the running day is left out.
        (
            {**every_day(NOV_1, date(2026, 11, 29), 35), NOV_30: 1},
            NOV_1,
            NOV_30,
            NOV_30,
            ("day", "enough", 29, 29),
        ),
        # Without answers: days for short periods, weeks for long ones.
        ({}, NOV_1, NOV_30, NOV_30, ("day", "no data", 0, 0)),
        ({}, date(2026, 1, 1), NOV_30, NOV_30, ("week", "no data", 0, 0)),
    ],
)
def test_the_interval_is_the_shortest_whose_buckets_mostly_hold_30_answers(
    daily, since, until, today, expected
):
    choice = pick_interval(daily, since=since, until=until, today=today)
    assert (choice.interval, choice.reason, choice.full, choice.counted) == expected


@pytest.mark.parametrize("tallied", [True, False])
def test_the_answers_per_day_come_from_one_query(survey, tallied, django_assert_num_queries):
    properties = (("plan", "pro"),) if tallied else (("carrier", "DHL"),)
    filters = Filters(survey=survey, since=date(2026, 10, 1), until=date(2026, 11, 30), properties=properties)
    with django_assert_num_queries(1):
        daily = counts.daily_counts(filters)
    expected = Counter(
        response.created_at.astimezone(BERLIN).date()
        for response in Response.objects.filter(survey=survey)
        if response.property_value(properties[0][0]) == properties[0][1]
    )
    assert daily == dict(expected) and daily


def test_without_an_interval_the_dashboard_chooses_one_and_says_why(survey):
    filters = Filters(survey=survey, since=date(2026, 10, 1), until=date(2026, 11, 30))
    board = build_dashboard(filters, today=date(2026, 12, 6))
    # 40 answers over two months: neither a week nor a month holds 30, so the longest interval
    # offered for 61 days; quarters are not.
    assert (board.interval, board.interval_choice.reason) == ("month", IntervalChoice.LONGEST)
    assert (board.interval_choice.full, board.interval_choice.counted) == (0, 2)
    assert [bucket.start for bucket in board.series] == [date(2026, 10, 1), date(2026, 11, 1)]
    chosen = build_dashboard(filters, interval="day", today=date(2026, 12, 6))
    assert (chosen.interval, chosen.interval_choice.reason) == ("day", IntervalChoice.CHOSEN)


def test_quarters_count_from_the_tally_and_from_the_responses_alike(survey):
    period = {"survey": survey, "since": date(2026, 1, 1), "until": date(2026, 12, 31)}
    tallied = build_dashboard(Filters(**period), interval="quarter")
    raw = build_dashboard(
        Filters(**period, properties=(("carrier", "DHL"), ("carrier", "DHL"))), interval="quarter"
    )
    assert [bucket.start for bucket in tallied.series] == [date(2026, 10, 1)]
    assert tallied.series[0].summary.n == 40
    assert [bucket.start for bucket in raw.series] == [date(2026, 10, 1)]


# The survey the dashboard opens on


def test_it_opens_on_the_survey_the_user_looks_at_most(cx_manager, admin_user, django_assert_num_queries):
    busy, quiet, other = (
        make_survey(name="A busy one"),
        make_survey(name="B quiet"),
        make_survey(name="C other"),
    )
    for _ in range(3):
        answer_by_link(busy, 9, datetime(2026, 11, 20, 12, 0, tzinfo=BERLIN))
    answer_by_link(quiet, 9, datetime(2026, 11, 20, 12, 0, tzinfo=BERLIN))
    surveys = Survey.objects.filter(pk__in=[busy.pk, quiet.pk, other.pk])
    period = {"since": date(2026, 11, 1), "until": date(2026, 11, 30)}
    # No visits yet: the most answers in the period, not the first by name.
    with django_assert_num_queries(1):
        assert default_survey(cx_manager, surveys.filter(pk__in=[quiet.pk, other.pk]), **period) == quiet
    now = timezone.now()
    SurveyVisit.objects.record(user_id=cx_manager.pk, survey_id=other.pk, now=now)
    SurveyVisit.objects.record(user_id=cx_manager.pk, survey_id=other.pk, now=now)
    SurveyVisit.objects.record(user_id=cx_manager.pk, survey_id=quiet.pk, now=now)
    assert SurveyVisit.objects.get(user=cx_manager, survey=other).visits == 2
    assert default_survey(cx_manager, surveys, **period) == other
    # Another user's visits are theirs.
    assert default_survey(admin_user, surveys, **period) == busy
    # A survey the user may no longer see is not among the candidates.
    assert default_survey(cx_manager, surveys.exclude(pk=other.pk), **period) == quiet


# The response rate


def test_the_response_rate_follows_property_filters_as_the_invitation_knows_them():
    survey = make_survey(kind="nps")
    touchpoint = make_touchpoint(survey=survey)
    at = datetime(2026, 11, 10, 12, 0, tzinfo=BERLIN)
    north, south = make_contact(properties={"region": "Nord"}), make_contact(properties={"region": "Süd"})
    for contact, event, answered in [
        (north, {}, True),
        (north, {}, False),
        (south, {}, True),
        (south, {"region": "Nord"}, True),  # the event's property wins over the contact's
        (north, {"region": "Süd"}, False),
    ]:
        invitation = make_invitation(
            survey=survey, touchpoint=touchpoint, contact=contact, now=at, properties=event
        )
        if answered:
            invitation.record_answer(score=9, comment="", language="de", now=at)
    period = {"survey": survey, "since": date(2026, 11, 1), "until": date(2026, 11, 30)}
    assert period_response_rate(Filters(**period)) == pytest.approx(3 / 5)
    assert period_response_rate(Filters(**period, properties=(("region", "Nord"),))) == pytest.approx(2 / 3)
    assert period_response_rate(Filters(**period, properties=(("region", "Süd"),))) == pytest.approx(1 / 2)
    # No invitation with the value: no rate, never the overall one.
    assert period_response_rate(Filters(**period, properties=(("region", "West"),))) is None
    assert period_response_rate(Filters(**period, touchpoints=(NO_TOUCHPOINT,))) is None


def test_the_response_rate_says_it_ignores_tags(survey):
    filters = Filters(survey=survey, since=date(2026, 10, 1), until=date(2026, 11, 30))
    assert build_dashboard(filters).response_rate_ignores == ()
    assert build_dashboard(replace(filters, tags=(1,))).response_rate_ignores == ("tags",)
