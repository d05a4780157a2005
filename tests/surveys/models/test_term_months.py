"""The term tally's months summed (``TermMonth``): rolled up once a month has ended, kept by the
triggers for the answers of those months that change or go, read by the insights in place of
their days, and checked against a fresh count with every tally (tests/conftest.py)."""

from datetime import date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from feedback.counts import Filters
from insights.counts import Group, pair_counts
from surveys.models import Response, TallyZone, Term, TermMonth, TermTally, rebuild_tallies, tally_drift
from surveys.models.tallies import COMMENTS
from tests.factories import make_response, make_survey

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="months are rolled up on PostgreSQL only"),
]

LATE = "Lieferung kam zu spät"


def month_start(day: date, months_back: int = 0) -> date:
    for _ in range(months_back):
        day = day.replace(day=1) - timedelta(days=1)
    return day.replace(day=1)


TODAY = timezone.localdate()
# The last day rolled up: the end of the month before the one of the day before yesterday.
ROLLED = month_start(TODAY - timedelta(days=2)) - timedelta(days=1)
THREE_AGO = month_start(ROLLED, 2)  # the first day of the month two before the last rolled up


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.get_current_timezone())


def answer(survey, score: int, day: date, comment: str = LATE, language: str = "de") -> Response:
    return make_response(survey=survey, score=score, comment=comment, language=language, created_at=at(day))


def months(term: str = "lieferung") -> dict[tuple[date, str], int]:
    rows = TermMonth.objects.filter(term__text=term, responses__gt=0)
    return {(row.month, row.category): row.responses for row in rows}


@pytest.fixture
def survey():
    return make_survey(kind="nps")


def test_a_roll_up_sums_the_ended_months_once_and_the_triggers_keep_them(survey):
    first = answer(survey, 2, THREE_AGO + timedelta(days=14))
    second = answer(survey, 3, THREE_AGO + timedelta(days=20))
    answer(survey, 9, TODAY, "Lieferung pünktlich")  # its month is running: days only
    assert TermMonth.objects.roll_up() > 0
    assert TallyZone.objects.get().terms_rolled_until == ROLLED
    assert months() == {(THREE_AGO, "detractor"): 2}
    assert months(COMMENTS) == {(THREE_AGO, "detractor"): 2}
    assert TermMonth.objects.roll_up() == 0  # nothing ended since
    second.delete()
    assert months() == {(THREE_AGO, "detractor"): 1}
    first.score = 10
    first.save()
    assert months() == {(THREE_AGO, "promoter"): 1}
    answer(survey, 0, THREE_AGO + timedelta(days=1), "Paket beschädigt")  # a late import
    assert months("paket") == {(THREE_AGO, "detractor"): 1}
    assert tally_drift() == []


def test_comparisons_read_the_same_from_the_months_as_from_the_days(survey):
    for months_back in range(3):
        start = month_start(ROLLED, months_back)
        for offset, (score, comment) in enumerate(
            [(1, LATE), (2, "Paket beschädigt"), (10, "Schnelle Lieferung"), (9, "Freundlicher Fahrer")] * 2
        ):
            answer(survey, score, start + timedelta(days=3 * offset), comment)
    answer(survey, 3, TODAY, "Hotline nicht erreichbar")
    answer(survey, 10, TODAY, "Fast delivery", language="en")
    # From the middle of the first month to today: whole months between days before and after.
    filters = Filters(survey=survey, since=THREE_AGO + timedelta(days=9), until=TODAY)
    groups = (Group(filters, categories=("detractor",)), Group(filters, categories=("promoter",)))
    from_days = pair_counts(*groups, min_count=1)
    TermMonth.objects.roll_up()
    with CaptureQueriesContext(connection) as queries:
        from_months = pair_counts(*groups, min_count=1)
    assert from_months == from_days
    assert from_days[0].terms["lieferung"] == 5  # the first month's first two weeks are left out
    assert any(TermMonth._meta.db_table in query["sql"] for query in queries.captured_queries)
    german = tuple(Group(filters, categories=group.categories, language="de") for group in groups)
    assert pair_counts(*german, min_count=1)[1].terms.get("fast") is None


def test_pruning_and_a_recount_keep_the_months(survey):
    answer(survey, 2, THREE_AGO + timedelta(days=3))
    named = answer(survey, 9, THREE_AGO + timedelta(days=4), "Frau Krause war sehr nett")
    TermMonth.objects.roll_up()
    named.delete()
    TermTally.objects.prune()
    assert not Term.objects.filter(text="nett").exists()
    assert not TermMonth.objects.filter(responses=0).exists()
    kept = {(row.month, row.category, row.term_id): row.responses for row in TermMonth.objects.all()}
    rebuild_tallies()
    assert {(row.month, row.category, row.term_id): row.responses for row in TermMonth.objects.all()} == kept
    TermMonth.objects.update(responses=7)
    drift = tally_drift()
    assert drift and {row.tally for row in drift} == {"term months"}
    rebuild_tallies([survey])
    assert tally_drift() == []
