from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from feedback.counts import Filters
from feedback.dashboard import build_dashboard
from surveys.models import NO_TOUCHPOINT, Response
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
