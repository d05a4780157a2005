"""``GET /api/v1/insights/themes/``: each theme's figures for programs, against hand computations,
with the metrics API's filters and checks."""

from collections import Counter

import pytest

from feedback.api.metrics import summary_json
from feedback.metrics import summarise
from insights.models import Theme
from tests.factories import make_api_token, make_survey
from tests.insights.themed import NOVEMBER, OCTOBER, PERIOD, answers, matched

pytestmark = pytest.mark.django_db

URL = "/api/v1/insights/themes/"


def get(client, token, **params):
    return client.get(URL, params, headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"})


@pytest.fixture
def survey():
    """100 answers in November (99 comments), 100 in October; themes of delivery, the hotline,
    praise and prices (which nobody mentions)."""
    survey = make_survey(kind="nps")
    answers(
        survey,
        NOVEMBER,
        [
            *[(2, "Lieferung zu spät")] * 30,
            *[(10, "Lieferung pünktlich")] * 10,
            *[(5, "Hotline unfreundlich")] * 10,
            *[(9, "Alles bestens")] * 49,
            (8, ""),
        ],
    )
    answers(survey, OCTOBER, [*[(2, "Lieferung zu spät")] * 5, *[(9, "Alles bestens")] * 95])
    for name, include in (
        ("Lieferung", "liefer*"),
        ("Hotline", "hotline"),
        ("Lob", "bestens"),
        ("Preis", "preis*"),
    ):
        matched(Theme.objects.create(name=name, include=include))
    return survey


@pytest.fixture
def token(cx_manager):
    return make_api_token(user=cx_manager)


def test_each_themes_figures_are_the_hand_computed_ones_costliest_first(client, token, survey):
    answered = get(client, token, survey=survey.pk, **PERIOD)
    assert answered.status_code == 200
    body = answered.json()
    assert {key: body[key] for key in ("survey", "kind", "since", "until", "comments")} == {
        "survey": survey.pk,
        "kind": "nps",
        **PERIOD,
        "comments": 99,
    }
    assert body["previous"] == {"since": "2026-10-02", "until": "2026-10-31", "comments": 100}
    by_name = {row["name"]: row for row in body["themes"]}
    assert [row["name"] for row in body["themes"]] == ["Lieferung", "Hotline", "Lob", "Preis"]
    delivery = by_name["Lieferung"]
    assert delivery["id"] == Theme.objects.get(name="Lieferung").pk
    assert (delivery["comments"], delivery["previous_comments"]) == (40, 5)
    assert delivery["share"] == pytest.approx(100 * 40 / 99)
    assert delivery["previous_share"] == pytest.approx(5.0)
    # 30 detractors and 10 promoters: NPS −50 among its answers.
    assert delivery["metric"] == summary_json(summarise("nps", Counter({2: 30, 10: 10})))
    assert (delivery["metric"]["responses"], delivery["metric"]["nps"]) == (40, -50.0)
    # Its 30 detractors as passives: 100 · 30 / 100 points, Wilson's 95 % interval of 30 in 100.
    assert delivery["impact"] == pytest.approx(30.0)
    assert delivery["impact_ci95"] == pytest.approx([21.89, 39.59], abs=0.01)
    # 40 of 99 against 5 of 100, pooled 45 / 199.
    assert (delivery["change_z"], delivery["change"]) == (pytest.approx(5.9694, abs=1e-4), "rising")
    hotline = by_name["Hotline"]
    assert (hotline["comments"], hotline["impact"], hotline["previous_share"]) == (10, 10.0, 0.0)
    assert (hotline["change_z"], hotline["change"]) == (pytest.approx(3.2612, abs=1e-4), "rising")
    praise = by_name["Lob"]
    assert (praise["comments"], praise["previous_comments"], praise["impact"]) == (49, 95, 0.0)
    assert praise["change"] == "falling" and praise["change_z"] < -1.96
    prices = by_name["Preis"]
    assert (prices["comments"], prices["share"], prices["metric"]["nps"]) == (0, 0.0, None)
    assert (prices["change_z"], prices["change"]) == (None, None)


def test_the_filters_narrow_the_answers(client, token, survey):
    body = get(client, token, survey=survey.pk, since="2026-11-01", until="2026-11-09").json()
    assert body["comments"] == 0
    assert {row["name"]: row["comments"] for row in body["themes"]} == dict.fromkeys(
        ["Lieferung", "Hotline", "Lob", "Preis"], 0
    )
    assert all(row["share"] is None for row in body["themes"])


def test_without_themes_the_list_is_empty(client, token, survey):
    Theme.objects.all().delete()
    body = get(client, token, survey=survey.pk, **PERIOD).json()
    assert (body["themes"], body["comments"], body["previous"]["comments"]) == ([], None, None)


def test_the_schema_documents_it(admin_client):
    schema = admin_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"][URL]["get"]
    assert {"survey", "since", "until", "touchpoint", "tag", "theme"} <= {
        p["name"] for p in operation["parameters"]
    }
    assert "impact" in operation["description"]
