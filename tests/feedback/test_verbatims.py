from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from feedback import verbatims
from feedback.counts import Filters
from feedback.verbatims import VerbatimQuery, find_verbatims, highlighted
from surveys.models import Response
from tests.factories import answer_by_link, make_survey

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 11, 2, 9, 0, tzinfo=BERLIN)


@pytest.fixture
def survey():
    return make_survey(kind="nps")


@pytest.fixture
def period(survey):
    return Filters(survey=survey, since=date(2026, 11, 1), until=date(2026, 11, 30))


def answer(survey, score, comment, *, language="de", hours=0):
    return answer_by_link(survey, score, START + timedelta(hours=hours), comment=comment, language=language)


def comments(query):
    return [response.comment for response in find_verbatims(query)]


def test_comments_come_newest_first_and_filter_by_category_and_score(survey, period):
    answer(survey, 2, "Viel zu spät", hours=1)
    answer(survey, 9, "Alles bestens", hours=2)
    answer(survey, 7, "", hours=3)
    answer(survey, 10, "Sehr schnell", hours=4)
    assert comments(VerbatimQuery(period)) == ["Sehr schnell", "Alles bestens", "Viel zu spät"]
    assert comments(VerbatimQuery(period, category="promoter")) == ["Sehr schnell", "Alles bestens"]
    assert comments(VerbatimQuery(period, score=2)) == ["Viel zu spät"]
    assert comments(VerbatimQuery(period, with_comment=False)) == [""]
    assert len(comments(VerbatimQuery(period, with_comment=None))) == 4


def test_search_finds_words_and_marks_them_after_escaping(survey, period):
    answer(survey, 3, "<b>Lieferung</b> kam zwei Wochen zu spät")
    answer(survey, 9, "Freundlicher Kundendienst", hours=1)
    query = VerbatimQuery(period, text="Lieferung")
    [found] = find_verbatims(query)
    html = highlighted(found, query.text)
    assert "&lt;b&gt;<mark>Lieferung</mark>&lt;/b&gt;" in html
    assert "<b>" not in html


@pytest.mark.skipif(connection.vendor != "postgresql", reason="stemming is PostgreSQL's")
def test_postgresql_searches_each_comment_in_its_language(survey, period):
    answer(survey, 3, "Die Lieferungen waren beschädigt")
    answer(survey, 4, "Both deliveries were late", language="en", hours=1)
    answer(survey, 9, "Schnell und freundlich", hours=2)
    assert comments(VerbatimQuery(period, text="Lieferung")) == ["Die Lieferungen waren beschädigt"]
    [english] = find_verbatims(VerbatimQuery(period, text="delivery"))
    assert highlighted(english, "delivery") == "Both <mark>deliveries</mark> were late"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the indexes are PostgreSQL's")
def test_the_search_uses_the_language_indexes(survey):
    answer(survey, 3, "Die Lieferung war beschädigt")
    queryset = verbatims.search(Response.objects.all(), "Lieferung")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = queryset.explain()
    assert "response_comment_fts_de" in plan
    assert "response_comment_fts_en" in plan


def test_sqlite_and_postgresql_both_find_a_plain_substring_in_any_case(survey, period):
    answer(survey, 3, "Kundendienst war UNFREUNDLICH")
    assert comments(VerbatimQuery(period, text="unfreundlich")) == ["Kundendienst war UNFREUNDLICH"]


def test_substring_marks_survive_letters_that_change_length_when_lowered(survey):
    response = answer(survey, 3, "İstanbul: Lieferung fehlt, lieferung!")
    marked = verbatims._mark_substrings(response.comment, "LIEFERUNG")
    assert marked == "İstanbul: \ue000Lieferung\ue001 fehlt, \ue000lieferung\ue001!"
