"""``GET /api/v1/insights/terms/``: the insights' comparisons for programs, with the numbers of
``insights.compare`` and the metrics API's checks."""

from datetime import date, timedelta

import pytest

from feedback.counts import Filters
from insights.api import term_json
from insights.compare import against_previous_period, lowest_against_highest
from insights.counts import Group
from tests.factories import make_api_token, make_survey, make_touchpoint
from tests.feedback.pages import answer

pytestmark = pytest.mark.django_db

URL = "/api/v1/insights/terms/"
NOVEMBER = {"since": "2026-11-01", "until": "2026-11-30"}
FILTERS_OF_NOVEMBER = {"since": date(2026, 11, 1), "until": date(2026, 11, 30)}


def get(client, token, **params):
    return client.get(URL, params, headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"})


def comments(survey, score, comment, count, *, day=date(2026, 11, 10), language="de", touchpoint=None):
    for n in range(count):
        answer(
            survey,
            score,
            day + timedelta(days=n // 12),
            hour=8 + n % 12,
            comment=comment,
            language=language,
            touchpoint=touchpoint,
        )


@pytest.fixture
def survey():
    survey = make_survey(kind="nps")
    comments(survey, 2, "Die Lieferung kam mit Verspätung", 14)
    comments(survey, 1, "Verspätung und Rechnung falsch", 6)
    comments(survey, 10, "Freundlichkeit und Beratung", 15)
    comments(survey, 9, "Beratung", 5)
    comments(survey, 8, "Geht so", 3)
    comments(survey, 10, "Friendly staff", 6, language="en")
    comments(survey, 3, "Rechnung falsch", 12, day=date(2026, 10, 12))
    return survey


@pytest.fixture
def token(cx_manager):
    return make_api_token(user=cx_manager)


def expected_json(comparison, side):
    group, counts, scores = (
        (comparison.a, comparison.counts_a, comparison.terms.a)
        if side == "a"
        else (comparison.b, comparison.counts_b, comparison.terms.b)
    )
    return {
        "since": group.filters.since.isoformat(),
        "until": group.filters.until.isoformat(),
        "categories": list(group.categories),
        "comments": counts.comments,
        "terms": [term_json(score) for score in scores],
    }


def test_detractors_against_promoters_are_the_comparisons_numbers(client, token, survey):
    answered = get(client, token, survey=survey.pk, compare="categories", **NOVEMBER)
    assert answered.status_code == 200
    body = answered.json()
    comparison = lowest_against_highest(Filters(survey, **FILTERS_OF_NOVEMBER))
    assert (body["survey"], body["kind"], body["compare"], body["language"]) == (
        survey.pk,
        "nps",
        "categories",
        None,
    )
    assert body["a"] == expected_json(comparison, "a")
    assert body["b"] == expected_json(comparison, "b")
    assert (body["a"]["comments"], body["b"]["comments"]) == (20, 26)
    assert body["a"]["categories"] == ["detractor"] and body["b"]["categories"] == ["promoter"]
    assert body["a"]["terms"] and body["b"]["terms"]
    first = body["a"]["terms"][0]
    assert set(first) == {"term", "z", "delta", "count_a", "count_b", "share_a", "share_b"}
    assert first["z"] > 1.96 and first["share_a"] == pytest.approx(100 * first["count_a"] / 20)


def test_the_period_against_the_previous_one_in_one_language(client, token, survey):
    body = get(client, token, survey=survey.pk, compare="previous", language="de", **NOVEMBER).json()
    comparison = against_previous_period(Group(Filters(survey, **FILTERS_OF_NOVEMBER), language="de"))
    assert body["language"] == "de"
    assert body["a"] == expected_json(comparison, "a")
    assert body["b"] == expected_json(comparison, "b")
    assert (body["b"]["since"], body["b"]["until"], body["b"]["comments"]) == ("2026-10-02", "2026-10-31", 12)


def test_a_touchpoint_narrows_the_comments(client, token, survey):
    delivery = make_touchpoint(survey=survey, name="Lieferung")
    comments(survey, 0, "Paket beschädigt", 6, touchpoint=delivery)
    comments(survey, 10, "Paket pünktlich", 6, touchpoint=delivery)
    body = get(
        client, token, survey=survey.pk, compare="categories", touchpoint=delivery.pk, **NOVEMBER
    ).json()
    comparison = lowest_against_highest(Filters(survey, **FILTERS_OF_NOVEMBER, touchpoints=(delivery.pk,)))
    assert (body["a"]["comments"], body["b"]["comments"]) == (6, 6)
    assert body["a"] == expected_json(comparison, "a")


def test_the_schema_documents_it(admin_client):
    schema = admin_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"][URL]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"survey", "compare", "language", "since", "until", "touchpoint"} <= names
    compare = next(parameter for parameter in operation["parameters"] if parameter["name"] == "compare")
    assert compare["required"] is True and compare["schema"]["enum"] == ["categories", "previous"]
