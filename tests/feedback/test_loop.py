"""The loop's figures: counted for a known set of cases and answers, checked against a hand
computation, and shown on the dashboard to those who may view cases."""

from datetime import UTC, date, datetime, timedelta
from math import sqrt

import pytest
from django.utils import timezone

from feedback.counts import Filters
from feedback.loop import count_loop, loop_figures, median, proportion
from followup.models import Case, Recheck
from surveys.models import NO_TOUCHPOINT, Response
from tests.factories import make_contact, make_response, make_survey, make_touchpoint, take_away
from tests.feedback.pages import by_id

URL = "/dashboard/"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def at(day: int, hour: int = 10, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


def wilson(successes: int, n: int) -> tuple[float, float]:
    """The 95 % Wilson interval in %, written out: (p + z²/2n ± z √(p(1−p)/n + z²/4n²)) / (1 + z²/n)."""
    z, p = 1.96, successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return 100 * (centre - half), 100 * (centre + half)


# Pure arithmetic


@pytest.mark.parametrize(
    ("durations", "expected"),
    [
        ({}, None),
        ({timedelta(hours=5): 1}, timedelta(hours=5)),
        ({timedelta(hours=1): 1, timedelta(hours=3): 1}, timedelta(hours=2)),
        ({timedelta(hours=1): 2, timedelta(hours=9): 1}, timedelta(hours=1)),
        ({timedelta(hours=9): 1, timedelta(hours=1): 1, timedelta(hours=4): 2}, timedelta(hours=4)),
        ({timedelta(0): 0, timedelta(hours=2): 1}, timedelta(hours=2)),
    ],
)
def test_the_median_counts_each_duration_as_often_as_it_occurred(durations, expected):
    assert median(durations) == expected


def test_a_negative_count_is_refused():
    with pytest.raises(ValueError):
        median({timedelta(hours=1): -1})
    with pytest.raises(ValueError):
        proportion(3, 2)


def test_a_share_of_nothing_has_no_value_and_no_interval():
    share = proportion(0, 0)
    assert (share.value, share.interval, share.small_sample) == (None, None, False)


@pytest.mark.parametrize(("successes", "n"), [(0, 5), (1, 2), (7, 7), (12, 40)])
def test_a_share_has_the_wilson_interval(successes, n):
    share = proportion(successes, n)
    assert share.value == pytest.approx(100 * successes / n)
    assert share.interval == pytest.approx(wilson(successes, n))
    assert share.small_sample is (n < 30)


# Counting a known set


@pytest.fixture
def survey():
    return make_survey(kind="nps", name="Service")


@pytest.fixture
def counter(survey):
    return make_touchpoint(survey=survey, name="Service desk")


def answer(survey, touchpoint, contact, score, moment):
    return make_response(
        survey=survey,
        score=score,
        contact=contact,
        touchpoint=touchpoint,
        channel=Response.Channel.EMAIL,
        created_at=moment,
        updated_at=moment,
    )


def case_for(response, *, opened, due, first=None, closed=None, status=Case.Status.NEW, resolution=""):
    return Case.objects.create(
        response=response,
        survey=response.survey,
        touchpoint=response.touchpoint,
        opening_score=response.score,
        status=status,
        resolution=resolution,
        due_at=due,
        first_response_at=first,
        resolved_at=closed,
        created_at=opened,
        updated_at=opened,
    )


@pytest.fixture
def known(survey, counter):
    """Five cases opened in November 2026, one in October, and the answers that followed.

    - c1 (2): answered in 24 h, within the due time; resolved after 72 h; later a 9.
    - c2 (5): answered in 72 h, a day late; resolved after 120 h; a 10 before the resolution,
      then a 4 after it.
    - c3 (0): answered in 2 h, in time; still in progress, its due time passed.
    - c4 (6): nobody answered, still new, overdue; later an 8.
    - c5 (1): no case at all; later a 3.
    - c6 (9): a promoter's case, answered in 1 h, closed without action after 2 h.
    - c7 (0): a case opened in October, outside the period.

    Asked again after their case, c1 said it was solved, c2 has not answered, c7 said no.
    """
    c = {number: make_contact(email=f"c{number}@example.com") for number in range(1, 8)}
    resolved = {"status": Case.Status.RESOLVED, "resolution": Case.Resolution.SOLVED}
    a1 = answer(survey, counter, c[1], 2, at(2))
    case1 = case_for(a1, opened=at(2), due=at(4), first=at(3), closed=at(5), **resolved)
    Recheck.objects.create(
        case=case1, due_at=at(12), language="de", sent_at=at(12), answered_at=at(13), solved=True
    )
    answer(survey, counter, c[1], 9, at(20))
    a2 = answer(survey, counter, c[2], 5, at(3))
    case2 = case_for(a2, opened=at(3), due=at(5), first=at(6), closed=at(8), **resolved)
    Recheck.objects.create(case=case2, due_at=at(18), language="de", sent_at=at(18))
    answer(survey, counter, c[2], 10, at(7))
    answer(survey, counter, c[2], 4, at(25))
    a3 = answer(survey, counter, c[3], 0, at(4))
    case_for(a3, opened=at(4), due=at(6), first=at(4, 12), status=Case.Status.IN_PROGRESS)
    a4 = answer(survey, counter, c[4], 6, at(5))
    case_for(a4, opened=at(5), due=at(7))
    answer(survey, counter, c[4], 8, at(15))
    answer(survey, counter, c[5], 1, at(6))
    answer(survey, counter, c[5], 3, at(16))
    a6 = answer(survey, counter, c[6], 9, at(6))
    case_for(a6, opened=at(6), due=at(8), first=at(6, 11), closed=at(6, 12), status=Case.Status.NO_ACTION)
    a7 = answer(survey, counter, c[7], 0, at(20, month=10))
    case7 = case_for(a7, opened=at(20, month=10), due=at(22, month=10))
    Recheck.objects.create(
        case=case7, due_at=at(1), language="en", sent_at=at(1), answered_at=at(2), solved=False
    )
    return survey


NOVEMBER = {"since": date(2026, 11, 1), "until": date(2026, 11, 30)}


@pytest.mark.django_db
def test_the_figures_of_a_known_month_match_the_hand_computation(known, django_assert_num_queries):
    with timezone.override(UTC), django_assert_num_queries(4):
        counts = count_loop(Filters(survey=known, **NOVEMBER), now=NOW)
    figures = loop_figures(counts)
    # Cases opened in November: c1, c2, c3, c4, c6. Open: c3 and c4, both past due on 1 December.
    assert (figures.cases, figures.open, figures.overdue) == (5, 2, 2)
    # First responses after 1, 2, 24 and 72 hours: the median lies halfway between 2 and 24.
    assert figures.median_first_response == timedelta(hours=13)
    # Closed after 2 (c6), 72 (c1) and 120 hours (c2): the middle one.
    assert figures.median_resolution == timedelta(hours=72)
    # Detractor cases c1, c2, c3, c4; first answered by the due time: c1 and c3.
    sla = figures.contacted_in_time
    assert (sla.successes, sla.n, sla.value) == (2, 4, 50.0)
    assert sla.interval == pytest.approx(wilson(2, 4))
    # Resolved detractors c1 and c2 both answered again after the resolution: c1 a 9 (recovered),
    # c2 a 4 (its 10 came before the resolution and does not count).
    assert figures.resolved_detractors == 2
    recovered = figures.recovered
    assert (recovered.successes, recovered.n, recovered.value) == (1, 2, 50.0)
    assert recovered.interval == pytest.approx(wilson(1, 2))
    # Nobody contacted: c4's 6 (a case without a first response), c5's 1 and 3, and c2's later 4.
    # Answered again: c4 (an 8: recovered) and c5's 1 (a 3: not); the other two did not.
    assert figures.uncontacted_detractors == 4
    uncontacted = figures.recovered_without_contact
    assert (uncontacted.successes, uncontacted.n) == (1, 2)
    assert uncontacted.interval == pytest.approx(wilson(1, 2))
    # Asked again: c1 answered yes; c2 has not answered; c7's no belongs to October.
    solved = figures.solved_when_asked
    assert (solved.successes, solved.n, solved.value) == (1, 1, 100.0)


@pytest.mark.django_db
def test_the_figures_follow_the_touchpoint_filter(known, counter):
    other = make_touchpoint(survey=known, name="Shop")
    with timezone.override(UTC):
        at_counter = loop_figures(
            count_loop(Filters(survey=known, touchpoints=(counter.pk,), **NOVEMBER), now=NOW)
        )
        elsewhere = loop_figures(
            count_loop(Filters(survey=known, touchpoints=(other.pk, NO_TOUCHPOINT), **NOVEMBER), now=NOW)
        )
    assert at_counter.cases == 5
    assert (elsewhere.cases, elsewhere.uncontacted_detractors, elsewhere.contacted_in_time.n) == (0, 0, 0)
    assert elsewhere.median_first_response is None


@pytest.mark.django_db
def test_csat_counts_the_dissatisfied_as_detractors(counter):
    survey = make_survey(kind="csat")
    desk = make_touchpoint(survey=survey)
    contact = make_contact()
    low = answer(survey, desk, contact, 2, at(2))
    case_for(low, opened=at(2), due=at(3), first=at(2, 11), closed=at(4), status=Case.Status.RESOLVED)
    answer(survey, desk, contact, 3, at(10))  # neutral: above the lowest category
    neutral = answer(survey, desk, make_contact(), 3, at(2))
    case_for(neutral, opened=at(2), due=at(3))
    with timezone.override(UTC):
        figures = loop_figures(count_loop(Filters(survey=survey, **NOVEMBER), now=NOW))
    assert figures.contacted_in_time.n == 1
    assert (figures.recovered.successes, figures.recovered.n) == (1, 1)


# The dashboard's panel


@pytest.mark.django_db
def test_the_dashboard_shows_the_loop_to_those_who_may_view_cases(client, cx_manager, known):
    client.force_login(cx_manager)
    with timezone.override(UTC):
        html = client.get(
            URL, {"survey": known.pk, "since": "2026-11-01", "until": "2026-11-30"}
        ).content.decode()
    assert 'id="loop"' in html
    assert 'data-cases="5"' in html
    assert by_id(html, "loop-open") == "2"
    assert 'id="loop-in-time" data-successes="2" data-n="4"' in html
    assert 'id="loop-recovered" data-successes="1" data-n="2"' in html
    assert 'id="loop-uncontacted" data-successes="1" data-n="2"' in html
    assert 'id="loop-solved" data-successes="1" data-n="1"' in html


@pytest.mark.django_db
def test_the_question_after_a_case_shows_only_where_it_was_answered(client, cx_manager, known):
    Recheck.objects.update(answered_at=None, solved=None)
    client.force_login(cx_manager)
    html = client.get(
        URL, {"survey": known.pk, "since": "2026-11-01", "until": "2026-11-30"}
    ).content.decode()
    assert 'id="loop-recovered"' in html
    assert 'id="loop-solved"' not in html


@pytest.mark.django_db
def test_readers_who_may_not_view_cases_see_no_loop(client, analyst, known):
    take_away(analyst, "view_case")
    client.force_login(analyst)
    html = client.get(
        URL, {"survey": known.pk, "since": "2026-11-01", "until": "2026-11-30"}
    ).content.decode()
    assert 'id="headline-value"' in html
    assert 'id="loop"' not in html
