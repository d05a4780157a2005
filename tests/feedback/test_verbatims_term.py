"""The comments behind a term of the insights: the explorer, its export and the answers' query
narrowed to the comments that have the term, on every database."""

import csv
import io
from datetime import date

import pytest

from surveys.models import Response
from surveys.terms import comment_ngrams
from tests.factories import make_survey
from tests.feedback.pages import answer, by_id
from tests.feedback.test_verbatims_view import rows

pytestmark = pytest.mark.django_db

NOVEMBER = {"since": "2026-11-01", "until": "2026-11-30"}
LATE, KIND = "Verspätung", "Freundlichkeit"


def term_of(word: str, language: str = "de") -> str:
    (term,) = comment_ngrams(word, language)
    return term


@pytest.fixture
def survey():
    survey = make_survey(kind="nps", name="Weiterempfehlung")
    day = date(2026, 11, 10)
    answer(survey, 2, day, hour=8, comment=LATE)
    answer(survey, 9, day, hour=9, comment=f"{KIND}, keine {LATE}")
    answer(survey, 10, day, hour=10, comment=KIND)
    answer(survey, 3, day, hour=11, comment="Verspätungen")  # counted with it if the lemmas join them
    answer(survey, 1, date(2026, 10, 20), comment=LATE)  # before the period
    return survey


def explore(client, survey, **params):
    return client.get("/verbatims/", {"survey": survey.pk, **NOVEMBER, **params})


def test_answers_with_a_term_are_those_whose_comment_has_it(survey):
    late = term_of(LATE)
    found = Response.objects.filter(survey=survey).with_term(late)
    assert sorted(response.score for response in found) == sorted(
        response.score
        for response in Response.objects.filter(survey=survey)
        if late in response.comment_ngrams
    )
    assert {response.score for response in found} >= {1, 2, 9}
    assert not found.filter(comment=KIND).exists()
    assert not Response.objects.with_term("kein solcher begriff").exists()
    # Within a subquery, as the explorer's filters nest it.
    assert Response.objects.filter(pk__in=found.values("pk")).count() == found.count()


def test_the_explorer_shows_only_the_comments_with_the_term(manager_client, survey):
    late = term_of(LATE)
    html = explore(manager_client, survey, term=late).content.decode()
    scores = [row.split(" ")[0] for row in rows(html)]
    expected = [
        str(response.score)
        for response in Response.objects.filter(survey=survey, created_at__month=11).order_by("-created_at")
        if late in response.comment_ngrams
    ]
    assert scores == expected
    assert "9" in scores and "10" not in scores
    detractors = explore(manager_client, survey, term=late, category="detractor").content.decode()
    assert [row.split(" ")[0] for row in rows(detractors)] == [s for s in expected if int(s) <= 6]


def test_the_term_shows_in_the_summary_with_a_way_to_remove_it(manager_client, survey):
    late = term_of(LATE)
    html = explore(manager_client, survey, term=late.upper(), category="detractor", page="1").content.decode()
    assert by_id(html, "filter-summary").endswith(f"Term: “{late}”")
    assert by_id(html, "term-filter") == f"Only comments with the term “{late}” Remove this filter"
    assert f'<input type="hidden" name="term" value="{late}" form="filters">' in html  # kept on Apply
    removal = html.split('id="remove-term"')[0].rsplit('href="?', 1)[1].split('"')[0]
    assert "term=" not in removal and "page=" not in removal and "category=detractor" in removal
    without = explore(manager_client, survey, category="detractor").content.decode()
    assert 'id="term-filter"' not in without
    assert "Term:" not in by_id(without, "filter-summary")


def test_an_empty_term_is_ignored_and_a_too_long_one_refused(manager_client, survey):
    assert len(rows(explore(manager_client, survey, term="  ").content.decode())) == 4
    page = explore(manager_client, survey, term="x" * 201)
    assert page.status_code == 400
    assert "Term: Ensure this value has at most 200 characters" in page.content.decode()


def test_the_export_keeps_the_term(manager_client, survey):
    late = term_of(LATE)
    download = manager_client.get(
        "/verbatims/export/", {"survey": survey.pk, **NOVEMBER, "term": late, "format": "csv"}
    )
    assert download.status_code == 200
    exported = list(csv.DictReader(io.StringIO(download.getvalue().decode("utf-8-sig"), newline="")))
    assert sorted(row["comment"] for row in exported) == sorted(
        response.comment
        for response in Response.objects.filter(survey=survey, created_at__month=11)
        if late in response.comment_ngrams
    )
