"""``GET /api/v1/insights/tone/``: how far the tone agrees with the score, and how many of the
filtered comments have each tone or disagree with their score, with the metrics API's checks."""

from datetime import date, datetime

import pytest

from insights.models import ResponseTone, ToneLexicon
from tests.factories import make_api_token, make_survey
from tests.feedback.pages import BERLIN, answer

pytestmark = pytest.mark.django_db

URL = "/api/v1/insights/tone/"
PERIOD = {"since": "2026-11-01", "until": "2026-11-30"}
DAY = date(2026, 11, 10)


def get(client, token, **params):
    return client.get(URL, params, headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"})


@pytest.fixture
def survey():
    """November's answers with their tones: two disagreements, agreeing ones, a neutral one, one
    without a tone yet and one in English; one of October's disagrees too."""
    survey = make_survey(kind="nps")
    for hour, (score, comment, value, language, day) in enumerate(
        [
            (9, "Leider kaputt", -1.2, "de", DAY),  # disagrees
            (3, "Fahrer sehr nett", 0.9, "de", DAY),  # disagrees
            (2, "Kaputt und spät", -1.5, "de", DAY),
            (10, "Alles prima", 1.4, "de", DAY),
            (7, "Hotline besetzt", -0.8, "de", DAY),  # a passive's: disagrees with nothing
            (9, "Paket kam", 0.5, "de", DAY),  # neutral: the bound is neutral too
            (1, "Noch ohne Tonfall", None, "de", DAY),
            (10, "Broken, sadly", -2.0, "en", DAY),  # disagrees
            (0, "Wieder kaputt", 1.0, "de", date(2026, 10, 20)),  # disagrees, in October
        ]
    ):
        response = answer(survey, score, day, hour=8 + hour, comment=comment, language=language)
        if value is not None:
            ResponseTone.objects.create(response=response, value=value)
    return survey


@pytest.fixture
def token(cx_manager):
    return make_api_token(user=cx_manager)


def test_the_comments_tones_and_disagreements_are_counted(client, token, survey):
    answered = get(client, token, survey=survey.pk, **PERIOD)
    assert answered.status_code == 200
    body = answered.json()
    assert {key: body[key] for key in ("survey", "since", "until", "language", "lexicons")} == {
        "survey": survey.pk,
        **PERIOD,
        "language": None,
        "lexicons": [],
    }
    assert body["comments"] == {"toned": 7, "positive": 2, "neutral": 1, "negative": 4, "disagree": 3}


def test_one_language_counts_its_comments_alone(client, token, survey):
    body = get(client, token, survey=survey.pk, language="en", **PERIOD).json()
    assert body["language"] == "en"
    assert body["comments"] == {"toned": 1, "positive": 0, "neutral": 0, "negative": 1, "disagree": 1}


def test_each_lexicons_agreement_on_held_out_answers_is_given(client, token, survey):
    learned = datetime(2026, 11, 30, 3, 0, tzinfo=BERLIN)
    ToneLexicon.objects.create(
        language="de", learned_at=learned, comments=800, held_out=40, agreeing=30, neutral=6
    )
    ToneLexicon.objects.create(language="en", learned_at=learned)
    de, en = get(client, token, survey=survey.pk, **PERIOD).json()["lexicons"]
    # 30 of 40: Wilson's 95 % interval 59.8–85.8 %; 6 of 40 neutral.
    assert de["agreement_ci95"] == pytest.approx([59.81, 85.81], abs=0.01)
    del de["agreement_ci95"]
    assert de == {
        "language": "de",
        "learned_at": "2026-11-30T02:00:00Z",
        "comments": 800,
        "held_out": 40,
        "agreement": 75.0,
        "neutral": 15.0,
    }
    assert (en["held_out"], en["agreement"], en["agreement_ci95"], en["neutral"]) == (0, None, None, None)


def test_the_schema_documents_it(admin_client):
    schema = admin_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"][URL]["get"]
    assert {"survey", "language", "since", "until", "theme"} <= {p["name"] for p in operation["parameters"]}
    assert "held-out" in operation["description"]
